"""Recurrent layers (tanh RNN, LSTM, GRU) run forward and backward over a whole window.

Every layer works on a window of ``T`` time steps for ``B`` parallel streams:

* the input ``x`` is either a ``(T, B)`` array of symbol ids (the first layer:
  its input weights ``Wx`` have one row per symbol, so the input projection of
  a one-hot vector is a row lookup) or the ``(T, B, D)`` outputs of the layer
  below;
* the gate weights are fused, torch-rnn style: ``Wx`` is ``(D, G*H)`` and
  ``Wh`` is ``(H, G*H)`` for ``G`` gates, so a time step is one product;
* the bias ``b`` is stored right after ``Wh``, so ``[Wh; b]`` is one
  ``(H + 1, G*H)`` matrix, and the hidden states are stored with a constant
  1 in an extra last column: ``[h, 1] @ [Wh; b]`` adds the bias for free, and
  ``dWh`` and ``db`` come out of the same GEMM;
* :meth:`forward` projects the whole window's input in one GEMM (or one row
  lookup) before the time loop; only ``h_{t-1} @ Wh`` is per step. When
  training, it also stores, per step and while the data is in cache, every
  backward factor that does not depend on the recurrence (the gate
  derivatives), so that the backward time loop is a handful of in-place
  products plus ``dG_t @ Wh.T``;
* :meth:`backward` ends with one GEMM per weight matrix over the stacked
  window;
* the LSTM keeps the fused parameters but runs its window gate-major (see
  :class:`LSTMLayer`): NumPy's element-wise operations are ~3x faster on
  whole contiguous ``(B, H)`` blocks than on column slices of ``(B, 4H)``
  rows, and they are most of a time step's work.

Gradients are truncated at the window's start (truncated BPTT): the state
carried in from the previous window is a constant.

All work arrays are preallocated per ``(T, B)`` and reused; they are not part
of a layer's pickled state.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["CELLS", "GRULayer", "LSTMLayer", "RNNLayer", "sigmoid_"]


def sigmoid_(x):
    """Logistic sigmoid in place: ``0.5 * tanh(0.5 x) + 0.5``.

    One vectorised transcendental and no overflow for large ``|x|``, unlike
    ``1 / (1 + exp(-x))``.
    """
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


class _Layer:
    """What the three cells share.

    Parameters, work arrays, the input projection and the weight gradients.
    """

    n_gates = 1
    n_state = 1  # arrays of recurrent state per stream (LSTM: h and c)
    name = "layer"

    def __init__(self, input_size, hidden_size, *, lookup=False, dtype=np.float32):
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.lookup = bool(lookup)
        self.dtype = np.dtype(dtype)
        self._workspaces = {}

    # -- parameters ---------------------------------------------------------
    def param_shapes(self):
        """``[(name, shape), ...]``: the layout of this layer's slice of the flat parameter vector.

        ``b`` must directly follow ``Wh``: together they are the ``(H + 1, G*H)`` matrix ``Whb``.
        """
        gh = self.n_gates * self.hidden_size
        return [("Wx", (self.input_size, gh)), ("Wh", (self.hidden_size, gh)), ("b", (gh,))]

    def bind(self, params, grads):
        """Attach views into this layer's slices of the network's flat parameters and gradients."""
        offset = 0
        for name, shape in self.param_shapes():
            size = int(np.prod(shape))
            setattr(self, name, params[offset : offset + size].reshape(shape))
            setattr(self, "d" + name, grads[offset : offset + size].reshape(shape))
            if name == "Wh":
                whb = slice(offset, offset + size + shape[1])
                self.Whb = params[whb].reshape(shape[0] + 1, shape[1])
                self.dWhb = grads[whb].reshape(shape[0] + 1, shape[1])
            offset += size

    def n_params(self):
        return sum(int(np.prod(shape)) for _, shape in self.param_shapes())

    def init_params(self, rng):
        # Uniform(-1/sqrt(H), 1/sqrt(H)) for the weights, as PyTorch's RNN layers; zero biases.
        # The rows of a lookup layer's Wx are embeddings of one-hot inputs: they
        # get Uniform(-1, 1) (std 0.58), the spread of PyTorch's N(0, 1)
        # embedding of size H followed by its input weights, so the input
        # signal is not 10x weaker than the recurrent one at the start.
        k = 1.0 / np.sqrt(self.hidden_size)
        for name, shape in self.param_shapes():
            p = getattr(self, name)
            if name.startswith("W"):
                scale = 1.0 if (name == "Wx" and self.lookup) else k
                p[...] = rng.uniform(-scale, scale, size=shape)
            else:
                p[...] = 0.0

    def zero_state(self, batch_size):
        return [
            np.zeros((batch_size, self.hidden_size), dtype=self.dtype) for _ in range(self.n_state)
        ]

    # -- work arrays --------------------------------------------------------
    # Arrays with a leading time axis; "H" holds T + 1 steps.
    _per_step = frozenset({"H", "G", "dG", "GH", "A", "F", "dX"})
    _gate_major = frozenset()  # per-step arrays with the gate axis first: (n_gates, T, B, H)

    def _buffers(self, T, B):
        """Work arrays for ``T`` steps and ``B`` streams.

        Views of a longer window's when possible.
        """
        ws = self._workspaces.get(B)
        if ws is None or ws["T"] < T:
            if len(self._workspaces) >= 3:  # training, validation and sampling shapes
                self._workspaces.clear()
            ws = self._allocate(T, B)
            ws["T"] = T
            self._workspaces[B] = ws
        if ws["T"] == T:
            return ws
        # A shorter window (the end of an epoch): leading-axis views stay contiguous.
        return {k: self._first_steps(k, v, T) for k, v in ws.items()}

    def _first_steps(self, key, v, T):
        if key in self._gate_major:
            return v[:, :T]
        if key in self._per_step:
            return v[: T + 1] if key == "H" else v[:T]
        return v

    def _allocate(self, T, B):
        H, GH, D, dt = (
            self.hidden_size,
            self.n_gates * self.hidden_size,
            self.input_size,
            self.dtype,
        )
        ws = {
            # H[0] is the carried-in state, H[t+1] = h_t; the last column is a constant 1
            # (the bias input).
            "H": np.empty((T + 1, B, H + 1), dt),
            "G": np.empty((T, B, GH), dt),  # gate pre-activations, then activations
            # backward factors, then gradients w.r.t. pre-activations
            "dG": np.empty((T, B, GH), dt),
            "tmpG": np.empty((B, GH), dt),
            "tmpH": np.empty((B, H), dt),
            "dh": np.empty((B, H), dt),
        }
        ws["H"][..., H] = 1.0
        if not self.lookup:
            ws["dX"] = np.empty((T, B, D), dt)
        return ws

    def release(self):
        """Free the work arrays (they are re-created on the next call)."""
        self._workspaces = {}
        self._step_ws = None
        self._scaled = None

    def inference_copy(self):
        """A layer sharing this one's weights, with work arrays of its own.

        See :meth:`CharRNN.inference_copy`.
        """
        other = object.__new__(type(self))  # not copy.copy: __getstate__ drops the weight views
        other.__dict__.update(self.__dict__)
        for key in ("_ws", "_x"):  # the last training window's, which only backward reads
            other.__dict__.pop(key, None)
        other.release()
        return other

    # -- one step at a time (generation) ---------------------------------------
    unit_offset = 0  # the first unit a shard steps (see unit_shard)
    _step_ws = None

    def unit_shard(self, lo, hi):
        """A copy of this layer that steps units ``lo:hi`` only (generation on several processes).

        Its :meth:`step` reads the whole ``[h_{t-1}, 1]`` of the full layer and
        writes the new ``h`` of its units to ``out``. It holds copies of the
        weights' columns of those units (every gate), so a process stepping it
        reads only its share of the weights. Not for training.
        """
        H, n_gates = self.hidden_size, self.n_gates
        cols = (np.arange(n_gates)[:, None] * H + np.arange(lo, hi)).ravel()
        shard = object.__new__(type(self))
        shard.__dict__.update(
            input_size=self.input_size,
            hidden_size=hi - lo,
            lookup=self.lookup,
            dtype=self.dtype,
            unit_offset=lo,
            _workspaces={},
        )
        shard.Wx = np.ascontiguousarray(self.Wx[:, cols])
        shard.Whb = np.ascontiguousarray(self.Whb[:, cols])
        return shard

    def step_state(self, state):
        """Copy a :meth:`forward` state into the layout :meth:`step` updates in place.

        ``[h, 1]`` (with the bias input) then, for the LSTM, ``c``.
        """
        h = state[0]
        hb = np.ones((h.shape[0], self.hidden_size + 1), dtype=self.dtype)
        hb[:, : self.hidden_size] = h
        return [hb] + [s.copy() for s in state[1:]]

    def _step_buffers(self, B):
        ws = self._step_ws
        if ws is None or ws["B"] != B:
            GH, H, dt = self.n_gates * self.hidden_size, self.hidden_size, self.dtype
            ws = self._step_ws = {
                "B": B,
                "g": np.empty((B, GH), dt),
                "gi": np.empty((B, GH), dt),
                "tmpH": np.empty((B, H), dt),
                "tmpH2": np.empty((B, H), dt),
                "flip": False,
            }
            # Each gate's (B, H) block, made once: views cost as much as a small ufunc call.
            ws["gates"] = [ws["g"][:, k * H : (k + 1) * H] for k in range(self.n_gates)]
        return ws

    def step_recurrent(self, hb):
        """The half of a step that needs no input: ``[h, 1] @ [Wh; b]`` into the step buffer.

        A :meth:`step` with ``recurrent_done=True`` then adds the input's part.
        (:mod:`skrnn.rnn.split_step` computes it ahead, while waiting for the input.)
        """
        np.matmul(hb, self.Whb, out=self._step_buffers(len(hb))["g"])

    def bind_step(self, x, hb, state, out, recurrent_done=False):
        """A function of no arguments doing ``step(x, hb, *state, out=out, recurrent_done=...)``.

        For a loop that steps the same arrays again and again (generation on
        several processes, :mod:`skrnn.rnn.split_step`): what can be looked up
        once is.
        """
        return functools.partial(self.step, x, hb, *state, out=out, recurrent_done=recurrent_done)

    def _input_product(self, x, ws):
        """``x @ Wx`` (a row lookup for ids) into ``ws["gi"]``."""
        gi = ws["gi"]
        if self.lookup:
            np.take(self.Wx, x, axis=0, out=gi, mode="clip")
        else:
            np.matmul(x, self.Wx, out=gi)
        return gi

    def _step_gates(self, x, hb, ws, recurrent_done=False):
        """``[h, 1] @ [Wh; b] + x @ Wx`` for one step, in ``ws["g"]``."""
        g = ws["g"]
        if recurrent_done or self.lookup:
            if not recurrent_done:
                np.matmul(hb, self.Whb, out=g)
            gi = self._input_product(x, ws)
        else:
            # Two (B, 4H)-sized products that read this layer's 2 matrices. Stacked layers
            # together outgrow a core's L2 cache (3 MB for two LSTM-256 layers), so every
            # step would read them all from L3. Alternating the order of the two products
            # makes the matrix read last this step the first one read next step, while it
            # is still in L2. (The sum is the same either way: addition commutes exactly.)
            ws["flip"] = flip = not ws["flip"]
            if flip:
                gi = self._input_product(x, ws)
                np.matmul(hb, self.Whb, out=g)
            else:
                np.matmul(hb, self.Whb, out=g)
                gi = self._input_product(x, ws)
        g += gi
        return g

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_workspaces"] = {}
        state.pop("_ws", None)  # the last window's work arrays and input
        state.pop("_step_ws", None)
        state.pop("_scaled", None)
        state.pop("_x", None)
        # Views into the network's flat vectors.
        for name, _ in [*self.param_shapes(), ("Whb", None)]:
            state.pop(name, None)
            state.pop("d" + name, None)
        return state

    # -- shared pieces of forward / backward ----------------------------------
    def _start(self, x, state):
        """Work arrays for this window.

        With the input projection ``x @ Wx`` in ``G`` and the state in ``H[0]``.
        """
        T, B = x.shape[:2]
        H, GH = self.hidden_size, self.n_gates * self.hidden_size
        ws = self._ws = self._buffers(T, B)
        self._x = x
        G = ws["G"]
        Wx, Whb = self._forward_weights()
        if self.lookup:
            np.take(Wx, x, axis=0, out=G, mode="clip")  # row lookup = one-hot product
        else:
            np.matmul(x.reshape(T * B, -1), Wx, out=G.reshape(T * B, GH))
        ws["H"][0, :, :H] = state[0]
        return ws, Whb

    def _forward_weights(self):
        """``(Wx, [Wh; b])`` as the forward time loop uses them (the LSTM rescales some columns)."""
        return self.Wx, self.Whb

    def _weight_grads(self, dG, ws, dG_recurrent=None):
        """``[dWh; db]``, ``dWx`` as one GEMM each over the window; returns ``dX`` (None for ids).

        ``dG_recurrent`` is the gradient w.r.t. ``[h, 1] @ [Wh; b]`` when it
        differs from ``dG``'s (GRU).
        """
        T, B, GH = dG.shape
        dG2 = dG.reshape(T * B, GH)
        dGr = dG2 if dG_recurrent is None else dG_recurrent.reshape(T * B, GH)
        np.matmul(ws["H"][:T].reshape(T * B, -1).T, dGr, out=self.dWhb)
        x = self._x
        if self.lookup:
            # Embedding gradient: row v of dWx sums the rows of dG where the input id is v.
            # One masked sum per symbol present is ~10x faster than np.add.at here
            # (measured: 2.8 ms vs 39 ms for 6,400 ids, 65 symbols, 1,024 columns).
            ids = x.reshape(-1)
            self.dWx[...] = 0.0
            for v in np.flatnonzero(np.bincount(ids, minlength=self.input_size)):
                np.sum(dG2[ids == v], axis=0, out=self.dWx[v])
            return None
        x2 = x.reshape(T * B, -1)
        np.matmul(x2.T, dG2, out=self.dWx)
        dX = ws["dX"]
        np.matmul(dG2, self.Wx.T, out=dX.reshape(T * B, -1))
        return dX


class RNNLayer(_Layer):
    """Elman RNN, as in min-char-rnn: ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``."""

    n_gates = 1
    name = "rnn"

    def forward(self, x, state, train=False):
        """Run the window; ``state`` (list of ``(B, H)`` arrays) is updated in place.

        ``state`` ends as the last step's. ``x`` is ``(T, B)`` ids or
        ``(T, B, D)`` inputs. Returns the ``(T, B, H)`` outputs (a view of a
        work array, valid until the next call). ``train=True`` stores what
        :meth:`backward` needs.
        """
        ws, Whb = self._start(x, state)
        Hs, G, dG, tmp = ws["H"], ws["G"], ws["dG"], ws["tmpG"]
        H = self.hidden_size
        for t in range(len(G)):
            g = G[t]
            np.matmul(Hs[t], Whb, out=tmp)
            g += tmp
            h = Hs[t + 1, :, :H]
            np.tanh(g, out=h)
            if train:  # tanh' = 1 - h^2
                d = dG[t]
                np.multiply(h, h, out=d)
                np.subtract(1.0, d, out=d)
        state[0][...] = Hs[-1, :, :H]
        return Hs[1:, :, :H]

    def step(self, x, hb, out=None, recurrent_done=False):
        """One step for ``B`` streams; ``[h, 1]`` is updated in place.

        ``x`` is ``(B,)`` ids or ``(B, D)``. Returns ``h`` (a view of ``hb``).
        With ``out``, the new ``h`` goes there instead and ``hb`` is only read
        (a :meth:`unit_shard`'s step). ``recurrent_done``:
        :meth:`step_recurrent` has already been called with ``hb``.
        """
        g = self._step_gates(x, hb, self._step_buffers(len(hb)), recurrent_done)
        h = hb[:, : self.hidden_size] if out is None else out
        np.tanh(g, out=h)
        return h

    def backward(self, dH):
        """Back-propagate ``dH`` through the last training window.

        ``dH`` is ``(T, B, H)`` and is modified in place. Fills this layer's
        gradients and returns ``dX`` for the layer below (None for ids).
        """
        ws = self._ws
        dG, dhn = ws["dG"], ws["dh"]
        T = dH.shape[0]
        WhT = self.Wh.T
        for t in range(T - 1, -1, -1):
            dh = dH[t]
            if t < T - 1:
                dh += dhn
            dG[t] *= dh
            if t > 0:
                np.matmul(dG[t], WhT, out=dhn)
        return self._weight_grads(dG, ws)


class LSTMLayer(_Layer):
    """LSTM with gates in the order ``[o, i, f, g]``.

    ``c_t = f * c_{t-1} + i * g`` and ``h_t = o * tanh(c_t)``. The forget-gate
    bias starts at 1 so that early training remembers.

    The parameters keep the fused layout (``Wx`` is ``(D, 4H)``, ``[Wh; b]`` is
    ``(H + 1, 4H)``), but the window's gate arrays are gate-major,
    ``(4, T, B, H)``: gate ``k`` of step ``t`` is the contiguous ``(B, H)``
    block ``G[k, t]``. NumPy's multiplications and additions on whole
    contiguous blocks are 2.5-3.5x faster than on ``(B, H)`` column slices of
    a ``(B, 4H)`` row-major array (measured with B = 64, H = 256; ``tanh`` is
    compute-bound either way), and the time loops are made of such operations.
    The price: the recurrent product stays one ``(B, H+1) x (H+1, 4H)`` GEMM
    per step (4 per-gate GEMMs were slower with 2 BLAS threads) whose result
    is added with a strided read, the backward step copies the gate gradients
    into fused ``(B, 4H)`` rows for its one GEMM, and the weights are copied
    gate-major once per window.

    All four activations come from one ``tanh`` per step:
    ``sigmoid(a) = 0.5 tanh(a / 2) + 0.5``, and the window runs with copies of
    the weights whose ``o, i, f`` blocks are halved (exact in floating point: a
    power of 2), so ``a / 2`` costs nothing per step.

    A step computes its gates, cell state and ``tanh(c)`` in one-step arrays
    that stay in cache; the window keeps only what the backward pass reads:
    ``h`` (for the weight gradients), the four backward factors (written over
    the step's input projection in ``G``), ``A`` and the forget gate ``F``.
    That is 7 ``(T, B, H)`` blocks instead of 12: at 32 streams per process the
    window's arrays outgrow the L2 cache, and writing a cold cache line costs
    more than the arithmetic on it (two processes: 3-9% faster windows).
    """

    n_gates = 4
    n_state = 2
    name = "lstm"
    _gate_major = frozenset({"G"})

    def init_params(self, rng):
        super().init_params(rng)
        H = self.hidden_size
        self.b[2 * H : 3 * H] = 1.0

    def _allocate(self, T, B):
        H, D, dt = self.hidden_size, self.input_size, self.dtype
        ws = {
            # H[0] is the carried-in state, H[t+1] = h_t; the last column is a constant 1
            # (the bias input).
            "H": np.empty((T + 1, B, H + 1), dt),
            # The input projection (layers above the first), then the backward
            # factors, then the gradients w.r.t. the pre-activations.
            "G": np.empty((4, T, B, H), dt),
            "A": np.empty((T, B, H), dt),  # o * (1 - tanh(c)^2): dc_t gets dh_t * A_t
            "F": np.empty((T, B, H), dt),  # the forget gate: dc_{t-1} = dc_t * F_t
            # One step's arrays, reused every step (they stay in cache):
            "g": np.empty((4, B, H), dt),  # gate pre-activations, then activations
            "c": np.empty((2, B, H), dt),  # c_{t-1} and c_t, alternating
            "tc": np.empty((B, H), dt),  # tanh(c_t)
            "tmpG": np.empty((B, 4 * H), dt),
            "tmpH": np.empty((B, H), dt),
            "dh": np.empty((B, H), dt),
            "dc": np.empty((B, H), dt),
        }
        ws["H"][..., H] = 1.0
        if not self.lookup:
            ws["dX"] = np.empty((T, B, D), dt)
            ws["tmpX"] = np.empty((T * B, D), dt)
        return ws

    def _gate_weights(self):
        """Copies of the weights with the ``o, i, f`` blocks halved.

        ``Wx`` gate-major (4, D, H), ``[Wh; b]`` fused.
        """
        H, D, dt = self.hidden_size, self.input_size, self.dtype
        w = getattr(self, "_scaled", None)
        if w is None:
            w = self._scaled = {
                "scale": np.array([0.5, 0.5, 0.5, 1.0], dt)[:, None, None],
                "Wx": np.empty((4, D, H), dt),
                "Whb": np.empty((H + 1, 4, H), dt),
                "WhT": np.empty((4 * H, H), dt),
                "dW": np.empty((4, max(D, H + 1), H), dt),
            }
        np.multiply(self.Wx.reshape(D, 4, H).transpose(1, 0, 2), w["scale"], out=w["Wx"])
        np.multiply(self.Whb.reshape(H + 1, 4, H), w["scale"][:, 0], out=w["Whb"])
        return w

    def forward(self, x, state, train=False):
        T, B = x.shape[:2]
        H = self.hidden_size
        ws = self._ws = self._buffers(T, B)
        self._x = x
        w = self._gate_weights()
        Hs, G, A, F = ws["H"], ws["G"], ws["A"], ws["F"]
        g, cs, tc, tmpG, ig = ws["g"], ws["c"], ws["tc"], ws["tmpG"], ws["tmpH"]
        tmp4 = tmpG.reshape(B, 4, H).transpose(1, 0, 2)  # the same numbers seen gate-major
        Wx = w["Wx"]
        if not self.lookup:  # the input projection of the whole window: one GEMM, gate-major
            np.matmul(x.reshape(T * B, -1), Wx, out=G.reshape(4, T * B, H))
        Hs[0, :, :H] = state[0]
        cs[0] = state[1]
        Whb = w["Whb"].reshape(H + 1, 4 * H)
        o, i, f, gg = g
        s = g[:3]
        for t in range(T):
            np.matmul(Hs[t], Whb, out=tmpG)  # [h, 1] @ [Wh; b]: one GEMM for the 4 gates
            if self.lookup:  # the first layer looks its input rows up per step, into g (in cache)
                np.take(Wx, x[t], axis=1, out=g, mode="clip")
                g += tmp4
            else:
                np.add(G[:, t], tmp4, out=g)
            c_prev, c, h = cs[t & 1], cs[(t + 1) & 1], Hs[t + 1, :, :H]
            self._cell(g, s, o, i, f, gg, c_prev, c, tc, h, ig)
            if train:
                # Backward factors, per step while the data is in cache, over G[:, t] (its
                # input projection is used up): d(pre_o) = dh * Ko, d(pre_{i,f,g}) = dc * K{i,f,g}.
                k = G[:, t]
                np.subtract(1.0, s, out=k[:3])
                k[:3] *= s  # sigma' = s (1 - s) for o, i, f
                k[0] *= tc  # Ko = tanh(c) o (1 - o)
                k[1] *= gg  # Ki = g i (1 - i)
                k[2] *= c_prev  # Kf = c_prev f (1 - f)
                np.multiply(ig, gg, out=k[3])
                np.subtract(i, k[3], out=k[3])  # Kg = i (1 - g^2) = i - (i g) g
                a = A[t]
                np.multiply(h, tc, out=a)
                np.subtract(o, a, out=a)  # A = o (1 - tanh(c)^2) = o - h tanh(c)
                np.copyto(F[t], f)
        state[0][...] = Hs[-1, :, :H]
        state[1][...] = cs[T & 1]
        return Hs[1:, :, :H]

    @staticmethod
    def _cell(g, s, o, i, f, gg, c_prev, c, tc, h, ig):
        """One step from pre-activations (``o, i, f`` halved) to activations in place.

        Also ``c``, ``tanh(c)`` and ``h``. ``g`` holds all four gates, ``s``
        the three sigmoid ones, ``o, i, f, gg`` each one (views, in either
        layout); ``ig`` receives ``i * g``; ``c`` may be ``c_prev`` itself.
        """
        np.tanh(g, out=g)  # the g gate, and tanh(a / 2) for o, i, f
        s *= 0.5
        s += 0.5  # sigmoid(a) = 0.5 tanh(a / 2) + 0.5
        np.multiply(f, c_prev, out=c)
        np.multiply(i, gg, out=ig)
        c += ig  # c = f * c_prev + i * g
        np.tanh(c, out=tc)
        np.multiply(o, tc, out=h)  # h = o * tanh(c)

    def step(self, x, hb, c, out=None, recurrent_done=False):
        """One step for ``B`` streams (see :meth:`RNNLayer.step`); ``c`` is updated in place too."""
        ws = self._step_buffers(len(hb))
        H = self.hidden_size
        g = self._step_gates(x, hb, ws, recurrent_done)  # (B, 4H)
        o, i, f, gg = ws["gates"]
        s = g[:, : 3 * H]
        if not self.halved:
            s *= 0.5
        h = hb[:, :H] if out is None else out
        self._cell(g, s, o, i, f, gg, c, c, ws["tmpH2"], h, ws["tmpH"])
        return h

    halved = (
        False  # whether the o, i, f columns of the weights are already halved (a unit_shard's are)
    )

    def bind_step(self, x, hb, state, out, recurrent_done=False):
        # The same operations as step(), with every array, view and function looked
        # up once: 97 -> 92 us per character for the default model on two processes.
        (c,) = state
        ws = self._step_buffers(len(hb))
        g, gi, H = ws["g"], ws["gi"], self.hidden_size
        o, i, f, gg = ws["gates"]
        s = g[:, : 3 * H]
        cell = functools.partial(self._cell, g, s, o, i, f, gg, c, c, ws["tmpH2"], out, ws["tmpH"])
        recurrent = functools.partial(np.matmul, hb, self.Whb, out=g)
        if self.lookup:
            input_product = functools.partial(np.take, self.Wx, x, axis=0, out=gi, mode="clip")
        else:
            input_product = functools.partial(np.matmul, x, self.Wx, out=gi)
        halved = self.halved

        def step():
            if not recurrent_done:
                recurrent()
            input_product()
            np.add(g, gi, out=g)
            if not halved:
                np.multiply(s, 0.5, out=s)
            cell()

        return step

    def unit_shard(self, lo, hi):
        shard = super().unit_shard(lo, hi)
        # Halving the o, i, f columns once saves a multiplication per step and gives the
        # same numbers: scaling by a power of 2 commutes with every rounding.
        n = 3 * (hi - lo)
        shard.Wx[:, :n] *= 0.5
        shard.Whb[:, :n] *= 0.5
        shard.halved = True
        return shard

    def backward(self, dH):
        ws = self._ws
        H, D = self.hidden_size, self.input_size
        dG, A, F, dhn, dc, tmpH = ws["G"], ws["A"], ws["F"], ws["dh"], ws["dc"], ws["tmpH"]
        T, B = dH.shape[:2]
        w = self._scaled
        # dh_{t-1} = dG_t @ Wh.T with dG_t as fused (B, 4H) rows: one copy out of the
        # gate-major layout and one GEMM, faster than 4 per-gate GEMMs and their sum.
        dG_rows = ws["tmpG"]
        dG_rows_by_gate = dG_rows.reshape(B, 4, H).transpose(1, 0, 2)
        WhT = w["WhT"]
        np.copyto(WhT, self.Wh.T)  # contiguous: faster in the GEMM than the transposed view
        for t in range(T - 1, -1, -1):
            dh = dH[t]
            if t == T - 1:
                np.multiply(dh, A[t], out=dc)
            else:
                dh += dhn
                np.multiply(dh, A[t], out=tmpH)
                dc += tmpH  # dc_t = dc_{t+1} f_{t+1} + dh_t o (1 - tanh(c)^2)
            d = dG[:, t]
            d[0] *= dh
            d[1:] *= dc
            if t > 0:
                dc *= F[t]
                np.copyto(dG_rows_by_gate, d)
                np.matmul(dG_rows, WhT, out=dhn)
        # Weight gradients: one batched GEMM (4 gates) per matrix over the window.
        N = T * B
        dG3 = dG.reshape(4, N, H)
        dW = w["dW"]
        dWhb = dW[:, : H + 1]
        np.matmul(ws["H"][:T].reshape(N, H + 1).T, dG3, out=dWhb)
        np.copyto(self.dWhb.reshape(H + 1, 4, H), dWhb.transpose(1, 0, 2))
        x = self._x
        if self.lookup:
            # Embedding gradient: row v of dWx sums the gradients where the input id is v
            # (one masked sum per symbol present: ~10x faster than np.add.at here).
            ids = x.reshape(-1)
            dWx = self.dWx.reshape(D, 4, H)
            dWx[...] = 0.0
            for v in np.flatnonzero(np.bincount(ids, minlength=D)):
                np.sum(dG3[:, ids == v], axis=1, out=dWx[v])
            return None
        x2 = x.reshape(N, -1)
        dWx = dW[:, :D]
        np.matmul(x2.T, dG3, out=dWx)
        np.copyto(self.dWx.reshape(D, 4, H), dWx.transpose(1, 0, 2))
        dX, tmpX = ws["dX"], ws["tmpX"][:N]
        dX2 = dX.reshape(N, D)
        WxT = self.Wx.reshape(D, 4, H).transpose(1, 2, 0)  # WxT[k] = Wx_k^T (strided view)
        np.matmul(dG3[0], WxT[0], out=dX2)
        for k in range(1, 4):
            np.matmul(dG3[k], WxT[k], out=tmpX)
            dX2 += tmpX
        return dX


class GRULayer(_Layer):
    """GRU with fused gates ``[r, z, n]``, the reset gate applied after the product.

    The cuDNN/PyTorch variant.

    ``n_t = tanh(x Wx_n + bx_n + r * (h_{t-1} Wh_n + b_n))`` and
    ``h_t = (1 - z) * n_t + z * h_{t-1}``. Applying ``r`` after the product
    keeps one fused ``[h_{t-1}, 1] @ [Wh; b]`` per step; ``bx_n`` is the
    input-side bias of the candidate (for ``r`` and ``z`` one bias suffices).
    """

    n_gates = 3
    name = "gru"

    def param_shapes(self):
        return [*super().param_shapes(), ("bxn", (self.hidden_size,))]

    def _allocate(self, T, B):
        ws = super()._allocate(T, B)
        ws["GH"] = np.empty(
            (T, B, 3 * self.hidden_size), self.dtype
        )  # gradient w.r.t. [h, 1] @ [Wh; b]
        return ws

    def forward(self, x, state, train=False):
        ws, Whb = self._start(x, state)
        H = self.hidden_size
        Hs, GX, K, gh, tmpH = ws["H"], ws["G"], ws["dG"], ws["tmpG"], ws["tmpH"]
        for t in range(len(GX)):
            gx = GX[t]
            np.matmul(Hs[t], Whb, out=gh)
            k = K[t]
            kr, kz, kn = k[:, :H], k[:, H : 2 * H], k[:, 2 * H :]
            self._cell(gx, gh, Hs[t, :, :H], Hs[t + 1, :, :H], tmpH, kz)
            if train:
                r, z, n, ghn = gx[:, :H], gx[:, H : 2 * H], gx[:, 2 * H :], gh[:, 2 * H :]
                # Every pre-activation gradient is dh_t times one of these factors.
                np.subtract(1.0, z, out=tmpH)
                kz *= z
                kz *= tmpH  # Kz = (h_prev - n) z (1 - z)
                np.multiply(n, n, out=kn)
                np.subtract(1.0, kn, out=kn)
                kn *= tmpH  # Kn = (1 - z)(1 - n^2)
                np.subtract(1.0, r, out=kr)
                kr *= r
                kr *= ghn
                kr *= kn  # Kr = Kn (h Wh_n + b_n) r (1 - r)
        state[0][...] = Hs[-1, :, :H]
        return Hs[1:, :, :H]

    def _cell(self, gx, gh, hprev, h, tmpH, d):
        """Input and recurrent pre-activations -> ``r, z, n`` in ``gx`` (in place) and ``h``.

        ``d`` receives ``h_prev - n``; ``h`` may be ``hprev`` itself.
        """
        H = self.hidden_size
        rz = gx[:, : 2 * H]
        rz += gh[:, : 2 * H]
        sigmoid_(rz)
        n = gx[:, 2 * H :]
        n += self.bxn
        np.multiply(gx[:, :H], gh[:, 2 * H :], out=tmpH)  # r * (h Wh_n + b_n)
        n += tmpH
        np.tanh(n, out=n)
        np.subtract(hprev, n, out=d)
        np.multiply(d, gx[:, H : 2 * H], out=h)
        h += n  # h = n + z (h_prev - n)

    def step(self, x, hb, out=None, recurrent_done=False):
        """One step for ``B`` streams (see :meth:`RNNLayer.step`)."""
        ws = self._step_buffers(len(hb))
        gh = ws["g"]
        if not recurrent_done:
            np.matmul(hb, self.Whb, out=gh)
        gx = self._input_product(x, ws)
        lo = self.unit_offset
        h_prev = hb[:, lo : lo + self.hidden_size]
        h = h_prev if out is None else out
        self._cell(gx, gh, h_prev, h, ws["tmpH"], ws["tmpH2"])
        return h

    def unit_shard(self, lo, hi):
        shard = super().unit_shard(lo, hi)
        shard.bxn = self.bxn[lo:hi].copy()
        return shard

    def backward(self, dH):
        ws = self._ws
        H = self.hidden_size
        GX, dGX, dGH, dhn, tmpH = ws["G"], ws["dG"], ws["GH"], ws["dh"], ws["tmpH"]
        T, B = dH.shape[:2]
        r, z = GX[..., :H], GX[..., H : 2 * H]
        dGX4 = dGX.reshape(T, B, 3, H)
        WhT = self.Wh.T
        for t in range(T - 1, -1, -1):
            dh = dH[t]
            if t < T - 1:
                dh += dhn
            dGX4[t] *= dh[:, None, :]  # [d pre_r, d pre_z, d pre_n(input side)]
            dgh = dGH[t]
            dgh[:, : 2 * H] = dGX[t, :, : 2 * H]
            np.multiply(dGX[t, :, 2 * H :], r[t], out=dgh[:, 2 * H :])
            if t > 0:
                np.matmul(dgh, WhT, out=dhn)
                np.multiply(dh, z[t], out=tmpH)
                dhn += tmpH
        np.sum(dGX[..., 2 * H :], axis=(0, 1), out=self.dbxn)
        # [dWh; db] from the recurrent side, dWx and dX from the input side.
        return self._weight_grads(dGX, ws, dG_recurrent=dGH)


CELLS = {"rnn": RNNLayer, "lstm": LSTMLayer, "gru": GRULayer}
