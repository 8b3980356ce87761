"""Optimizers and gradient clipping on flat parameter vectors.

The network keeps all its parameters in one contiguous vector (and its
gradients in another), so an update is a handful of whole-vector NumPy
operations whatever the number of layers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["OPTIMIZERS", "Adagrad", "Adam", "clip_grad_norm_"]


def clip_grad_norm_(grads, max_norm):
    """Scale ``grads`` in place so that its L2 norm is at most ``max_norm``.

    Returns the norm before clipping.
    """
    norm = float(np.sqrt(np.dot(grads, grads)))
    if max_norm is not None and norm > max_norm:
        grads *= max_norm / (norm + 1e-6)
    return norm


class _Optimizer:
    """What both optimizers share: a step counter and one scratch vector, not pickled."""

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate
        self.t = 0
        self._tmp = None

    def _scratch(self, params):
        """Count the step and return the scratch vector (shaped like ``params``)."""
        if self._tmp is None or self._tmp.shape != params.shape:
            self._tmp = np.empty_like(params)
        self.t += 1
        return self._tmp

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_tmp"] = None
        return state


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction.

    Parameters
    ----------
    n_params : int
    learning_rate : float
    beta1, beta2, eps : float
    dtype : dtype of the moment vectors
    """

    def __init__(
        self, n_params, learning_rate=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, dtype=np.float32
    ):
        super().__init__(learning_rate)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = np.zeros(n_params, dtype=dtype)
        self.v = np.zeros(n_params, dtype=dtype)

    def step(self, params, grads):
        """One update of ``params`` in place (``grads`` is left unchanged)."""
        tmp = self._scratch(params)
        b1, b2 = self.beta1, self.beta2
        self.m *= b1
        np.multiply(grads, 1.0 - b1, out=tmp)
        self.m += tmp
        np.multiply(grads, grads, out=tmp)
        tmp *= 1.0 - b2
        self.v *= b2
        self.v += tmp
        # Bias corrections folded into the step size and epsilon.
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        step = self.learning_rate * np.sqrt(c2) / c1
        np.sqrt(self.v, out=tmp)
        tmp += self.eps * np.sqrt(c2)
        np.divide(self.m, tmp, out=tmp)
        tmp *= step
        params -= tmp


class Adagrad(_Optimizer):
    """Adagrad, as in min-char-rnn: ``p -= lr * g / sqrt(sum of past g^2 + eps)``.

    Parameters
    ----------
    n_params : int
    learning_rate : float
    eps : float
    dtype : dtype of the accumulator
    """

    def __init__(self, n_params, learning_rate=0.1, eps=1e-8, dtype=np.float32):
        super().__init__(learning_rate)
        self.eps = eps
        self.cache = np.zeros(n_params, dtype=dtype)

    def step(self, params, grads):
        """One update of ``params`` in place (``grads`` is left unchanged)."""
        tmp = self._scratch(params)
        np.multiply(grads, grads, out=tmp)
        self.cache += tmp
        np.add(self.cache, self.eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(grads, tmp, out=tmp)
        tmp *= self.learning_rate
        params -= tmp


OPTIMIZERS = {"adam": Adam, "adagrad": Adagrad}
