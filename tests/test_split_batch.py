"""Training on two processes (skrnn.rnn.split_batch): the same gradients to rounding, clean failure and stop."""

import multiprocessing
import os
import pickle
import warnings

import numpy as np
import pytest

import skrnn.char_rnn as char_rnn
from skrnn import CharRNNGenerator
from skrnn.rnn import CharRNN, _fork
from skrnn.rnn.split_batch import SplitBatch

pytestmark = pytest.mark.skipif(not _fork.available(), reason="needs Linux and 2 CPUs")

TEXT = "the quick brown fox jumps over the lazy dog. " * 60


@pytest.fixture
def always_split(monkeypatch, record_calls):
    """Make fit() split any window of at least 2 streams; returns the trainers started."""
    monkeypatch.setattr(char_rnn, "_SPLIT_TRAINING_MIN_WORK", 0)
    monkeypatch.setattr(char_rnn, "_SPLIT_TRAINING_MIN_STREAMS", 2)
    monkeypatch.setattr(CharRNNGenerator, "_n_blas_threads", staticmethod(lambda: 2))
    return record_calls(SplitBatch, "__init__")


def _no_children_left():
    return not [p for p in multiprocessing.active_children() if p.name == "skrnn-split-batch"]


def _state_copy(state):
    return [[a.copy() for a in layer] for layer in state]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("n_layers,n_streams", [(1, 6), (2, 5)])
