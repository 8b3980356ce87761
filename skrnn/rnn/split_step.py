"""Generation on two processes, each stepping part of every layer's units.

Why: sampling one stream reads every weight once per character. For the
default two-layer LSTM-256 that is 3 MB per character, more than one core's
2 MB L2 cache, so each step streams the weights from L3 (measured: 115-130 us
for 3 MB of matrix-vector products, against 14 us for 1 MB held in L2).
OpenBLAS's own threads do not help with these products (measured: no gain).
Split by units, each process keeps its part of the weights' columns (every
gate of its units) in its own core's L2: the same 3 MB took 39 us per step on
two processes, barriers included; a whole character of the default model,
sampling included, 92 us against 210 us in one process.

Processes, not threads: a step is a dozen small NumPy calls per layer, and two
threads would hand the GIL to each other around every one of them. The two
processes meet after each layer at a barrier that spins on counters in shared
memory (a wake-up through a pipe or semaphore costs tens of microseconds).

Protocol, for step ``s = 1, 2, ...``: the parent writes the input ids and
bumps ``IDS``; then, for each layer ``l``, both processes read the whole
previous ``[h, 1]`` of layer ``l`` from buffer ``(s - 1) % 2``, write their
units' new ``h`` into buffer ``s % 2`` and bump their counter; each waits for
the other's counter before layer ``l + 1``. The parent then computes the
logits from the top layer's ``h`` and samples the next ids; meanwhile the
child computes the part of its next step that needs no input, ``[h, 1] @ [Wh;
b]`` of every layer, so it takes the larger share of the units. Double
buffering means neither process overwrites an ``h`` the other may still be
reading.

The spin-wait barriers rely on x86-64's ordering of stores (data written
before the counter is seen before it), so :func:`available` is false on other
machines. The child is forked (see :mod:`skrnn.rnn._fork`).
"""

from __future__ import annotations

import functools
import os
import platform
import time

import numpy as np

from . import _fork
from ._fork import SecondProcessError

__all__ = ["SplitStepper", "available"]

# Counters in the int64 control block, each on its own 64-byte cache line.
_PARENT, _CHILD, _IDS, _STOP = 0, 8, 16, 24
_CONTROL_SIZE = 32
_SPINS_PER_CHECK = 1 << 14  # spins between liveness checks (a few milliseconds)
_CHECKS_BEFORE_SLEEPING = 8  # then a waiting process sleeps a millisecond between checks
# A wait longer than this means the other process is stopped or starved: the parent raises.
_WAIT_SECONDS = 10.0
# The parent's share of every layer's units. The child computes its next step's
# recurrent products while the parent samples, so it takes more units: measured
# per character (default model), 110 us at 1/2 and 92 us at 7/16, 97 us at 3/8.
_PARENT_SHARE = 7 / 16


def available():
    """Whether this machine can run a :class:`SplitStepper`: x86-64 Linux."""
    return platform.machine().lower() in ("x86_64", "amd64") and _fork.available()


class _Buffers:
    """Shared views: per layer two ``(B, H + 1)`` ``[h, 1]`` buffers, the ids, the counters."""

    def __init__(self, n_layers, batch_size, hidden_size, dtype):
        self.h = _fork.shared_array((n_layers, 2, batch_size, hidden_size + 1), dtype)
        self.ids = _fork.shared_array((batch_size,), np.int64)
        self.control = _fork.shared_array((_CONTROL_SIZE,), np.int64)


def _shards(net, lo, hi):
    return [layer.unit_shard(lo, hi) for layer in net.layers]


def _wait(control, index, target, alive):
    """Spin until ``control[index] >= target``.

    ``alive()`` is called now and then (it raises to stop). A wait that
    outlasts the spinning (the other process stopped or starved) sleeps
    between checks instead, so that it does not hold a core.
    """
    spins, checks = 0, 0
    while control[index] < target:
        spins += 1
        if spins == _SPINS_PER_CHECK:
            spins, checks = 0, checks + 1
            alive()
            if checks < _CHECKS_BEFORE_SLEEPING:
                os.sched_yield()
            else:
                time.sleep(0.001)


def _plan(buf, shards, states, recurrent_done):
    """For each step parity, per layer: ``(step, recurrent)``, functions of no arguments.

    ``step()`` steps the shard from the previous ``[h, 1]`` into its units of
    the new one (``recurrent_done``: with the recurrent product already made);
    ``recurrent()`` makes that product ahead. Every view is made once.
    """
    H = buf.h.shape[-1] - 1
    plans = []
    for parity in (0, 1):
        x, steps = buf.ids, []
        for layer, shard, state in zip(buf.h, shards, states, strict=True):
            new, prev, lo = layer[parity], layer[1 - parity], shard.unit_offset
            out = new[:, lo : lo + shard.hidden_size]
            steps.append(
                (
                    shard.bind_step(x, prev, state, out, recurrent_done),
                    functools.partial(shard.step_recurrent, prev),
                )
            )
            x = new[:, :H]
        plans.append(steps)
    return plans


