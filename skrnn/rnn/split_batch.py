"""Training on two processes: each runs a training window for half of the streams.

Why: a training window is one BLAS product per time step (which two BLAS
threads share well) and a dozen element-wise NumPy operations per step (which
run on one core while the other waits). Two processes, each running its own
half of the ``B`` streams through the whole window with one BLAS thread, keep
both cores busy all the time.

The streams of a window are independent until the loss: the gradient of the
mean loss over ``B`` streams is the stream-count-weighted mean of the two
halves' gradients. It equals one process's to rounding, not bit for bit (the
window's weight-gradient products sum in a different order). Dropout masks
are drawn per half of the streams (:func:`skrnn.rnn.network.stream_blocks`)
from one generator each, in one process as in two, so they are the same.

Protocol, per window: the parent writes the child's inputs, targets and
carried-in state to shared memory and sends the window length and the seed of
the child's dropout generator down a pipe; both run
:meth:`CharRNN.loss_and_grads` on their streams; the child writes its
gradients and state to shared memory and sends back its loss. The weights
live in shared memory for the trainer's lifetime, so the parent's optimizer
step is what the child reads next window. A pipe (tens of microseconds) is
plenty for a window of tens of milliseconds.
"""

from __future__ import annotations

import contextlib
import multiprocessing.connection
import time

import numpy as np
from threadpoolctl import ThreadpoolController

from . import _fork
from ._fork import SecondProcessError

__all__ = ["SplitBatch"]

_SPIN_SECONDS = 0.005
# The child has this long, plus a few times the parent's own half-window, to answer.
_ANSWER_SECONDS = 10.0


def _spin_until_ready(conn):
    """Poll ``conn`` for up to ``_SPIN_SECONDS`` before the caller blocks on it.

    A process blocked in ``recv`` can take a millisecond or more to wake up on
    a virtual machine (windows of a few milliseconds ran at random up to 1.7x
    slower); the other process's message usually comes within the spin (its
    optimizer step, or the rest of its own half-window).
    """
    deadline = time.perf_counter() + _SPIN_SECONDS
    while not conn.poll() and time.perf_counter() < deadline:
        pass


def _child(net, window, conn):
    """The second process: runs its streams' windows until the pipe closes or says stop."""
    net.grads = window["grads"]  # the parent reads the child's gradients here
    net._bind()
    state = window["state"]
    while True:
        try:
            _spin_until_ready(conn)
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        T, seed = message
        rng = None if seed is None else [np.random.default_rng(seed)]
        try:
            loss = net.loss_and_grads(window["x"][:T], window["y"][:T], state, rng)
        except Exception as exc:  # reported to the parent, which raises it
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        conn.send(("ok", loss))


