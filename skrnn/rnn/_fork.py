"""A second worker process on the second core: what the two-process paths share.

:mod:`skrnn.rnn.split_step` (generation) and :mod:`skrnn.rnn.split_batch`
(training) each run part of the work in one forked child, talking through
shared memory.

Why fork: the child starts in a few milliseconds, inherits the network without
pickling, and, unlike ``spawn`` or ``forkserver`` children, does not re-import
the user's ``__main__`` script (which, without an ``if __name__ ==
"__main__"`` guard, would run it again). Forking a process that has threads
(OpenBLAS's, TensorFlow's) is safe here because the child runs only NumPy on
arrays it inherited or that live in shared memory, and leaves with
``os._exit``; Python 3.12+'s warning about it is silenced for that reason.
Only Linux: macOS's system libraries are not safe to use after a fork.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import warnings

import numpy as np

__all__ = ["available", "parent_alive", "pipe", "shared_array", "start", "stop"]

_CONTEXT = "fork"


def available():
    """Whether a forked helper can run here.

    Linux, at least 2 CPUs this process may use, and not a daemonic process
    (``multiprocessing`` forbids children there; Dask's workers are daemonic).
    """
    return (
        sys.platform.startswith("linux")
        and _CONTEXT in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
        and len(os.sched_getaffinity(0)) >= 2
    )


def shared_array(shape, dtype):
    """A zeroed array in memory shared with children forked afterwards."""
    dtype = np.dtype(dtype)
    raw = multiprocessing.get_context(_CONTEXT).RawArray("b", max(1, int(np.prod(shape)) * dtype.itemsize))
    return np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape))).reshape(shape)


def pipe():
    """A duplex ``multiprocessing`` pipe, ``(parent_end, child_end)``."""
    return multiprocessing.get_context(_CONTEXT).Pipe()


def _run_child(target, args):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent handles it
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # the parent keeps the other core
    target(*args)


def start(target, args, name):
    """Fork a daemon child running ``target(*args)`` with one BLAS thread and Ctrl-C ignored."""
    proc = multiprocessing.get_context(_CONTEXT).Process(target=_run_child, args=(target, args), name=name,
                                                        daemon=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*multi-threaded, use of fork\(\) may lead to deadlocks",
                                category=DeprecationWarning)
        proc.start()
    return proc


def stop(proc, timeout=5.0):
    """Wait up to ``timeout`` seconds for ``proc`` to leave (it has been told to), then kill it."""
    proc.join(timeout=timeout)
    if proc.exitcode is None:
        proc.kill()
        proc.join()


def parent_alive(pid):
    """Whether process ``pid`` still exists (for a child that outlives a crashed parent)."""
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except OSError:
        return False
    return True
