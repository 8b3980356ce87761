"""Peer implementations for ``bench_char_rnn.py``.

Each peer trains a character-level model on the same integer-encoded corpus
(``uint8`` ids from :class:`skrnn.text.CharVocabulary`) and reports how many
characters it trained on per second, measured after a warm-up.

* :func:`run_min_char_rnn`: a re-implementation of the algorithm of Karpathy's
  ``min-char-rnn.py`` (vanilla tanh RNN, one sequence of ``seq_length``
  characters at a time, one-hot column vectors, float64, Adagrad, every
  gradient clipped element-wise to [-5, 5]). Written for this benchmark from
  the algorithm's description; it keeps the original's cost structure
  (a Python loop over time steps, matrix-vector products with one-hot inputs,
  one sequence per update).
* :func:`run_keras_lstm`: Keras 3 (TensorFlow backend) one-hot -> LSTM ->
  Dense, stateful streams, Adam, timed inside ``model.fit`` with a batch
  callback.
* :func:`run_torch_lstm`: PyTorch CPU one-hot -> ``nn.LSTM`` -> ``nn.Linear``,
  state carried (detached) across windows, Adam.
* :func:`run_torch_sample`: PyTorch CPU single-stream sampling, for scale.

All batched peers use the same layout as skrnn: the corpus is cut into
``batch_size`` contiguous streams, trained in consecutive windows of
``seq_length`` characters, the target being the next character.
"""

from __future__ import annotations

import time

import numpy as np


def make_streams(ids, batch_size, seq_length):
    """Cut ``ids`` into ``batch_size`` streams of whole windows.

    Returns ``(x, y)`` of shape ``(n_windows, batch_size, seq_length)``:
    window ``i`` of stream ``s`` is ``x[i, s]``, targets are shifted by one.
    """
    n_windows = (len(ids) - 1) // (batch_size * seq_length)
    if n_windows < 1:
        raise ValueError("corpus too short for one window per stream")
    stream_len = n_windows * seq_length
    x = ids[: batch_size * stream_len].reshape(batch_size, n_windows, seq_length)
    y = ids[1 : batch_size * stream_len + 1].reshape(batch_size, n_windows, seq_length)
    return np.ascontiguousarray(x.transpose(1, 0, 2)), np.ascontiguousarray(y.transpose(1, 0, 2))


# --------------------------------------------------------------------------
# The original per-sequence loop (min-char-rnn's algorithm)
# --------------------------------------------------------------------------


class MinCharRNN:
    """Vanilla RNN trained one sequence at a time, as in min-char-rnn.

    Column vectors, one-hot inputs multiplied by ``Wxh``, float64, Adagrad,
    element-wise clipping of every gradient to [-5, 5].
    """

    def __init__(self, vocab_size, hidden_size=500, learning_rate=0.1, seed=0):
        rng = np.random.default_rng(seed)
        H, V = hidden_size, vocab_size
        self.V, self.H, self.lr = V, H, learning_rate
        self.Wxh = rng.standard_normal((H, V)) * 0.01
        self.Whh = rng.standard_normal((H, H)) * 0.01
        self.Why = rng.standard_normal((V, H)) * 0.01
        self.bh = np.zeros((H, 1))
        self.by = np.zeros((V, 1))
        self.params = [self.Wxh, self.Whh, self.Why, self.bh, self.by]
        self.memory = [np.zeros_like(p) for p in self.params]

    def loss_and_grads(self, inputs, targets, h_prev):
        Wxh, Whh, Why, bh, by = self.params
        xs, hs, ps = {}, {-1: np.copy(h_prev)}, {}
        loss = 0.0
        for t in range(len(inputs)):
            xs[t] = np.zeros((self.V, 1))
            xs[t][inputs[t]] = 1.0
            hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
            logits = Why @ hs[t] + by
            e = np.exp(logits - logits.max())
            ps[t] = e / e.sum()
            loss -= np.log(ps[t][targets[t], 0])
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby = np.zeros_like(bh), np.zeros_like(by)
        dh_next = np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1.0
            dWhy += dy @ hs[t].T
            dby += dy
            dh = Why.T @ dy + dh_next
            draw = (1.0 - hs[t] * hs[t]) * dh
            dbh += draw
            dWxh += draw @ xs[t].T
            dWhh += draw @ hs[t - 1].T
            dh_next = Whh.T @ draw
        grads = [dWxh, dWhh, dWhy, dbh, dby]
        for g in grads:
            np.clip(g, -5, 5, out=g)
        return loss, grads, hs[len(inputs) - 1]

    def update(self, grads):
        for p, g, m in zip(self.params, grads, self.memory, strict=True):
            m += g * g
            p -= self.lr * g / np.sqrt(m + 1e-8)

    def sample(self, h, seed_id, n, rng):
        x = np.zeros((self.V, 1))
        x[seed_id] = 1.0
        out = []
        for _ in range(n):
            h = np.tanh(self.Wxh @ x + self.Whh @ h + self.bh)
            logits = self.Why @ h + self.by
            e = np.exp(logits - logits.max())
            p = (e / e.sum()).ravel()
            i = rng.choice(self.V, p=p)
            x = np.zeros((self.V, 1))
            x[i] = 1.0
            out.append(i)
        return out


