"""How many processes and BLAS threads the NumPy network uses, and when a second process pays.

``n_jobs`` has scikit-learn's meaning: None is 1 unless a
``joblib.parallel_config`` context says otherwise, -1 is every CPU this
process may use. One job is this process alone (its BLAS may use up to two
threads); two jobs add one forked process (:mod:`skrnn.rnn.split_batch` for
training, :mod:`skrnn.rnn.split_step` for sampling). More than two are not
used: the work splits in halves.

A second process is only worth its cost while it has a core to itself. When
another job takes a core, two processes that wait on each other run slower
than one, so :class:`Pacer` keeps timing both and drops the second process
as soon as it stops paying.
"""

from __future__ import annotations

import contextlib
import functools
import statistics
import threading
import time
import warnings

import joblib
import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

from . import _fork
from .split_batch import SplitBatch

__all__ = ["Pacer", "ThreadChooser", "WindowTrainer", "blas_limit", "n_blas_threads", "n_processes"]


def n_processes(n_jobs):
    """The processes to use for ``n_jobs``: 1, or 2 where two CPUs are allowed and a fork can run.

    The CPUs allowed are those of the affinity mask and of a cgroup CPU
    quota (``--cpus=1`` in a container means one), as ``joblib.cpu_count``
    counts them.
    """
    wanted = joblib.effective_n_jobs(n_jobs)
    if wanted < 2 or joblib.cpu_count() < 2 or not _fork.available():
        return 1
    return 2


def n_blas_threads():
    """BLAS threads for one process: up to 2, never more than the limit in force.

    Measured on 2 cores (LSTM 256, batch 64, windows of 100): 2 BLAS threads
    train faster than 1; the per-step products are small, so many-core
    machines are capped at 2 rather than oversubscribed. An outer
    ``threadpool_limits`` and joblib's or Dask's workers (``OPENBLAS_NUM_THREADS=1``)
    size it for fits running side by side.
    """
    allowed = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(1, min(2, joblib.cpu_count(), *allowed))


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None
_blas_threads = None


@contextlib.contextmanager
def blas_limit(n_threads):
    """Limit BLAS to ``n_threads`` threads in the block.

    Calls overlapping in other threads share one limit. Yields the limit in
    force. ``threadpoolctl``'s limits are process-wide: nested from several
    threads, each restoring what it found on entry could leave a stale limit
    behind. Here the first call in sets the limit and the last one out restores
    the original. The results do not depend on the thread count.
    """
    global _blas_users, _blas_limiter, _blas_threads
    entered = False  # the count must match the calls that entered and left, Ctrl-C or not
    try:
        with _fork.deferred_interrupts(), _blas_lock:
            if _blas_users == 0:
                _blas_limiter = threadpool_limits(limits=n_threads, user_api="blas")
                _blas_threads = n_threads
            _blas_users += 1
            entered, in_force = True, _blas_threads
        yield in_force
    finally:
        if entered:
            with _fork.deferred_interrupts(), _blas_lock:
                _blas_users -= 1
                if _blas_users == 0:
                    _blas_limiter.restore_original_limits()
                    _blas_limiter = None


class Pacer:
    """Times units of work run in parallel and serially; says when parallel stops paying.

    Units run serially first: the reference is the fastest of
    ``references`` serial units in a row (the first may pay for new work
    arrays). Then parallel units (two processes, or two BLAS threads) are
    compared with it; the first ``warmup`` of them are not (first touch of a
    new process's arrays). Parallel stops paying when one unit takes more
    than three times the reference, or the median of the last ``window`` is
    slower. With ``every``, a new reference is taken after that many units.
    """

    def __init__(self, warmup=0, window=3, every=None, references=2):
        self.warmup, self.window, self.every, self.references = warmup, window, every, references
        self._reference = None
        self._reference_units = []
        self._times = []
        self._since_reference = 0

    def wants_reference(self):
        """Whether the next unit should run serially, as a reference."""
        due = self._reference is None or (
            self.every is not None and self._since_reference >= self.every
        )
        return due or 0 < len(self._reference_units) < self.references

    def reference(self, seconds):
        self._reference_units.append(seconds)
        if len(self._reference_units) == self.references:
            self._reference, self._reference_units = min(self._reference_units), []
            self._times, self._since_reference = [], 0

    def parallel(self, seconds):
        """Record a unit run in parallel; returns whether parallel still pays."""
        self._since_reference += 1
        if self.warmup > 0:
            self.warmup -= 1
            return True
        if self._reference is None:
            return True
        self._times = [*self._times, seconds][-self.window :]
        if seconds > 3 * self._reference:
            return False
        return len(self._times) < self.window or statistics.median(self._times) <= self._reference


