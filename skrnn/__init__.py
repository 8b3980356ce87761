"""skrnn: recurrent neural networks as scikit-learn estimators.

* :class:`~skrnn.CharRNNGenerator`: a character-level language model (RNN, LSTM,
  GRU) written in NumPy.
* :class:`~skrnn.LSTMSentimentClassifier`: a Keras 3 LSTM text classifier that
  takes raw text.
* :func:`~skrnn.make_tfidf_baseline`: the TF-IDF + LogisticRegression baseline.

Importing ``skrnn`` is light: the public names are loaded on first use, and
TensorFlow only when the Keras classifier fits, predicts or loads.
"""

import importlib

__version__ = "0.1.0"

# Public name -> module that defines it. Loaded on first attribute access so
# that `import skrnn` costs nothing and never pulls in TensorFlow.
_EXPORTS = {
    "CharRNNGenerator": "skrnn.char_rnn",
    "LSTMSentimentClassifier": "skrnn.sentiment",
    "make_tfidf_baseline": "skrnn.baseline",
    "make_nb_baseline": "skrnn.baseline",
    "load_imdb": "skrnn.datasets",
    "load_tiny_shakespeare": "skrnn.datasets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skrnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
