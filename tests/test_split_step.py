"""Sampling on two processes (skrnn.rnn.split_step): same numbers as one process, clean failure and stop."""

import multiprocessing
import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import skrnn.char_rnn as char_rnn
from skrnn import CharRNNGenerator
from skrnn.rnn import CharRNN, split_step
from skrnn.rnn.split_step import SplitStepper

pytestmark = pytest.mark.skipif(not split_step.available(), reason="needs x86-64 Linux and 2 CPUs")

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


@pytest.fixture
def always_split(monkeypatch):
    """Make sample() split any model and any length."""
    monkeypatch.setattr(char_rnn, "_SPLIT_SAMPLING_MIN_BYTES", 0)
    monkeypatch.setattr(char_rnn, "_SPLIT_SAMPLING_MIN_CHARS", 1)
    monkeypatch.setattr(CharRNNGenerator, "_n_blas_threads", staticmethod(lambda: 2))


def _no_children_left():
    return not [p for p in multiprocessing.active_children() if p.name == "skrnn-split-step"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("n_layers,hidden_size,n_streams", [(1, 32, 1), (3, 32, 3), (2, 33, 2)])
def test_split_steps_equal_one_process(cell, n_layers, hidden_size, n_streams):
    net = CharRNN(11, hidden_size, n_layers=n_layers, cell=cell).init_params(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    state = net.zero_state(n_streams)
    net.forward(rng.integers(0, 11, (7, n_streams)), state)  # a non-zero starting state
    ids = rng.integers(0, 11, (40, n_streams))
    with threadpool_limits(limits=1):
        serial_state = net.step_state(state)
        expected = [net.step(x, serial_state) for x in ids]
        with SplitStepper(net, net.step_state(state)) as stepper:
            got = [stepper.step(x).copy() for x in ids]
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
    if hidden_size % 32 == 0:  # halves of a SIMD-friendly size: the very same operations
        assert all(np.array_equal(a, b) for a, b in zip(expected, got))
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
def test_sample_is_the_same_split_or_not(kwargs, always_split, monkeypatch, record_calls):
    est = CharRNNGenerator(hidden_size=32, n_layers=2, seq_length=16, batch_size=8, max_iter=2,
                           random_state=0).fit(TEXT)
    started = record_calls(SplitStepper, "__init__")
    split = est.sample(300, random_state=3, **kwargs)
    assert started, "the two-process path was not taken"
    monkeypatch.setattr(char_rnn, "_SPLIT_SAMPLING_MIN_CHARS", 10**9)
    assert est.sample(300, random_state=3, **kwargs) == split
    assert _no_children_left()


def test_split_only_where_it_pays(monkeypatch):
    small = CharRNNGenerator(hidden_size=32, n_layers=2, seq_length=16, batch_size=8, max_iter=1, random_state=0).fit(TEXT)
    assert not small._split_sampling(10**6)  # small weights: one process is faster
    monkeypatch.setattr(char_rnn, "_SPLIT_SAMPLING_MIN_BYTES", 0)
    assert not small._split_sampling(10)  # too short to repay starting a process
    monkeypatch.setattr(CharRNNGenerator, "_n_blas_threads", staticmethod(lambda: 2))
    assert small._split_sampling(10**6)
    monkeypatch.setattr(split_step, "available", lambda: False)
    assert not small._split_sampling(10**6)


def test_split_respects_an_outer_thread_limit(monkeypatch):
    monkeypatch.setattr(char_rnn, "_SPLIT_SAMPLING_MIN_BYTES", 0)
    est = CharRNNGenerator(hidden_size=32, n_layers=1, seq_length=16, batch_size=8, max_iter=1, random_state=0).fit(TEXT)
    with threadpool_limits(limits=1):  # as in a joblib worker sized for fits side by side
        assert not est._split_sampling(10**6)


def test_a_dead_child_raises_instead_of_hanging(always_split, monkeypatch):
    est = CharRNNGenerator(hidden_size=32, n_layers=2, seq_length=16, batch_size=8, max_iter=1, random_state=0).fit(TEXT)
    real_bind_step = type(est._net.layers[0]).bind_step

    def dies_in_the_child(self, *args, **kwargs):
        step = real_bind_step(self, *args, **kwargs)
        if self.unit_offset > 0:  # only the child steps the upper part (it inherits this patch)
            return lambda: os._exit(3)
        return step

    monkeypatch.setattr(type(est._net.layers[0]), "bind_step", dies_in_the_child)
    with pytest.raises(RuntimeError, match="two-process sample"):
        est.sample(500, random_state=0)
    assert _no_children_left()


def test_interrupting_the_parent_stops_the_child(always_split, monkeypatch):
    est = CharRNNGenerator(hidden_size=32, n_layers=2, seq_length=16, batch_size=8, max_iter=1, random_state=0).fit(TEXT)
    real_step = SplitStepper.step
    calls = []

    def interrupted(self, ids):
        calls.append(1)
        if len(calls) == 50:
            raise KeyboardInterrupt
        return real_step(self, ids)

    monkeypatch.setattr(SplitStepper, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.sample(500, random_state=0)
    assert _no_children_left()
    monkeypatch.setattr(SplitStepper, "step", real_step)
    assert len(est.sample(500, random_state=0)) == 500  # and the next sample works


def test_stepper_needs_two_units():
    net = CharRNN(5, 1).init_params(np.random.default_rng(0))
    with pytest.raises(ValueError, match="hidden_size >= 2"):
        SplitStepper(net, net.step_state(net.zero_state(1)))
