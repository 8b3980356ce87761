"""A second worker process on the second core: what the two-process paths share.

:mod:`skrnn.rnn.split_step` (generation) and :mod:`skrnn.rnn.split_batch`
(training) each run part of the work in one forked child, talking through
shared memory. The child lives no longer than the call that started it.

Why fork: the child starts in a few milliseconds, inherits the network without
pickling, and, unlike ``spawn`` or ``forkserver`` children, does not re-import
the user's ``__main__`` script (which, without an ``if __name__ ==
"__main__"`` guard, would run it again). Forking a process that has threads
(OpenBLAS's, TensorFlow's) is safe here because the child runs only NumPy on
arrays it inherited or that live in shared memory, and leaves with
``os._exit``; Python 3.12+'s warning about it is silenced for that reason.
Only Linux: macOS's system libraries are not safe to use after a fork.

Hygiene, whatever happens to either process:

- the child asks the kernel to kill it when its parent dies
  (``PR_SET_PDEATHSIG``), then checks that the parent did not die first;
- the child closes the parent's ends of the pipes, so a dead parent is an
  end of file, not a silent wait;
- the parent learns that the child is gone from its sentinel, a pipe the
  kernel closes when the child exits, which works whether or not the child
  has been reaped (``SIGCHLD`` ignored) -- never from the exit code alone;
- every wait has a deadline, so a stopped child (``SIGSTOP``) is an error,
  not a hang;
- set-up and tear-down defer Ctrl-C until they are complete, so an
  interruption never leaves a child or a half-made shared state behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import warnings

import numpy as np

__all__ = [
    "SecondProcessError",
    "available",
    "deferred_interrupts",
    "exit_code",
    "guarded_setup",
    "is_alive",
    "parent_alive",
    "pipe",
    "shared_array",
    "start",
    "stop",
]

_CONTEXT = "fork"
_PR_SET_PDEATHSIG = 1


class SecondProcessError(RuntimeError):
    """The second process of a two-process ``fit`` or ``sample`` died, failed or stopped answering.

    The estimator keeps the weights of its last completed training window;
    with ``n_jobs=1`` no second process is started.
    """


def available():
    """Whether a forked helper can run here.

    Linux, and not a daemonic process (``multiprocessing`` forbids children
    there; Dask's workers are daemonic). How many CPUs this process may use
    (affinity and a cgroup CPU quota) is :func:`skrnn.rnn.parallel.n_processes`'s concern.
    """
    return (
        sys.platform.startswith("linux")
        and _CONTEXT in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


def shared_array(shape, dtype):
    """A zeroed array in memory shared with children forked afterwards."""
    dtype = np.dtype(dtype)
    raw = multiprocessing.get_context(_CONTEXT).RawArray(
        "b", max(1, int(np.prod(shape)) * dtype.itemsize)
    )
    return np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape))).reshape(shape)


def pipe():
    """A duplex ``multiprocessing`` pipe, ``(parent_end, child_end)``."""
    return multiprocessing.get_context(_CONTEXT).Pipe()


@contextlib.contextmanager
def deferred_interrupts():
    """Hold a Ctrl-C (``SIGINT``) back until the block is complete.

    The ``KeyboardInterrupt`` is raised then. Only in the main thread, where
    Python runs signal handlers; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        if callable(previous):
            previous(signal.SIGINT, None)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt


@contextlib.contextmanager
def guarded_setup(close):
    """A set-up with Ctrl-C held back that calls ``close()`` if it fails.

    Ctrl-C is held back by :func:`deferred_interrupts`. A Ctrl-C held back is
    raised at the end of the block, once everything started is known: it then
    fails the set-up too, and ``close()`` stops what was started.
    """
    try:
        with deferred_interrupts():
            yield
    except BaseException:
        close()
        raise


def _die_with_parent(parent_pid):
    """Have the kernel kill this process when its parent exits; exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the pipes' end of file and parent_alive remain
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _run_child(parent_pid, close_in_child, target, args):
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C reaches the whole process group: the parent handles it
    _die_with_parent(parent_pid)
    for conn in close_in_child:
        conn.close()
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # the parent keeps the other core
    target(*args)


def start(target, args, name, close_in_child=()):
    """Fork a daemon child running ``target(*args)`` with one BLAS thread and Ctrl-C ignored.

    ``close_in_child``: the parent's pipe ends, which the child closes.
    Raises ``OSError`` when the fork fails.
    """
    proc = multiprocessing.get_context(_CONTEXT).Process(
        target=_run_child,
        args=(os.getpid(), tuple(close_in_child), target, args),
        name=name,
        daemon=True,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r".*multi-threaded, use of fork\(\) may lead to deadlocks",
            category=DeprecationWarning,
        )
        proc.start()
    return proc


def is_alive(proc):
    """Whether ``proc`` is still running: its sentinel is not closed.

    This works when it has been reaped too.
    """
    return not multiprocessing.connection.wait([proc.sentinel], timeout=0)


def exit_code(proc):
    """``proc``'s exit code, or "unknown" (reaped elsewhere, e.g. with ``SIGCHLD`` ignored)."""
    proc.join(timeout=0.1)
    return "unknown" if proc.exitcode is None else proc.exitcode


def stop(proc, timeout=5.0):
    """Wait up to ``timeout`` seconds for ``proc`` to leave (it has been told to), then kill it."""
    if not multiprocessing.connection.wait([proc.sentinel], timeout=timeout):
        with contextlib.suppress(OSError):
            os.kill(proc.pid, signal.SIGKILL)  # also ends a stopped process
        multiprocessing.connection.wait([proc.sentinel], timeout=timeout)
    proc.join(timeout=0.1)  # reap it where this process still can


def parent_alive(pid):
    """Whether process ``pid`` is still this process's parent.

    For a child that outlives a crashed parent.
    """
    return os.getppid() == pid
