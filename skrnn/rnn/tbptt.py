"""Truncated back-propagation through time over parallel streams.

The training text is cut into ``B`` contiguous streams read side by side, ``T``
characters (one window) at a time; the recurrent state is carried from one
window to the next, and the gradient stops at window boundaries.
"""

import math
import time
import warnings

import numpy as np

from ..training import Diverged
from .optim import clip_grad_norm_

__all__ = ["make_streams", "train_epoch"]


def make_streams(ids, seq_length, batch_size, what):
    """Inputs and targets of shape ``(B, L)``, views of ``ids`` (no copy).

    ``B`` is ``batch_size``, or fewer (with a warning) when ``ids`` is too
    short to give every stream a full window. ``what`` names the text in
    messages.
    """
    n_pred = len(ids) - 1
    if n_pred < seq_length:
        raise ValueError(
            f"{what} has {len(ids)} characters; training needs at least seq_length + 1 = "
            f"{seq_length + 1}. Use a longer text or a smaller seq_length (or validation_fraction)."
        )
    n_streams = min(batch_size, n_pred // seq_length)
    if batch_size > n_streams:
        warnings.warn(
            f"{what} has {len(ids)} characters: too few for batch_size={batch_size} streams "
            f"of seq_length={seq_length}; using {n_streams} streams. Lower batch_size to "
            "silence this warning.",
            UserWarning,
            stacklevel=4,
        )
    length = n_pred // n_streams
    return (
        ids[: n_streams * length].reshape(n_streams, length),
        ids[1 : n_streams * length + 1].reshape(n_streams, length),
    )


def n_windows(streams, seq_length):
    return math.ceil(streams[0].shape[1] / seq_length)


def train_epoch(
    net,
    optimizer,
    streams,
    train_window,
    progress,
    *,
    learning_rate,
    seq_length,
    clip_norm,
    rng,
    on_window,
):
    """One pass over ``streams``, window by window, reported to ``progress``.

    The optimizer steps with ``learning_rate``.
    ``train_window(x, y, state, dropout_seeds)`` computes a window's loss and
    gradients (on one process or two); the update is clipped to
    ``clip_norm`` and applied here. ``on_window(n_chars)`` is called after
    each update. Raises :class:`skrnn.training.Diverged` when a loss, gradient
    norm or weight is not finite; the update of that window is not applied.
    """
    inputs, targets = streams
    n_streams, length = inputs.shape
    T = seq_length
    optimizer.learning_rate = float(learning_rate)
    state = net.zero_state(n_streams)
    total, count, tic = 0.0, 0, time.perf_counter()
    for s in range(0, length, T):
        x = inputs[:, s : s + T].T.astype(np.intp)  # (T, B), a small copy per window
        y = targets[:, s : s + T].T.astype(np.intp)
        # Dropout: one generator per half of the streams, whatever the number of processes.
        seeds = tuple(int(v) for v in rng.integers(2**63, size=2)) if net.dropout else None
        loss = train_window(x, y, state, seeds)
        with np.errstate(invalid="ignore", over="ignore"):  # a non-finite norm is reported
            norm = clip_grad_norm_(net.grads, clip_norm)
        if not math.isfinite(loss) or not math.isfinite(norm):
            what, value = (
                ("training loss", loss) if not math.isfinite(loss) else ("gradient norm", norm)
            )
            raise Diverged(f"the {what} became {value} in window {s // T + 1} of {-(-length // T)}")
        optimizer.step(net.params, net.grads)
        total += loss * x.size
        count += x.size
        on_window(x.size)
        rate = (
            {"chars/s": f"{count / (time.perf_counter() - tic):,.0f}"} if progress.verbose else {}
        )
        if progress.batch_done(total / count, **rate):
            break
    # An update itself can overflow (a huge learning_rate): summing in
    # float64 is one pass and gives inf or NaN exactly when a weight is.
    if not math.isfinite(float(np.sum(net.params, dtype=np.float64))):
        raise Diverged("the weights became infinite or NaN")