def test_split_windows_match_one_process(cell, n_layers, n_streams):
    net = CharRNN(9, 16, n_layers=n_layers, cell=cell).init_params(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    windows = [(rng.integers(0, 9, (T, n_streams)), rng.integers(0, 9, (T, n_streams))) for T in (12, 12, 7)]
    state = net.zero_state(n_streams)
    expected = []
    for x, y in windows:
        loss = net.loss_and_grads(x, y, state)
        expected.append((loss, net.grads.copy(), _state_copy(state)))
    params = net.params.copy()
    state = net.zero_state(n_streams)
    with SplitBatch(net, 12, n_streams) as trainer:
        for (x, y), (loss, grads, after) in zip(windows, expected):
            got = trainer.loss_and_grads(x, y, state)
            np.testing.assert_allclose(got, loss, rtol=1e-5)
            np.testing.assert_allclose(net.grads, grads, rtol=1e-4, atol=1e-7)
            for a, b in zip(state, after):
                for u, v in zip(a, b):
                    np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    assert np.array_equal(net.params, params)
    assert net.params.flags.owndata  # back in private memory
    assert _no_children_left()


def test_the_child_reads_updated_weights():
    net = CharRNN(9, 16, n_layers=1).init_params(np.random.default_rng(0))
    x = np.random.default_rng(1).integers(0, 9, (10, 4))
    with SplitBatch(net, 10, 4) as trainer:
        trainer.loss_and_grads(x, x, net.zero_state(4))
        net.params *= 0.5  # what an optimizer step does: in place
        split = trainer.loss_and_grads(x, x, net.zero_state(4))
        split_grads = net.grads.copy()
    np.testing.assert_allclose(net.loss_and_grads(x, x, net.zero_state(4)), split, rtol=1e-5)
    np.testing.assert_allclose(net.grads, split_grads, rtol=1e-4, atol=1e-7)


def test_dropout_masks_depend_only_on_the_generator():
    net = CharRNN(9, 16, n_layers=2, dropout=0.3).init_params(np.random.default_rng(0))
    x = np.random.default_rng(1).integers(0, 9, (10, 6))
    runs = []
    for _ in range(2):
        with SplitBatch(net, 10, 6) as trainer:
            trainer.loss_and_grads(x, x, net.zero_state(6), np.random.default_rng(5))
            runs.append(net.grads.copy())
    assert np.array_equal(runs[0], runs[1])
    with SplitBatch(net, 10, 6) as trainer:
        trainer.loss_and_grads(x, x, net.zero_state(6), np.random.default_rng(6))
        assert not np.array_equal(net.grads, runs[0])


def test_fit_split_or_not_agrees_to_rounding(always_split, monkeypatch):
    params = dict(hidden_size=16, n_layers=2, seq_length=12, batch_size=6, max_iter=2, random_state=0,
                  validation_fraction=0.1)
    split = CharRNNGenerator(**params).fit(TEXT)
    assert len(always_split) == 1  # one child for the whole fit
    monkeypatch.setattr(char_rnn, "_SPLIT_TRAINING_MIN_WORK", float("inf"))
    one = CharRNNGenerator(**params).fit(TEXT)
    assert len(always_split) == 1
    assert not np.array_equal(split._net.params, one._net.params)  # summed in another order
    np.testing.assert_allclose(split.loss_curve_, one.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(split._net.params, one._net.params, rtol=1e-3, atol=1e-5)
    assert split._net.params.flags.owndata
    clone = pickle.loads(pickle.dumps(split))
    assert clone.score(TEXT[:200]) == split.score(TEXT[:200])
    monkeypatch.setattr(char_rnn, "_SPLIT_TRAINING_MIN_WORK", 0)
    split.partial_fit(TEXT)  # and training goes on
    assert split.n_iter_ == 3 and len(always_split) == 2
    assert _no_children_left()


def test_split_training_only_where_it_pays(monkeypatch):
    est = CharRNNGenerator(hidden_size=16, n_layers=1, seq_length=12, batch_size=6, max_iter=1).fit(TEXT)
    assert not est._split_training(6)  # a tiny window: the messages would cost more than they save
    monkeypatch.setattr(char_rnn, "_SPLIT_TRAINING_MIN_WORK", 0)
    monkeypatch.setattr(CharRNNGenerator, "_n_blas_threads", staticmethod(lambda: 2))
    assert est._split_training(8)
    assert not est._split_training(4)  # fewer streams than _SPLIT_TRAINING_MIN_STREAMS
    monkeypatch.setattr(CharRNNGenerator, "_n_blas_threads", staticmethod(lambda: 1))
    assert not est._split_training(8)  # e.g. in a joblib worker sized for fits side by side


def _exit_3():
    os._exit(3)


def _raise_memory_error():
    raise MemoryError("no room for the work arrays")


@pytest.mark.parametrize(
    "fault,message",
    [
        (_exit_3, r"second training process stopped \(exit code 3\).*threadpool_limits"),  # the child dies
        (_raise_memory_error, "MemoryError: no room for the work arrays"),  # the child fails
    ],
)
def test_a_failing_child_raises_a_clear_error(fault, message, always_split, monkeypatch):
    real = CharRNN.loss_and_grads
    parent = os.getpid()

    def in_the_child(self, *args, **kwargs):
        if os.getpid() != parent:  # the forked child inherits this patch
            fault()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(CharRNN, "loss_and_grads", in_the_child)
    est = CharRNNGenerator(hidden_size=16, seq_length=12, batch_size=6, max_iter=1, validation_fraction=0,
                           early_stopping=False)
    with pytest.raises(RuntimeError, match=message):
        est.fit(TEXT)
    assert _no_children_left()


def test_interrupting_a_split_fit_keeps_a_usable_model(always_split, monkeypatch):
    real = SplitBatch.loss_and_grads
    calls = []

    def interrupted(self, *args):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(SplitBatch, "loss_and_grads", interrupted)
    est = CharRNNGenerator(hidden_size=16, seq_length=12, batch_size=6, max_iter=3, validation_fraction=0,
                           early_stopping=False, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(TEXT)
    assert any("interrupt" in str(w.message).lower() for w in caught)
    assert est._net.params.flags.owndata and np.isfinite(est._net.params).all()
    assert _no_children_left()
    assert len(est.sample(20, random_state=0)) == 20


def _fit_and_sample_in_a_daemon(conn):
    try:
        char_rnn._SPLIT_TRAINING_MIN_WORK = 0
        char_rnn._SPLIT_SAMPLING_MIN_BYTES = 0
        char_rnn._SPLIT_SAMPLING_MIN_CHARS = 1
        est = CharRNNGenerator(hidden_size=16, seq_length=12, batch_size=6, max_iter=1).fit(TEXT)
        conn.send((_fork.available(), len(est.sample(50, random_state=0))))
    except BaseException as exc:  # reported to the test
        conn.send(repr(exc))


def test_a_daemonic_process_fits_and_samples_alone():
    # Dask's workers are daemonic, and multiprocessing forbids children there.
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe()
    proc = ctx.Process(target=_fit_and_sample_in_a_daemon, args=(send,), daemon=True)
    proc.start()
    assert receive.recv() == (False, 50)
    proc.join()
