"""A stacked recurrent language model over symbol ids: lookup input, RNN layers, softmax output.

``CharRNN`` holds all its parameters in one flat vector (``params``) and its
gradients in another (``grads``); each layer's weights are views into them, so
optimizers, clipping and pickling work on a single array.

One training step on a window::

    ids (T, B) --row lookup--> layer 1 --dropout--> ... layer L --dropout--> Y (T, B, H)
    logits = Y @ Wy + by          (one GEMM over the window)
    loss   = mean cross-entropy of the next ids, in nats

and back, each layer's backward pass taking the whole window at once.
"""

from __future__ import annotations

import math

import numpy as np

from .cells import CELLS

__all__ = ["CharRNN", "stream_blocks"]


def stream_blocks(n_streams, n_blocks):
    """Sizes of the blocks of streams whose dropout masks come from one generator each.

    One block, or two: the first ``B - B // 2`` streams and the last ``B // 2``
    (the halves that :mod:`skrnn.rnn.split_batch` gives to two processes), so
    that the masks do not depend on how many processes train.
    """
    if n_blocks == 1:
        return [n_streams]
    if n_blocks == 2:
        return [n_streams - n_streams // 2, n_streams // 2]
    raise ValueError(f"dropout draws from 1 or 2 generators, got {n_blocks}.")


class CharRNN:
    """Stacked recurrent network predicting the next symbol.

    Parameters
    ----------
    n_symbols : int
        Vocabulary size (inputs and outputs).
    hidden_size : int
    n_layers : int, default=1
    cell : {"rnn", "lstm", "gru"}, default="lstm"
    dropout : float, default=0.0
        Inverted dropout on the output of every recurrent layer (the input of
        the next layer and of the softmax), during training only.
    dtype : dtype, default=float32
    """

    def __init__(
        self, n_symbols, hidden_size, n_layers=1, cell="lstm", dropout=0.0, dtype=np.float32
    ):
        self.n_symbols = int(n_symbols)
        self.hidden_size = int(hidden_size)
        self.n_layers = int(n_layers)
        self.cell = cell
        self.dropout = float(dropout)
        self.dtype = np.dtype(dtype)
        layer_cls = CELLS[cell]
        self.layers = [
            layer_cls(
                self.n_symbols if i == 0 else self.hidden_size,
                self.hidden_size,
                lookup=(i == 0),
                dtype=self.dtype,
            )
            for i in range(self.n_layers)
        ]
        self.n_params = self.count_params(self.n_symbols, self.hidden_size, self.n_layers, cell)
        self.params = np.zeros(self.n_params, dtype=self.dtype)
        self.grads = np.zeros(self.n_params, dtype=self.dtype)
        self._bind()
        self._workspaces = {}

    @staticmethod
    def count_params(n_symbols, hidden_size, n_layers, cell):
        """Parameters of a network of this shape, computed without allocating it."""
        layer_cls = CELLS[cell]
        count = (hidden_size + 1) * n_symbols
        for i in range(n_layers):
            layer = layer_cls(n_symbols if i == 0 else hidden_size, hidden_size, lookup=(i == 0))
            count += sum(math.prod(shape) for _, shape in layer.param_shapes())
        return count

    # -- parameters ---------------------------------------------------------
    def _bind(self):
        """Create the per-layer views into ``params`` and ``grads``."""
        offset = 0
        for layer in self.layers:
            end = offset + layer.n_params()
            layer.bind(self.params[offset:end], self.grads[offset:end])
            offset = end
        H, V = self.hidden_size, self.n_symbols
        self.Wy = self.params[offset : offset + H * V].reshape(H, V)
        self.dWy = self.grads[offset : offset + H * V].reshape(H, V)
        self.by = self.params[offset + H * V :]
        self.dby = self.grads[offset + H * V :]

    def named_params(self):
        """``[(name, view), ...]`` for every parameter, e.g. ``("layer0.Wh", array)``."""
        out = []
        for i, layer in enumerate(self.layers):
            out += [(f"layer{i}.{name}", getattr(layer, name)) for name, _ in layer.param_shapes()]
        return [*out, ("Wy", self.Wy), ("by", self.by)]

    def init_params(self, rng):
        """Random initial weights from the ``numpy.random.Generator`` ``rng``."""
        for layer in self.layers:
            layer.init_params(rng)
        k = 1.0 / np.sqrt(self.hidden_size)
        self.Wy[...] = rng.uniform(-k, k, size=self.Wy.shape)
        self.by[...] = 0.0
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        for key in ("grads", "Wy", "by", "dWy", "dby"):
            state.pop(key, None)
        state["_workspaces"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.grads = np.zeros_like(self.params)
        self._bind()

    def inference_copy(self):
        """A network sharing this one's parameters, with work arrays of its own.

        Inference (:meth:`forward`, :meth:`step`, :meth:`log_likelihood`)
        writes only to work arrays, so copies made per call, or per thread,
        run side by side on one set of weights. Not for training: the
        gradients are shared too.
        """
        other = object.__new__(type(self))  # not copy.copy: __getstate__ drops the weight views
        other.__dict__.update(self.__dict__)
        other._workspaces = {}
        other.layers = [layer.inference_copy() for layer in self.layers]
        return other

    def release(self):
        """Free every work array (they are re-created when needed)."""
        self._workspaces = {}
        for layer in self.layers:
            layer.release()

    # -- state ----------------------------------------------------------------
    def zero_state(self, batch_size):
        """The initial recurrent state for ``batch_size`` streams: one list of arrays per layer."""
        return [layer.zero_state(batch_size) for layer in self.layers]

    # -- forward / backward -----------------------------------------------------
    def _buffers(self, T, B):
        key = (T, B)
        ws = self._workspaces.get(key)
        if ws is None:
            if len(self._workspaces) >= 4:
                self._workspaces.clear()
            H, V, dt = self.hidden_size, self.n_symbols, self.dtype
            ws = {
                "Z": np.empty((T * B, V), dt),
                "P": np.empty((T * B, V), dt),
                "dY": np.empty((T, B, H), dt),
                "idx": np.arange(T * B),
            }
            if self.dropout > 0:
                ws["U"] = [np.empty((T, B, H), dt) for _ in self.layers]  # uniforms, then masks
                ws["D"] = [np.empty((T, B, H), dt) for _ in self.layers]  # dropped outputs
            self._workspaces[key] = ws
        return ws

    def forward(self, x, state, *, train=False, rng=None):
        """Run ``x`` (``(T, B)`` ids) through the layers; return the top outputs ``(T, B, H)``.

        ``state`` is updated in place to the state after the last step. With
        ``train=True`` and dropout, ``rng`` (a generator, or a list of them as
        in :meth:`loss_and_grads`) draws the dropout masks.
        """
        T, B = x.shape
        ws = self._buffers(T, B) if (train and self.dropout > 0) else None
        h = x
        for i, layer in enumerate(self.layers):
            h = layer.forward(h, state[i], train=train)
            if ws is not None:
                mask, dropped = ws["U"][i], ws["D"][i]
                self._draw_uniforms(rng, mask)
                keep = 1.0 - self.dropout
                # mask = [u < keep] / keep: the expected activation is unchanged.
                np.less(mask, keep, out=mask, casting="unsafe")
                mask *= 1.0 / keep
                np.multiply(h, mask, out=dropped)
                h = dropped
        return h

    def _draw_uniforms(self, rng, out):
        """Fill ``out`` ``(T, B, H)`` with uniforms.

        From ``rng``, or block by block of streams from a list of generators.
        """
        rngs = [rng] if isinstance(rng, np.random.Generator) else list(rng)
        if len(rngs) == 1:
            rngs[0].random(out=out, dtype=out.dtype)
            return
        T, B, H = out.shape
        lo = 0
        for generator, size in zip(rngs, stream_blocks(B, len(rngs)), strict=True):
            block = np.empty((T, size, H), out.dtype)  # contiguous, as the block's process draws it
            generator.random(out=block, dtype=out.dtype)
            out[:, lo : lo + size] = block
            lo += size

    def step_state(self, state):
        """Copy a :meth:`forward` state into the layout :meth:`step` updates in place."""
        return [layer.step_state(s) for layer, s in zip(self.layers, state, strict=True)]

    def step(self, ids, step_state):
        """One step for ``B`` streams; returns the logits ``(B, n_symbols)``.

        ``ids`` has shape ``(B,)``. ``step_state`` (from :meth:`step_state`) is
        updated in place. This is the generation path: a few small products per
        layer and no window bookkeeping.
        """
        h = ids
        for layer, s in zip(self.layers, step_state, strict=True):
            h = layer.step(h, *s)
        return self.logits(h)

    def logits(self, Y, out=None):
        """``Y @ Wy + by`` for ``Y`` of shape ``(N, H)``."""
        out = np.matmul(Y, self.Wy, out=out)
        out += self.by
        return out

    def loss_and_grads(self, x, y, state, rng=None):
        """Mean cross-entropy (nats per symbol) of predicting ``y`` from ``x``; fills ``grads``.

        Parameters
        ----------
        x, y : ndarray of shape (T, B), integer ids
            Inputs and next-symbol targets of one window of ``B`` streams.
        state : list
            The state carried in from the previous window (updated in place).
        rng : numpy.random.Generator or list of them, optional
            Draws the dropout masks (needed when ``dropout > 0``); a list of
            two draws the masks of each half of the streams
            (:func:`stream_blocks`).
        """
        T, B = x.shape
        N = T * B
        H = self.hidden_size
        ws = self._buffers(T, B)
        Y = self.forward(x, state, train=True, rng=rng)
        Y2 = Y.reshape(N, H)
        Z, P, idx = ws["Z"], ws["P"], ws["idx"]
        yi = y.reshape(N)
        # Softmax cross-entropy, shifted by the row maximum for stability.
        self.logits(Y2, out=Z)
        Z -= Z.max(axis=1, keepdims=True)
        np.exp(Z, out=P)
        s = P.sum(axis=1)
        loss = float(np.log(s).sum() - Z[idx, yi].sum()) / N
        # dloss/dlogits = (softmax - onehot) / N
        P /= s[:, None]
        P[idx, yi] -= 1.0
        P *= 1.0 / N
        np.matmul(Y2.T, P, out=self.dWy)
        np.sum(P, axis=0, out=self.dby)
        dH = ws["dY"]
        np.matmul(P, self.Wy.T, out=dH.reshape(N, H))
        for i in range(self.n_layers - 1, -1, -1):
            if self.dropout > 0:
                dH *= ws["U"][i]
            dH = self.layers[i].backward(dH)
        return loss

    def log_likelihood(self, x, y, state):
        """``log p(y[t, b] | x[:t+1, b], state)`` in nats, shape ``(T, B)``, without dropout.

        ``state`` is updated in place, so consecutive windows can be chained.
        """
        T, B = x.shape
        N = T * B
        Y2 = self.forward(x, state).reshape(N, self.hidden_size)
        ws = self._buffers(T, B)
        Z = self.logits(Y2, out=ws["Z"])
        Z -= Z.max(axis=1, keepdims=True)
        P = np.exp(Z, out=ws["P"])
        logp = Z[ws["idx"], y.reshape(N)] - np.log(P.sum(axis=1))
        return logp.reshape(T, B)