def _step_shards(plan, control, mine, theirs, count, alive):
    """One step of every layer for this process's units; returns the updated counter."""
    for step, _ in plan:
        step()
        count += 1
        control[mine] = count
        if control[theirs] < count:
            _wait(control, theirs, count, alive)
    return count


class _Stop(Exception):
    pass


def _child(net, lo, hi, buf, cell_state, parent_pid):
    """The second process: steps units ``lo:hi`` of every layer until told to stop."""
    plans = _plan(buf, _shards(net, lo, hi), cell_state, recurrent_done=True)

    def alive():
        if buf.control[_STOP] != 0 or not _fork.parent_alive(parent_pid):
            raise _Stop

    count, s = 0, 0
    try:
        while True:
            # The half of the next step that needs no input, while the parent samples it.
            for _, recurrent in plans[(s + 1) % 2]:
                recurrent()
            s += 1
            _wait(buf.control, _IDS, s, alive)
            count = _step_shards(plans[s % 2], buf.control, _CHILD, _PARENT, count, alive)
    except _Stop:  # told to stop, or the parent is gone
        return


class SplitStepper:
    """:meth:`CharRNN.step` for ``B`` streams on two processes (this one and a child).

    The parent steps the first ``7/16`` of every layer's units (in
    multiples of 16), the child the rest.
    Use as a context manager: the child is stopped on exit. Results equal
    :meth:`CharRNN.step`'s (the same products and operations, on column
    subsets). :meth:`step_state` hands the state back to one process.

    Parameters
    ----------
    net : CharRNN
    step_state : list
        The state from :meth:`CharRNN.step_state` (read, not updated).

    Raises
    ------
    OSError
        When the child cannot be forked (nothing is left behind).
    """

    def __init__(self, net, step_state):
        B = len(step_state[0][0])
        H = net.hidden_size
        if H < 2:
            raise ValueError(f"splitting the units of a layer needs hidden_size >= 2, got {H}.")
        self._proc = None
        self._s = self._count = 0
        with _fork.guarded_setup(self.close):
            self._buf = buf = _Buffers(net.n_layers, B, H, net.dtype)
            buf.h[..., H] = 1.0
            for layer_buf, state in zip(buf.h, step_state, strict=True):
                layer_buf[0] = state[0]  # [h, 1] before step 1
            # Multiples of 16 units keep NumPy's SIMD loops free of remainders.
            self._split = split = min(H - 1, max(1, round(H * _PARENT_SHARE / 16) * 16 or H // 2))
            self._net = net
            self._top = [buf.h[-1, parity, :, :H] for parity in (0, 1)]
            # The rest of a layer's state (the LSTM's c) is the units' owner's; the
            # child's is shared so that step_state() can hand it back.
            self._states = [[c[:, :split].copy() for c in state[1:]] for state in step_state]
            self._child_states = [
                [_fork.shared_array(c[:, split:].shape, c.dtype) for c in state[1:]]
                for state in step_state
            ]
            for shared, state in zip(self._child_states, step_state, strict=True):
                for a, c in zip(shared, state[1:], strict=True):
                    a[...] = c[:, split:]
            self._plans = _plan(buf, _shards(net, 0, split), self._states, recurrent_done=False)
            self._proc = _fork.start(
                _child, (net, split, H, buf, self._child_states, os.getpid()), "skrnn-split-step"
            )

    def step(self, ids):
        """One step from the ids ``(B,)``; returns the logits ``(B, n_symbols)``."""
        buf = self._buf
        self._s = s = self._s + 1
        buf.ids[:] = ids
        buf.control[_IDS] = s
        deadline = time.perf_counter() + _WAIT_SECONDS

        def alive():
            if not _fork.is_alive(self._proc):
                raise SecondProcessError(
                    f"the second process of a two-process sample() stopped (exit code "
                    f"{_fork.exit_code(self._proc)}); sample in one process with n_jobs=1."
                )
            if time.perf_counter() > deadline:
                raise SecondProcessError(
                    "the second process of a two-process sample() did not answer "
                    f"within {_WAIT_SECONDS:.0f} s (is it stopped?); it was killed. "
                    "Sample in one process with n_jobs=1."
                )

        self._count = _step_shards(
            self._plans[s % 2], buf.control, _PARENT, _CHILD, self._count, alive
        )
        return self._net.logits(self._top[s % 2])

    def step_state(self):
        """The state after the last step, whole, in :meth:`CharRNN.step`'s layout (copies)."""
        parity = self._s % 2
        return [
            [self._buf.h[layer, parity].copy()]
            + [np.concatenate([a, b], axis=1) for a, b in zip(mine, theirs, strict=True)]
            for layer, (mine, theirs) in enumerate(
                zip(self._states, self._child_states, strict=True)
            )
        ]

    def close(self):
        """Stop the child process (idempotent)."""
        with _fork.deferred_interrupts():
            if self._proc is not None:
                self._buf.control[_STOP] = 1
                _fork.stop(self._proc, timeout=2.0)
                self._proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
