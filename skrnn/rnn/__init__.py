"""The NumPy recurrent math behind :class:`skrnn.CharRNNGenerator` (no estimator code).

* :mod:`skrnn.rnn.cells`: tanh RNN, LSTM and GRU layers, forward and backward
  over a whole window of ``T`` steps for ``B`` parallel streams.
* :mod:`skrnn.rnn.network`: :class:`CharRNN`, the stacked network with row
  lookup input, dropout between layers and a softmax output, its parameters in
  one flat vector.
* :mod:`skrnn.rnn.optim`: Adam, Adagrad and global-norm gradient clipping.
* :mod:`skrnn.rnn.sampling` and :mod:`skrnn.rnn.inference`: drawing text
  from the network, and reading text with it (likelihoods, next-symbol logits).
* :mod:`skrnn.rnn.parallel`: processes and BLAS threads (``n_jobs``), and
  when a second process pays.
* :mod:`skrnn.rnn.split_batch` and :mod:`skrnn.rnn.split_step`: training
  windows and generation steps shared with a second, forked process, so that
  both cores of a 2-core machine work (helpers in :mod:`skrnn.rnn._fork`).
"""

from ._fork import SecondProcessError
from .cells import CELLS, GRULayer, LSTMLayer, RNNLayer
from .network import CharRNN
from .optim import OPTIMIZERS, Adagrad, Adam, clip_grad_norm_

__all__ = [
    "CELLS",
    "OPTIMIZERS",
    "Adagrad",
    "Adam",
    "CharRNN",
    "GRULayer",
    "LSTMLayer",
    "RNNLayer",
    "SecondProcessError",
    "clip_grad_norm_",
]
