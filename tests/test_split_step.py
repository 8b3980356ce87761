"""Sampling on two processes (skrnn.rnn.split_step).

Same numbers as one process, clean failure and stop.
"""

import multiprocessing
import os
import time

import joblib
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from skrnn import CharRNNGenerator
from skrnn.rnn import CharRNN, SecondProcessError, split_step
from skrnn.rnn.split_step import SplitStepper

pytestmark = pytest.mark.skipif(
    not split_step.available() or joblib.cpu_count() < 2, reason="needs x86-64 Linux and 2 CPUs"
)

TEXT = "the quick brown fox jumps over the lazy dog. " * 40
N_CHARS = 2500  # long enough for n_jobs=2 to sample on two processes


@pytest.fixture(scope="module")
def large():
    """A model with 1 MB of recurrent weights: n_jobs=2 samples it on two processes."""
    return CharRNNGenerator(
        hidden_size=256, n_layers=1, seq_length=16, batch_size=8, max_iter=1, random_state=0
    ).fit(TEXT)


def _no_children_left():
    return not [p for p in multiprocessing.active_children() if p.name == "skrnn-split-step"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("n_layers,hidden_size,n_streams", [(1, 32, 1), (3, 32, 3), (2, 33, 2)])
def test_split_steps_equal_one_process(cell, n_layers, hidden_size, n_streams):
    net = CharRNN(11, hidden_size, n_layers=n_layers, cell=cell).init_params(
        np.random.default_rng(0)
    )
    rng = np.random.default_rng(1)
    state = net.zero_state(n_streams)
    net.forward(rng.integers(0, 11, (7, n_streams)), state)  # a non-zero starting state
    ids = rng.integers(0, 11, (40, n_streams))
    with threadpool_limits(limits=1):
        serial_state = net.step_state(state)
        expected = [net.step(x, serial_state) for x in ids]
        with SplitStepper(net, net.step_state(state)) as stepper:
            got = [stepper.step(x).copy() for x in ids]
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
    if hidden_size % 32 == 0:  # halves of a SIMD-friendly size: the very same operations
        assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))
    assert _no_children_left()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(prime="the qu", temperature=0.5),
        dict(top_k=3, n_samples=2),
        dict(temperature=0),
    ],
)
def test_sample_is_the_same_for_every_n_jobs(kwargs, large, record_calls):
    started = record_calls(SplitStepper, "__init__")
    split = large.set_params(n_jobs=2).sample(N_CHARS, random_state=3, **kwargs)
    assert started, "the two-process path was not taken"
    assert large.set_params(n_jobs=1).sample(N_CHARS, random_state=3, **kwargs) == split
    assert len(started) == 1  # n_jobs=1 starts no process
    assert _no_children_left()


def test_two_jobs_sample_on_two_processes_only_where_it_pays(large, record_calls):
    started = record_calls(SplitStepper, "__init__")
    small = CharRNNGenerator(
        hidden_size=32,
        n_layers=2,
        seq_length=16,
        batch_size=8,
        max_iter=1,
        random_state=0,
        n_jobs=2,
    ).fit(TEXT)
    small.sample(N_CHARS, random_state=0)  # small weights: one process is faster
    large.set_params(n_jobs=2).sample(100, random_state=0)  # too short to repay starting a process
    large.set_params(n_jobs=None).sample(N_CHARS, random_state=0)  # the default is one process
    assert started == []
    with joblib.parallel_config(n_jobs=2):
        large.sample(N_CHARS, random_state=0)
    assert len(started) == 1


def test_sampling_moves_to_one_process_when_two_stop_paying(large, monkeypatch, record_calls):
    real_step = SplitStepper.step

    def starved(self, ids):  # as when another job takes a core
        time.sleep(0.001)
        return real_step(self, ids)

    monkeypatch.setattr(SplitStepper, "step", starved)
    steps = record_calls(SplitStepper, "step")
    text = large.set_params(n_jobs=2).sample(N_CHARS, random_state=5)
    assert (
        0 < len(steps) <= 5 * 64
    )  # a warm-up block and 3 compared blocks (of 64 steps), then one process
    assert _no_children_left()
    assert large.set_params(n_jobs=1).sample(N_CHARS, random_state=5) == text  # handed over exactly


def test_a_failing_fork_falls_back_to_one_process(large, monkeypatch):
    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    expected = large.set_params(n_jobs=1).sample(N_CHARS, random_state=0)
    monkeypatch.setattr(os, "fork", no_fork)
    with pytest.warns(RuntimeWarning, match="could not be started.*one process"):
        assert large.set_params(n_jobs=2).sample(N_CHARS, random_state=0) == expected


def test_a_dead_child_raises_instead_of_hanging(large, monkeypatch):
    est = large.set_params(n_jobs=2)
    real_bind_step = type(est._net.layers[0]).bind_step

    def dies_in_the_child(self, *args, **kwargs):
        step = real_bind_step(self, *args, **kwargs)
        if self.unit_offset > 0:  # only the child steps the upper part (it inherits this patch)
            return lambda: os._exit(3)
        return step

    monkeypatch.setattr(type(est._net.layers[0]), "bind_step", dies_in_the_child)
    with pytest.raises(SecondProcessError, match=r"two-process sample.*exit code 3"):
        est.sample(N_CHARS, random_state=0)
    assert _no_children_left()


def test_interrupting_the_parent_stops_the_child(large, monkeypatch):
    est = large.set_params(n_jobs=2)
    real_step = SplitStepper.step
    calls = []

    def interrupted(self, ids):
        calls.append(1)
        if len(calls) == 50:
            raise KeyboardInterrupt
        return real_step(self, ids)

    monkeypatch.setattr(SplitStepper, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.sample(N_CHARS, random_state=0)
    assert calls and _no_children_left()
    monkeypatch.setattr(SplitStepper, "step", real_step)
    assert len(est.sample(N_CHARS, random_state=0)) == N_CHARS  # and the next sample works


def test_stepper_needs_two_units():
    net = CharRNN(5, 1).init_params(np.random.default_rng(0))
    with pytest.raises(ValueError, match="hidden_size >= 2"):
        SplitStepper(net, net.step_state(net.zero_state(1)))
