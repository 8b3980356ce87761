"""The training rules of skrnn.training.TrainingRun, driven by a stand-in estimator.

The estimators' own tests check the same rules end to end; these pin each
rule down without a network.
"""

import math
import time

import pytest
from sklearn.exceptions import ConvergenceWarning

from skrnn.training import HISTORY_ATTRIBUTES, Diverged, TrainingRun, read_history


class Model:
    """An estimator whose 'weights' are one number: the epochs trained so far."""

    def __init__(self, losses=None, scores=None):
        self.weights = 0
        self.losses = losses or {}
        self.scores = list(scores or [])
        self.forgotten = False

    def run(self, new_model=True, validate=True, **params):
        return TrainingRun(
            self,
            new_model=new_model,
            get_weights=lambda: self.weights,
            set_weights=lambda w: setattr(self, "weights", w),
            checkpoint=lambda: self.weights,
            restore=lambda w: setattr(self, "weights", w),
            forget=lambda: setattr(self, "forgotten", True),
            validate=(lambda: self.scores.pop(0)) if validate else None,
            advice="Lower the learning rate.",
            **params,
        )

    def train_epoch(self, progress, n_batches=4, stop_after=None, interrupt_after=None):
        for batch in range(n_batches):
            if batch == interrupt_after:
                raise KeyboardInterrupt
            loss = self.losses.get((progress.number, batch), 1.0)
            if not math.isfinite(loss):
                raise Diverged(f"the training loss became {loss}")
            self.weights += 1
            if progress.batch_done(loss) or batch + 1 == stop_after:
                return


def fit(model, run, **epoch):
    with run:
        run.epochs(lambda progress: model.train_epoch(progress, **epoch), 4)
    return model


def test_history_and_best_epoch_without_early_stopping():
    model = Model(scores=[0.5, 0.7, 0.6])
    fit(model, model.run(max_iter=3))
    assert model.n_iter_ == 3 and model.loss_curve_ == [1.0, 1.0, 1.0]
    assert len(model.time_curve_) == 3 and model.time_curve_ == sorted(model.time_curve_)
    assert model.validation_scores_ == [0.5, 0.7, 0.6]
    assert model.best_validation_score_ == 0.7 and model.best_iter_ == 2
    assert model.weights == 12  # no early stopping: the last weights stay
    assert model.fit_time_ >= 0


def test_early_stopping_waits_n_iter_no_change_epochs_and_restores_the_best():
    model = Model(scores=[0.5, 0.7, 0.7 + 1e-6, 0.6, 0.9])
    fit(model, model.run(max_iter=5, early_stopping=True, n_iter_no_change=2, tol=1e-3))
    # Epoch 3 improves by less than tol: it counts as no change, but is the best.
    assert model.n_iter_ == 4 and model.validation_scores_ == [0.5, 0.7, 0.7 + 1e-6, 0.6]
    assert model.best_iter_ == 3 and model.weights == 12


def test_a_continued_model_keeps_its_curves_and_counts_best_iter_like_n_iter():
    model = Model(scores=[0.5, 0.4, 0.3, 0.8])
    fit(model, model.run(max_iter=2))
    fit(model, model.run(new_model=False, max_iter=2))
    assert model.n_iter_ == 4 and len(model.loss_curve_) == len(model.time_curve_) == 4
    assert model.validation_scores_ == [0.3, 0.8]  # the last call's
    assert model.best_iter_ == 4


def test_time_budget_ends_the_epoch_and_the_partial_epoch_counts(monkeypatch):
    model = Model(scores=[0.5])
    run = model.run(max_iter=5, max_time=1.0)
    monkeypatch.setattr(time, "perf_counter", lambda: run.start + 2.0)
    fit(model, run)
    assert model.n_iter_ == 1 and model.weights == 1  # one batch, then the budget was spent
    assert model.validation_scores_ == [0.5]  # the partial epoch is validated too


def test_interruption_keeps_the_best_validated_weights_and_warns():
    model = Model(scores=[0.5, 0.9, 0.6])
    run = model.run(max_iter=5)

    def train_epoch(progress):
        model.train_epoch(progress, interrupt_after=2 if progress.number == 4 else None)

    warning = r"after 4 epoch\(s\).*epoch 2, the best on validation"
    with pytest.warns(UserWarning, match=warning), run:
        run.epochs(train_epoch, 4)
    assert model.n_iter_ == 4 and model.weights == 8  # the partial fourth epoch counted
    assert model.validation_scores_ == [0.5, 0.9, 0.6]  # an interrupted epoch is not validated


def test_interruption_outside_an_epoch_is_caught_too():
    model = Model()
    with pytest.warns(UserWarning, match="the current weights"), model.run(validate=False):
        raise KeyboardInterrupt
    assert model.n_iter_ == 0


def test_divergence_undoes_the_epoch_and_warns():
    model = Model(losses={(2, 3): float("nan")}, scores=[0.5, 0.6])
    with pytest.warns(ConvergenceWarning, match="epoch 2: the training loss became nan.*epoch 1"):
        fit(model, model.run(max_iter=3))
    assert model.n_iter_ == 1 and model.weights == 4 and model.loss_curve_ == [1.0]
    assert len(model.time_curve_) == 1 and not model.forgotten


def test_a_non_finite_validation_score_is_divergence():
    model = Model(scores=[0.5, float("inf")])
    with pytest.warns(ConvergenceWarning, match="validation score became inf"):
        fit(model, model.run(max_iter=3))
    assert model.n_iter_ == 1 and model.weights == 4 and model.validation_scores_ == [0.5]


def test_divergence_before_a_new_model_trained_an_epoch_raises_and_forgets():
    model = Model(losses={(1, 2): float("inf")})
    with pytest.raises(ValueError, match=r"no usable weights.*Lower the learning rate"):
        fit(model, model.run(validate=False))
    assert model.forgotten and model.weights == 0


def test_divergence_of_a_continued_model_in_its_first_new_epoch_only_warns():
    model = Model(losses={(2, 0): float("nan")})
    fit(model, model.run(validate=False))
    with pytest.warns(ConvergenceWarning):
        fit(model, model.run(new_model=False, validate=False))
    assert model.n_iter_ == 1 and model.weights == 4 and not model.forgotten


def test_other_errors_propagate_unchanged():
    model = Model()
    with pytest.raises(OSError, match="disk"), model.run(validate=False):
        raise OSError("disk")


def test_progress_bar_labels_each_epoch(capsys):
    model = Model(scores=[0.5, 0.6])
    fit(model, model.run(max_iter=2, verbose=1))
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "validation score=0.6000" in err


def test_read_history_round_trips_and_rejects_damage():
    model = Model(scores=[0.5, 0.6])
    fit(model, model.run(max_iter=2))
    config = {"fitted": {key: getattr(model, key) for key in HISTORY_ATTRIBUTES}}
    again = Model()
    read_history(again, config)
    assert {k: getattr(again, k) for k in HISTORY_ATTRIBUTES} == config["fitted"]
    for key, bad in [("n_iter_", -1), ("loss_curve_", ["x"]), ("best_iter_", 1.5)]:
        with pytest.raises(ValueError, match=key):
            read_history(Model(), {"fitted": {**config["fitted"], key: bad}})
