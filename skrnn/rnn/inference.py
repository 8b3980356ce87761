"""Reading text with a trained :class:`~skrnn.rnn.CharRNN`: likelihoods and next-symbol logits.

Both functions work on a copy of the network with work arrays of its own
(:meth:`CharRNN.inference_copy`), so that many threads can read with one
network, and let BLAS use two threads only while that beats one
(:class:`~skrnn.rnn.parallel.ThreadChooser`).
"""

from __future__ import annotations

import numpy as np

from . import parallel

__all__ = ["log_likelihood_sum", "next_symbol_logits"]

# Scoring splits long texts into parallel streams; each stream first reads this
# many symbols of the text before it (not scored), so that its state is warm
# and the score matches reading the whole text in one pass.
_SCORE_WARMUP = 100
# next_symbol_logits handles this many documents at a time, so that the work
# arrays (and the logits) stay bounded however many there are.
_CHUNK = 1 << 16
# Documents run side by side through the network: as many as keep the
# per-layer work arrays near (group * window * hidden_size) ~ 2M values,
# within [256, 1024]. Measured on 2 cores (LSTM 8, 200k short strings): 1024
# is 1.5-2x faster than 256 or 8192, whose gate arrays no longer fit in cache.
_GROUP_VALUES = 1 << 21
_GROUP_MIN, _GROUP_MAX = 256, 1024


def log_likelihood_sum(net, ids, *, window, max_streams):
    """``(total, count)``: the sum of ``log p(ids[t] | ids[:t])`` over ``t >= 1``, and its terms.

    The sum is in nats. As if read in one pass: long texts are read as up to
    ``max_streams`` parallel streams, ``window`` steps at a time; every stream
    but the first first reads the ``_SCORE_WARMUP`` symbols before its part
    without scoring them.
    """
    n_pred = len(ids) - 1
    if n_pred <= 0:
        return 0.0, 0
    W, T, net = _SCORE_WARMUP, window, net.inference_copy()
    S = max(1, min(max_streams, n_pred // (4 * W)))
    R = n_pred if S == 1 else -(-(n_pred + (S - 1) * W) // S)  # steps per stream
    begin = np.arange(S) * (R - W)  # position of each stream's first input
    state = net.zero_state(S)
    last = len(ids) - 1
    total, count = 0.0, 0
    with (
        parallel.blas_limit(parallel.n_blas_threads()) as n_threads,
        parallel.ThreadChooser(n_threads) as run,
    ):
        for a in range(0, R, T):
            steps = np.arange(a, min(a + T, R))
            pos = begin[None, :] + steps[:, None]  # (T, S) input positions
            scored = pos < last
            if S > 1:
                scored[:, 1:] &= steps[:, None] >= W
            x = ids[np.minimum(pos, last)].astype(np.intp)
            y = ids[np.minimum(pos + 1, last)].astype(np.intp)
            logp = run(x.size, net.log_likelihood, x, y, state)
            total += float(logp[scored].sum(dtype=np.float64))
            count += int(scored.sum())
    return total, count


def next_symbol_logits(net, ids, starts, lengths, start_logprobs, *, window):
    """Yield ``(rows, logits)``: the logits of the symbol after each document, chunk by chunk.

    Document ``i`` is the ``lengths[i]`` ids from ``ids[starts[i]]``; an
    empty one gets ``start_logprobs``. ``logits`` (float64,
    ``(len(rows), n_symbols)``) is a buffer reused from one chunk to the next.
    """
    n = len(lengths)
    buffer = np.empty((min(n, _CHUNK), net.n_symbols), dtype=np.float64)
    net = net.inference_copy()
    for a in range(0, n, _CHUNK):
        rows = slice(a, min(a + _CHUNK, n))
        logits = buffer[: rows.stop - a]
        with (
            parallel.blas_limit(parallel.n_blas_threads()) as n_threads,
            parallel.ThreadChooser(n_threads) as run,
        ):
            _final_logits(
                net, run, ids, starts[rows], lengths[rows], start_logprobs, window, logits
            )
        yield rows, logits


def _final_logits(net, run, ids, starts, lengths, start_logprobs, window, out):
    """Fill ``out[i]`` with the logits after document ``i``.

    Documents of similar length run side by side, one window at a time: the
    work arrays hold one window of one group, however long or numerous the
    documents.
    """
    T = window
    order = np.argsort(lengths, kind="stable")
    out[order[lengths[order] == 0]] = start_logprobs
    order = order[lengths[order] > 0]
    group_size = int(np.clip(_GROUP_VALUES // (T * net.hidden_size), _GROUP_MIN, _GROUP_MAX))
    last = len(ids) - 1
    for g in range(0, len(order), group_size):
        group = order[g : g + group_size]
        lens, first = lengths[group], starts[group]
        n_steps = int(lens.max())
        state = net.zero_state(len(group))
        for a in range(0, n_steps, T):
            steps = np.arange(a, min(a + T, n_steps))
            # Past its end a document reads on into the next one: those
            # outputs are never used, and every stream keeps one shape.
            x = ids[np.minimum(first[None, :] + steps[:, None], last)].astype(np.intp)
            top = run(x.size, net.forward, x, state)
            ends = np.flatnonzero((lens > a) & (lens <= a + len(steps)))
            if len(ends):
                out[group[ends]] = net.logits(top[lens[ends] - 1 - a, ends])
