"""Training on two processes (skrnn.rnn.split_batch).

The same gradients to rounding, clean failure and stop.
"""

import multiprocessing
import os
import pickle
import time
import warnings

import joblib
import numpy as np
import pytest

from skrnn import CharRNNGenerator
from skrnn.rnn import CharRNN, SecondProcessError, _fork
from skrnn.rnn.parallel import WindowTrainer
from skrnn.rnn.split_batch import SplitBatch

pytestmark = pytest.mark.skipif(
    not _fork.available() or joblib.cpu_count() < 2, reason="needs Linux and 2 CPUs"
)

TEXT = "the quick brown fox jumps over the lazy dog. " * 60
# Windows of 16 x 16 streams x 256 units: large enough for n_jobs=2 to split them.
SPLIT = dict(hidden_size=256, n_layers=1, seq_length=16, batch_size=16)


@pytest.fixture
def trainers(record_calls):
    """The two-process trainers started (their constructor's calls)."""
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
    windows = [
        (rng.integers(0, 9, (T, n_streams)), rng.integers(0, 9, (T, n_streams)))
        for T in (12, 12, 7)
    ]
    state = net.zero_state(n_streams)
    expected = []
    for x, y in windows:
        loss = net.loss_and_grads(x, y, state)
        expected.append((loss, net.grads.copy(), _state_copy(state)))
    params = net.params.copy()
    state = net.zero_state(n_streams)
    with SplitBatch(net, 12, n_streams) as trainer:
        for (x, y), (loss, grads, after) in zip(windows, expected, strict=True):
            got = trainer.loss_and_grads(x, y, state)
            np.testing.assert_allclose(got, loss, rtol=1e-5)
            np.testing.assert_allclose(net.grads, grads, rtol=1e-4, atol=1e-7)
            for a, b in zip(state, after, strict=True):
                for u, v in zip(a, b, strict=True):
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