def run_min_char_rnn(
    ids,
    vocab_size,
    *,
    hidden_size=500,
    seq_length=40,
    learning_rate=0.1,
    seconds=20.0,
    warmup_iters=5,
    sample_every=0,
    seed=0,
):
    """Train the reference for ``seconds`` (after ``warmup_iters`` updates).

    ``sample_every=100`` would also sample 200 characters every 100 updates
    as the original script does (its printing aside); the default (0) times
    training only, which favours the reference.
    """
    model = MinCharRNN(vocab_size, hidden_size, learning_rate, seed)
    rng = np.random.default_rng(seed)
    h = np.zeros((hidden_size, 1))
    p, n = 0, 0
    chars = 0
    smooth_loss = -np.log(1.0 / vocab_size) * seq_length
    t0 = None
    while True:
        if p + seq_length + 1 >= len(ids) or n == 0:
            h = np.zeros((hidden_size, 1))
            p = 0
        inputs = ids[p : p + seq_length]
        targets = ids[p + 1 : p + seq_length + 1]
        if sample_every and n % sample_every == 0:
            model.sample(h, inputs[0], 200, rng)
        loss, grads, h = model.loss_and_grads(inputs, targets, h)
        smooth_loss = smooth_loss * 0.999 + loss * 0.001
        model.update(grads)
        p += seq_length
        n += 1
        if n == warmup_iters:
            t0 = time.perf_counter()
        elif t0 is not None:
            chars += seq_length
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
    return {
        "chars": chars,
        "seconds": elapsed,
        "chars_per_s": chars / elapsed,
        "updates": n - warmup_iters,
        "smooth_loss_per_char": smooth_loss / seq_length,
    }


# --------------------------------------------------------------------------
# Keras 3 LSTM
# --------------------------------------------------------------------------