class SplitBatch:
    """:meth:`CharRNN.loss_and_grads` over ``B`` streams on two processes (this one and a child).

    The parent runs the first ``B - B // 2`` streams, the child the last
    ``B // 2``. While the trainer is open, ``net.params`` lives in shared
    memory (the same values); :meth:`close` moves it back to private memory
    and stops the child. Use as a context manager.

    Parameters
    ----------
    net : CharRNN
    seq_length : int
        The longest window (shorter ones, e.g. an epoch's last, are fine).
    batch_size : int
        Streams per window, at least 2; every window must have exactly these.

    Raises
    ------
    OSError
        When the child cannot be forked (nothing is left behind).
    """

    def __init__(self, net, seq_length, batch_size):
        if batch_size < 2:
            raise ValueError(f"splitting the streams needs batch_size >= 2, got {batch_size}.")
        self._net = net
        self._B = B = batch_size
        self._B1 = B1 = B // 2  # the child's streams
        self._proc = self._conn = self._private_params = None
        with _fork.guarded_setup(self.close):
            H, dt = net.hidden_size, net.dtype
            window = {
                "x": _fork.shared_array((seq_length, B1), np.intp),
                "y": _fork.shared_array((seq_length, B1), np.intp),
                "grads": _fork.shared_array(net.params.shape, dt),
                "state": [
                    [_fork.shared_array((B1, H), dt) for _ in range(layer.n_state)]
                    for layer in net.layers
                ],
            }
            shared_params = _fork.shared_array(net.params.shape, dt)
            shared_params[...] = net.params
            self._window = window
            self._controller = ThreadpoolController()
            self._conn, child_conn = _fork.pipe()
            self._private_params, net.params = net.params, shared_params
            net._bind()
            try:
                self._proc = _fork.start(
                    _child,
                    (net, window, child_conn),
                    "skrnn-split-batch",
                    close_in_child=[self._conn],
                )
            finally:
                child_conn.close()

    def loss_and_grads(self, x, y, state, rng=None):
        """As :meth:`CharRNN.loss_and_grads`.

        Fills ``net.grads``, updates ``state``, returns the mean loss.

        ``rng``: None, or with dropout ``(generator, seed)``: the generator of
        this process's streams' masks and the seed of the child's.
        """
        net, window, B1 = self._net, self._window, self._B1
        T, B = x.shape
        if B != self._B:
            raise ValueError(f"this trainer splits windows of {self._B} streams, got {B}.")
        B0 = B - B1
        window["x"][:T] = x[:, B0:]
        window["y"][:T] = y[:, B0:]
        for shared, arrays in zip(window["state"], state, strict=True):
            for s, a in zip(shared, arrays, strict=True):
                s[...] = a[B0:]
        parent_rng, child_seed = (None, None) if rng is None else rng
        self._send((T, child_seed))
        x0, y0 = np.ascontiguousarray(x[:, :B0]), np.ascontiguousarray(y[:, :B0])
        tic = time.perf_counter()
        with self._controller.limit(limits=1, user_api="blas"):  # the child has the other core
            loss0 = net.loss_and_grads(
                x0,
                y0,
                [[a[:B0] for a in arrays] for arrays in state],
                None if parent_rng is None else [parent_rng],
            )
        status, value = self._receive(_ANSWER_SECONDS + 5 * (time.perf_counter() - tic))
        if status == "error":
            raise SecondProcessError(f"the second training process failed: {value}")
        for shared, arrays in zip(window["state"], state, strict=True):
            for s, a in zip(shared, arrays, strict=True):
                a[B0:] = s
        # Each half's loss and gradients are means over its own T * B_i characters.
        w1 = B1 / B
        if B0 == B1:
            net.grads += window["grads"]
            net.grads *= 0.5
        else:
            net.grads *= 1.0 - w1
            net.grads += w1 * window["grads"]
        return (1.0 - w1) * loss0 + w1 * value

    def _send(self, message):
        try:
            self._conn.send(message)
        except OSError:  # BrokenPipeError, ConnectionResetError: the child is gone
            raise self._stopped() from None

    def _receive(self, timeout):
        """The child's answer, within ``timeout`` seconds (after a short spin)."""
        conn = self._conn
        _spin_until_ready(conn)
        ready = multiprocessing.connection.wait([conn, self._proc.sentinel], timeout)
        if conn in ready:
            try:
                return conn.recv()
            except (EOFError, OSError):
                raise self._stopped() from None
        if ready:
            raise self._stopped()
        raise SecondProcessError(
            f"the second training process did not answer within {timeout:.0f} s (is it stopped?); "
            "it was killed. Train in one process with n_jobs=1."
        )

    def _stopped(self):
        return SecondProcessError(
            f"the second training process stopped (exit code {_fork.exit_code(self._proc)}); "
            "train in one process with n_jobs=1."
        )

    def close(self):
        """Stop the child and move ``net.params`` back to private memory (idempotent)."""
        with _fork.deferred_interrupts():
            if self._proc is not None:
                with contextlib.suppress(OSError):
                    self._conn.send(None)
                _fork.stop(self._proc)
                self._proc = None
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._private_params is not None:
                net = self._net
                self._private_params[...] = net.params
                net.params, self._private_params = self._private_params, None
                net._bind()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