@pytest.mark.parametrize("n_streams", [6, 7])
def test_dropout_masks_are_the_same_on_one_process_or_two(n_streams):
    net = CharRNN(9, 16, n_layers=2, dropout=0.3).init_params(np.random.default_rng(0))
    x = np.random.default_rng(1).integers(0, 9, (10, n_streams))
    one = net.loss_and_grads(
        x, x, net.zero_state(n_streams), [np.random.default_rng(5), np.random.default_rng(7)]
    )
    one_grads = net.grads.copy()
    with SplitBatch(net, 10, n_streams) as trainer:
        two = trainer.loss_and_grads(x, x, net.zero_state(n_streams), (np.random.default_rng(5), 7))
    np.testing.assert_allclose(two, one, rtol=1e-6)
    np.testing.assert_allclose(net.grads, one_grads, rtol=1e-4, atol=1e-7)
    other = net.loss_and_grads(
        x, x, net.zero_state(n_streams), [np.random.default_rng(5), np.random.default_rng(8)]
    )
    assert other != one  # the child's streams draw from their own generator


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_fit_with_one_or_two_jobs_agrees_to_rounding(dropout, trainers):
    params = dict(SPLIT, max_iter=2, random_state=0, validation_fraction=0.1, dropout=dropout)
    two = CharRNNGenerator(**params, n_jobs=2).fit(TEXT)
    assert len(trainers) == 1  # one child for the whole fit
    one = CharRNNGenerator(**params, n_jobs=1).fit(TEXT)
    assert len(trainers) == 1  # n_jobs=1 starts no process
    np.testing.assert_allclose(two.loss_curve_, one.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(two.validation_scores_, one.validation_scores_, rtol=1e-4)
    np.testing.assert_allclose(two._net.params, one._net.params, rtol=1e-3, atol=1e-5)
    assert two._net.params.flags.owndata
    clone = pickle.loads(pickle.dumps(two))
    assert clone.score(TEXT[:200]) == two.score(TEXT[:200])
    two.partial_fit(TEXT)  # and training goes on
    assert two.n_iter_ == 3 and len(trainers) == 2
    assert _no_children_left()


def test_the_default_starts_no_process_unless_joblib_says_so(trainers):
    CharRNNGenerator(**SPLIT, max_iter=1).fit(TEXT)
    CharRNNGenerator(**SPLIT, max_iter=1, n_jobs=-1).fit(TEXT)  # every allowed CPU: two here
    assert len(trainers) == 1
    with joblib.parallel_config(n_jobs=2):
        CharRNNGenerator(**SPLIT, max_iter=1).fit(TEXT)
    assert len(trainers) == 2


def test_two_jobs_split_only_windows_where_it_pays(trainers):
    # 16 x 6 streams x 16 units: the messages would cost more than they save.
    CharRNNGenerator(
        hidden_size=16, n_layers=1, seq_length=16, batch_size=6, max_iter=1, n_jobs=2
    ).fit(TEXT)
    assert trainers == []


def test_a_failing_fork_falls_back_to_one_process(monkeypatch):
    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    with pytest.warns(RuntimeWarning, match="could not be started.*one process"):
        est = CharRNNGenerator(**SPLIT, max_iter=1, n_jobs=2, random_state=0).fit(TEXT)
    assert est.n_iter_ == 1 and est._net.params.flags.owndata
    one = CharRNNGenerator(**SPLIT, max_iter=1, n_jobs=1, random_state=0).fit(TEXT)
    np.testing.assert_array_equal(est._net.params, one._net.params)  # the very same path


def test_training_moves_to_one_process_when_two_stop_paying(monkeypatch, record_calls):
    real = SplitBatch.loss_and_grads

    def starved(self, *args):  # as when another job takes a core: each half waits for the other
        time.sleep(0.25)
        return real(self, *args)

    monkeypatch.setattr(SplitBatch, "loss_and_grads", starved)
    closed = record_calls(WindowTrainer, "close")
    split_windows = record_calls(SplitBatch, "loss_and_grads")
    est = CharRNNGenerator(
        **SPLIT, max_iter=1, n_jobs=2, validation_fraction=0, early_stopping=False
    )
    est.fit(TEXT * 4)  # 2 warm-up windows, 1 reference, 3 compared, then one process
    n_windows = -(-(len(TEXT) * 4 - 1) // 16 // 16)
    assert 3 <= len(split_windows) <= 5 < n_windows
    assert closed and _no_children_left()


def _exit_3():
    os._exit(3)


def _raise_memory_error():
    raise MemoryError("no room for the work arrays")


@pytest.mark.parametrize(
    "fault,message",
    [
        (_exit_3, r"second training process stopped \(exit code 3\).*n_jobs=1"),  # the child dies
        (_raise_memory_error, "MemoryError: no room for the work arrays"),  # the child fails
    ],
)
def test_a_failing_child_raises_a_clear_error(fault, message, monkeypatch):
    real = CharRNN.loss_and_grads
    parent = os.getpid()

    def in_the_child(self, *args, **kwargs):
        if os.getpid() != parent:  # the forked child inherits this patch
            fault()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(CharRNN, "loss_and_grads", in_the_child)
    est = CharRNNGenerator(
        **SPLIT, max_iter=1, validation_fraction=0, early_stopping=False, n_jobs=2
    )
    with pytest.raises(SecondProcessError, match=message):
        est.fit(TEXT)
    assert _no_children_left()
    assert (
        est._net.params.flags.owndata and np.isfinite(est._net.params).all()
    )  # its last good weights


def test_interrupting_a_split_fit_keeps_a_usable_model(trainers, monkeypatch):
    real = SplitBatch.loss_and_grads
    calls = []

    def interrupted(self, *args):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(SplitBatch, "loss_and_grads", interrupted)
    est = CharRNNGenerator(
        **SPLIT, max_iter=3, validation_fraction=0, early_stopping=False, random_state=0, n_jobs=2
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(TEXT)
    assert trainers and any("interrupt" in str(w.message).lower() for w in caught)
    assert est._net.params.flags.owndata and np.isfinite(est._net.params).all()
    assert _no_children_left()
    assert len(est.sample(20, random_state=0)) == 20


def _fit_and_sample_in_a_daemon(conn):
    try:
        est = CharRNNGenerator(**SPLIT, max_iter=1, n_jobs=2).fit(TEXT)
        conn.send((_fork.available(), len(est.sample(2500, random_state=0))))
    except BaseException as exc:  # reported to the test
        conn.send(repr(exc))


def test_a_daemonic_process_fits_and_samples_alone():
    # Dask's workers are daemonic, and multiprocessing forbids children there.
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe()
    proc = ctx.Process(target=_fit_and_sample_in_a_daemon, args=(send,), daemon=True)
    proc.start()
    assert receive.recv() == (False, 2500)
    proc.join()


def test_fewer_than_two_allowed_cpus_means_one_process(trainers, monkeypatch):
    # joblib counts the CPUs of the affinity mask and of a cgroup quota (--cpus=1 in a container).
    monkeypatch.setattr(joblib, "cpu_count", lambda *args, **kwargs: 1)
    CharRNNGenerator(**SPLIT, max_iter=1, n_jobs=2).fit(TEXT)
    CharRNNGenerator(**SPLIT, max_iter=1, n_jobs=-1).fit(TEXT)
    assert trainers == []