def run_keras_lstm(
    ids,
    vocab_size,
    *,
    hidden_size=256,
    batch_size=64,
    seq_length=100,
    warmup_steps=5,
    measure_steps=30,
    jit_compile=False,
    input_mode="onehot",
    embed_dim=64,
    seed=0,
):
    """Time ``model.fit`` on stateful streams, excluding the first steps.

    The model is ``Input(batch_shape=(B, T), int32)`` -> one-hot (or
    ``Embedding(V, embed_dim)``) -> ``LSTM(H, return_sequences=True,
    stateful=True)`` -> ``Dense(V)``; loss: sparse categorical cross-entropy
    on logits; optimizer: Adam(1e-3). One ``fit`` call over
    ``warmup_steps + measure_steps`` consecutive windows (no shuffling, so the
    state carries from window to window like skrnn's streams). A callback
    records the time at the end of each batch; the rate is measured from the
    end of batch ``warmup_steps`` (tracing/compilation happens in the first
    one) to the end of the last.
    """
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    n_steps = warmup_steps + measure_steps
    x, y = make_streams(ids, batch_size, seq_length)
    reps = -(-n_steps // len(x))
    x = np.concatenate([x] * reps)[:n_steps].reshape(-1, seq_length).astype(np.int32)
    y = np.concatenate([y] * reps)[:n_steps].reshape(-1, seq_length).astype(np.int32)

    inp = keras.Input(batch_shape=(batch_size, seq_length), dtype="int32")
    if input_mode == "onehot":
        h = keras.layers.Lambda(
            lambda t: keras.ops.one_hot(t, vocab_size), output_shape=(seq_length, vocab_size)
        )(inp)
    else:
        h = keras.layers.Embedding(vocab_size, embed_dim)(inp)
    h = keras.layers.LSTM(hidden_size, return_sequences=True, stateful=True)(h)
    out = keras.layers.Dense(vocab_size)(h)
    model = keras.Model(inp, out)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )

    stamps = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    t_start = time.perf_counter()
    hist = model.fit(
        x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[Stamp()]
    )
    t_end = time.perf_counter()
    t0, t1 = stamps[warmup_steps - 1], stamps[-1]
    chars = measure_steps * batch_size * seq_length
    return {
        "chars": chars,
        "seconds": t1 - t0,
        "chars_per_s": chars / (t1 - t0),
        "first_step_s": stamps[0] - t_start,
        "total_s": t_end - t_start,
        "loss": float(hist.history["loss"][-1]),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }


# --------------------------------------------------------------------------
# PyTorch LSTM
# --------------------------------------------------------------------------


def _torch_model(vocab_size, hidden_size, n_layers=1):
    import torch
    from torch import nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(vocab_size, hidden_size, num_layers=n_layers, batch_first=True)
            self.head = nn.Linear(hidden_size, vocab_size)

        def forward(self, x_ids, state):
            x = nn.functional.one_hot(x_ids, vocab_size).to(torch.float32)
            out, state = self.lstm(x, state)
            return self.head(out), state

    return CharLSTM()


def run_torch_lstm(
    ids,
    vocab_size,
    *,
    hidden_size=256,
    batch_size=64,
    seq_length=100,
    warmup_steps=5,
    measure_steps=40,
    threads=None,
    seed=0,
):
    """Time a plain PyTorch training loop (truncated BPTT over stateful streams)."""
    import torch

    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    x, y = make_streams(ids, batch_size, seq_length)
    x = torch.from_numpy(x.astype(np.int64))
    y = torch.from_numpy(y.astype(np.int64))
    model = _torch_model(vocab_size, hidden_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    state = None
    n_steps = warmup_steps + measure_steps
    t0 = None
    for step in range(n_steps):
        i = step % len(x)
        if i == 0:
            state = None
        logits, state = model(x[i], state)
        state = tuple(s.detach() for s in state)
        loss = loss_fn(logits.reshape(-1, vocab_size), y[i].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step == warmup_steps - 1:
            t0 = time.perf_counter()
    t1 = time.perf_counter()
    chars = measure_steps * batch_size * seq_length
    return {
        "chars": chars,
        "seconds": t1 - t0,
        "chars_per_s": chars / (t1 - t0),
        "loss": float(loss),
        "versions": {"torch": torch.__version__},
        "threads": torch.get_num_threads(),
    }


def run_torch_sample(
    vocab_size, *, hidden_size=256, n_layers=1, n_chars=20000, threads=None, seed=0
):
    """Sample one stream, one character at a time, from an (untrained) LSTM."""
    import torch

    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    model = _torch_model(vocab_size, hidden_size, n_layers).eval()
    gen = torch.Generator().manual_seed(seed)
    out = np.empty(n_chars, dtype=np.int64)
    with torch.inference_mode():
        x = torch.zeros((1, 1), dtype=torch.int64)
        state = None
        # warm-up
        for _ in range(50):
            _, state = model(x, state)
        state = None
        t0 = time.perf_counter()
        for i in range(n_chars):
            logits, state = model(x, state)
            probs = torch.softmax(logits[0, -1], dim=-1)
            x = torch.multinomial(probs, 1, generator=gen).view(1, 1)
            out[i] = x.item()
        t1 = time.perf_counter()
    return {"chars": n_chars, "seconds": t1 - t0, "chars_per_s": n_chars / (t1 - t0)}