class ThreadChooser:
    """Runs units of work with the BLAS threads in force, or with one when that is faster.

    For inference (``predict``, ``score``): the first two units run on one
    thread, then the others on the threads in force, timed per unit of
    ``work`` (:class:`Pacer`); when those turn slower (another job took a
    core), the rest runs on one. Use as a context manager; each call is
    ``chooser(work, function, *args)``.
    """

    def __init__(self, n_threads, pacer=None):
        self._controller = ThreadpoolController()
        if pacer is None and n_threads > 1:
            pacer = Pacer(window=3, references=2)
        self._pacer = pacer
        self._serial_limit = None

    def __call__(self, work, function, *args):
        run = functools.partial(function, *args)
        return self._paced(work, run, run)

    def _paced(self, work, serial, parallel):
        """``serial()`` or ``parallel()``, as the pacer says; times the unit.

        Both are functions of no arguments.
        """
        if self._pacer is None:
            return serial()
        reference = self._pacer.wants_reference()
        tic = time.perf_counter()
        if reference:
            with self._controller.limit(limits=1, user_api="blas"):
                out = serial()
        else:
            out = parallel()
        seconds = (time.perf_counter() - tic) / max(work, 1)
        if reference:
            self._pacer.reference(seconds)
        elif not self._pacer.parallel(seconds):
            self._go_serial()
        return out

    def _go_serial(self):
        with _fork.deferred_interrupts():
            self._pacer = None
            self._serial_limit = self._controller.limit(limits=1, user_api="blas")

    def close(self):
        with _fork.deferred_interrupts():
            if self._serial_limit is not None:
                self._serial_limit.restore_original_limits()
                self._serial_limit = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WindowTrainer(ThreadChooser):
    """Trains a window (:meth:`CharRNN.loss_and_grads`) in parallel or not, for one fit.

    In parallel means two processes, the streams split between them
    (:class:`SplitBatch`), or else this process alone with
    ``n_blas_threads`` BLAS threads. When that is more than one thread, the
    first two windows, and two in every 100, run serially (one process, one
    BLAS thread), to check that parallel pays; when it does not (another job
    took a core: two OpenBLAS threads on a shared core wait for each other at
    every product, and two processes at every window), training goes on
    serially. A fork that fails means one process, with a warning. The
    weights are the same to rounding either way, dropout masks included. Use
    as a context manager, which starts the second process; each call is
    ``trainer(x, y, state, seeds)``.
    """

    def __init__(self, net, seq_length, n_streams, n_processes, n_blas_threads):
        self._net, self._seq_length, self._n_streams = net, seq_length, n_streams
        self._n_processes, self._n_blas_threads = n_processes, n_blas_threads
        self._split = None
        super().__init__(1)

    def __enter__(self):
        # Started here, not in __init__: once __enter__ has returned, the with
        # statement is sure to call __exit__; a Ctrl-C held back until the end of
        # the set-up (or any failure) closes what was started.
        with _fork.guarded_setup(self.close):
            if self._n_processes >= 2 and self._n_streams >= 2:
                try:
                    self._split = SplitBatch(self._net, self._seq_length, self._n_streams)
                except OSError as exc:
                    warnings.warn(
                        f"The second training process could not be started ({exc}); "
                        "training in one process.",
                        RuntimeWarning,
                        stacklevel=4,
                    )
            if self._split is not None or self._n_blas_threads >= 2:
                # the child's first windows touch new arrays
                warmup = 2 if self._split is not None else 0
                self._pacer = Pacer(warmup=warmup, window=3, every=100, references=2)
        return self

    @property
    def n_processes(self):
        return 1 if self._split is None else 2

    def __call__(self, x, y, state, seeds=None):
        """Fill ``net.grads`` for one window and return its loss.

        ``seeds``: the dropout generators' pair.
        """
        rngs = None if seeds is None else [np.random.default_rng(s) for s in seeds]
        serial = functools.partial(self._net.loss_and_grads, x, y, state, rngs)
        parallel = serial
        if self._split is not None:
            parallel = functools.partial(
                self._split.loss_and_grads,
                x,
                y,
                state,
                None if seeds is None else (rngs[0], seeds[1]),
            )
        return self._paced(x.size, serial, parallel)

    def _go_serial(self):
        self._close_split()
        super()._go_serial()

    def close(self):
        self._close_split()
        super().close()

    def _close_split(self):
        if self._split is not None:
            self._split.close()  # idempotent: a Ctrl-C before the next line is harmless
            self._split = None


# With n_jobs=2, fit() trains each window on two processes, half the streams
# each (skrnn.rnn.split_batch), from this much work per window (seq_length x
# streams x hidden_size x n_layers) and this many streams. A window must repay
# a message each way: on 2 cores, 50 x 16 streams of an LSTM-32 ran 0.6x as
# fast on two processes, 50 x 32 of an LSTM-64 1.4x.
SPLIT_TRAINING_MIN_WORK = 1 << 16
SPLIT_TRAINING_MIN_STREAMS = 8


@contextlib.contextmanager
def window_trainer(net, seq_length, n_streams, n_jobs):
    """The BLAS thread limit while training, and the :class:`WindowTrainer` that trains a window.

    Two processes when ``n_jobs`` allows them and a window is big enough to
    repay the messages; the child then lives as long as the ``with`` block,
    so its work arrays are allocated once per fit.
    """
    work = seq_length * n_streams * net.hidden_size * net.n_layers
    pays = n_streams >= SPLIT_TRAINING_MIN_STREAMS and work >= SPLIT_TRAINING_MIN_WORK
    processes = n_processes(n_jobs) if pays else 1
    threads = n_blas_threads()
    with (
        blas_limit(threads),
        WindowTrainer(net, seq_length, n_streams, processes, threads) as trainer,
    ):
        yield trainer
