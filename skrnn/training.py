"""The rules of a training run, written once for both estimators.

A :class:`TrainingRun` lives for one call of ``fit`` or ``partial_fit``. The
estimator trains the epochs; the run keeps the fitted history attributes,
validates, stops early, keeps to the time budget, handles ``KeyboardInterrupt``
and divergence, and shows progress. The rules (the user guide states them for
users, in "Training: the rules both estimators follow"):

* An epoch counts in ``n_iter_``, ``loss_curve_`` and ``time_curve_`` as soon
  as one batch of it was trained: an epoch cut short by ``max_time`` or
  ``KeyboardInterrupt`` counts.
* ``n_iter_``, ``loss_curve_`` and ``time_curve_`` run on across calls that
  continue one model (``warm_start``, ``partial_fit``).
  ``validation_scores_``, ``best_validation_score_`` and ``best_iter_``
  describe the last call; ``best_iter_`` counts epochs as ``n_iter_`` does.
* With validation data, the estimator's score on it is recorded after every
  epoch (higher is better). Early stopping ends training once that score has
  not improved by more than ``tol`` for ``n_iter_no_change`` epochs in a row,
  and the weights of the best epoch are restored.
* ``KeyboardInterrupt`` stops training with a ``UserWarning``; the estimator
  keeps the best validated weights of the call when there are any, else the
  current ones.
* A non-finite loss, gradient, weight or validation score undoes the epoch
  (weights, optimizer state, history) and stops training with a
  ``ConvergenceWarning``. When that leaves a new model with no trained epoch,
  there is nothing usable: ``ValueError``, and the estimator is unfitted.
"""

import math
import time
import warnings

from sklearn.exceptions import ConvergenceWarning

__all__ = ["HISTORY_ATTRIBUTES", "Diverged", "TrainingRun", "read_history", "reset_history"]

# The fitted attributes a TrainingRun keeps, in both estimators; save() writes them.
HISTORY_ATTRIBUTES = (
    "n_iter_",
    "loss_curve_",
    "time_curve_",
    "validation_scores_",
    "best_validation_score_",
    "best_iter_",
    "fit_time_",
)


def reset_history(estimator, *, new_model=True):
    """The history of a call that trains nothing yet: all of it for a new model, else the last
    call's part."""
    if new_model:
        estimator.n_iter_, estimator.loss_curve_, estimator.time_curve_ = 0, [], []
    estimator.validation_scores_ = estimator.best_validation_score_ = None
    estimator.best_iter_ = estimator.fit_time_ = None


class Diverged(ArithmeticError):
    """Raised by an estimator's epoch when a loss, gradient or weight is not finite."""


class EpochProgress:
    """What an epoch reports after each batch: its mean loss so far, and the time budget."""

    def __init__(self, run, number, n_batches):
        self.run = run
        self.number = number
        self.n_batches = n_batches
        self.batches = 0
        self.loss = None
        self.verbose = run.verbose
        self._shown = {}
        self._bar = None

    def batch_done(self, mean_loss, *, batches=None, **shown):
        """Record one more trained batch (or ``batches`` in all) and the epoch's mean loss.

        ``shown`` adds fields to the progress bar (e.g. ``chars/s``). Returns
        whether the time budget is spent: the epoch should end now.
        """
        done = self.batches + 1 if batches is None else batches
        step, self.batches, self.loss = done - self.batches, done, float(mean_loss)
        if self.verbose:
            if self._bar is None:
                # Started after the first batch, whose time includes one-off
                # work (tracing, allocation): the estimate comes from real steps.
                from tqdm.auto import tqdm

                self._bar = tqdm(
                    total=self.n_batches,
                    initial=done,
                    desc=self.run.epoch_label(self.number),
                    unit=self.run.unit,
                )
            else:
                self._bar.update(step)
            self._shown = {"loss": f"{self.loss:.4f}", **shown}
            self._bar.set_postfix(self._shown, refresh=False)
        return self.run.out_of_time()

    def close(self, validation_score=None):
        if self._bar is None:
            return
        if validation_score is not None:
            self._shown["validation score"] = f"{validation_score:.4f}"
            self._bar.set_postfix(self._shown, refresh=False)
        self._bar.close()
        self._bar = None


class TrainingRun:
    """One call of ``fit``/``partial_fit``: epochs, history, stopping, faults.

    Parameters
    ----------
    estimator : BaseEstimator
        Receives the fitted attributes ``n_iter_``, ``loss_curve_``,
        ``time_curve_``, ``validation_scores_``, ``best_validation_score_``,
        ``best_iter_`` and ``fit_time_``.
    new_model : bool
        The call started a new model (history starts empty).
    get_weights, set_weights : callable
        Copy out and put back the weights that early stopping restores.
    checkpoint, restore : callable
        Copy out and put back everything an epoch changes besides the history
        (weights, optimizer state, counters): divergence undoes an epoch.
    forget : callable
        Make the estimator unfitted (a new model that learnt nothing).
    validate : callable or None
        The estimator's score on its validation data; None without validation.
    max_iter, early_stopping, n_iter_no_change, tol, max_time, verbose
        The estimator's parameters of those names.
    advice : str
        What to change when training diverges.
    on_epoch_end : callable or None
        Called after each epoch that trained (e.g. to print a sample).
    unit : str
        What the progress bar counts.
    """

    def __init__(
        self,
        estimator,
        *,
        new_model,
        get_weights,
        set_weights,
        checkpoint,
        restore,
        forget,
        validate=None,
        max_iter=1,
        early_stopping=False,
        n_iter_no_change=1,
        tol=0.0,
        max_time=None,
        verbose=0,
        advice="",
        on_epoch_end=None,
        unit="batch",
    ):
        self.est = estimator
        self.new_model = new_model
        self.get_weights, self.set_weights = get_weights, set_weights
        self.checkpoint, self.restore, self.forget = checkpoint, restore, forget
        self.validate = validate
        self.max_iter = max_iter
        self.early_stopping = early_stopping and validate is not None
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.verbose = verbose
        self.advice = advice
        self.on_epoch_end = on_epoch_end
        self.unit = unit
        self.start = time.perf_counter()
        self.deadline = None if max_time is None else self.start + max_time
        self.first_iter = 0 if new_model else estimator.n_iter_
        self.stopped = None  # "time", "early", "interrupted" or "diverged"
        self.best_weights = None
        self._no_improvement = 0
        reset_history(estimator, new_model=new_model)
        if validate is not None:
            estimator.validation_scores_ = []

    def epoch_label(self, number):
        return f"Epoch {number}/{self.first_iter + self.max_iter}"

    def out_of_time(self):
        return self.deadline is not None and time.perf_counter() > self.deadline

    # ------------------------------------------------------------------ epochs
    def __enter__(self):
        return self

    def epochs(self, train_epoch, n_batches):
        """Run up to ``max_iter`` epochs of ``train_epoch(progress)``.

        ``train_epoch`` trains one epoch of ``n_batches`` batches, calls
        ``progress.batch_done(mean_loss)`` after each and returns early when
        that returns True. It raises :class:`Diverged` for non-finite values.
        """
        est = self.est
        for _ in range(self.max_iter):
            number = est.n_iter_ + 1
            undo = self.checkpoint(), len(est.loss_curve_)
            progress = EpochProgress(self, number, n_batches)
            tic = time.perf_counter()
            score = None
            try:
                try:
                    train_epoch(progress)
                except KeyboardInterrupt:
                    self.stopped = "interrupted"
                if progress.batches:
                    self._count_epoch(progress.loss, time.perf_counter() - tic)
                if self.stopped is None and progress.batches and self.validate is not None:
                    score = float(self.validate())
                    if not math.isfinite(score):
                        raise Diverged(f"the validation score became {score}")
                    self._record_validation(score)
            except Diverged as exc:
                self._undo_epoch(undo)
                self._warn_or_raise_diverged(number, exc)
                self.stopped = "diverged"
            finally:
                progress.close(score)
            if self.stopped is None and self.on_epoch_end is not None and progress.batches:
                self.on_epoch_end(number)
            if self.stopped is None and progress.batches and self.out_of_time():
                self.stopped = "time"
            if self.early_stopping and self._no_improvement >= self.n_iter_no_change:
                self.stopped = self.stopped or "early"
            if self.stopped is not None:
                break

    def _count_epoch(self, loss, seconds):
        est = self.est
        est.n_iter_ += 1
        est.loss_curve_.append(loss)
        est.time_curve_.append((est.time_curve_[-1] if est.time_curve_ else 0.0) + seconds)

    def _record_validation(self, score):
        est = self.est
        est.validation_scores_.append(score)
        best = est.best_validation_score_
        self._no_improvement = (
            0 if best is None or score > best + self.tol else (self._no_improvement + 1)
        )
        if best is None or score > best:
            est.best_validation_score_, est.best_iter_ = score, est.n_iter_
            self.best_weights = self.get_weights()

    def _undo_epoch(self, undo):
        state, n_epochs = undo
        est = self.est
        self.restore(state)
        if len(est.loss_curve_) > n_epochs:
            est.n_iter_ -= 1
            del est.loss_curve_[n_epochs:], est.time_curve_[n_epochs:]

    # ------------------------------------------------------------------ the end
    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not issubclass(exc_type, KeyboardInterrupt):
            return False  # the estimator's own errors propagate, its weights as they are
        if exc_type is not None:  # outside an epoch: set-up, validation or progress output
            self.stopped = "interrupted"
        est = self.est
        if self.best_weights is not None and (self.early_stopping or self.stopped == "interrupted"):
            self.set_weights(self.best_weights)
        self.best_weights = None
        if self.stopped == "interrupted":
            kept = (
                "the current weights"
                if est.best_iter_ is None
                else f"the weights of epoch {est.best_iter_}, the best on validation"
            )
            warnings.warn(
                f"Training was interrupted (KeyboardInterrupt) after {est.n_iter_} epoch(s) in "
                f"all (n_iter_; a partly trained epoch counts); the estimator keeps {kept}. "
                "Call partial_fit, or fit with warm_start=True, to train further.",
                UserWarning,
                stacklevel=4,
            )
        est.fit_time_ = time.perf_counter() - self.start
        return exc_type is not None

    def _warn_or_raise_diverged(self, number, exc):
        est = self.est
        if self.new_model and est.n_iter_ == 0:
            self.forget()
            raise ValueError(
                f"Training diverged in epoch {number}: {exc}, before any epoch was trained, so "
                f"there are no usable weights and the estimator is left unfitted. {self.advice}"
            ) from None
        warnings.warn(
            f"Training diverged in epoch {number}: {exc}. Training stopped and the weights, "
            f"optimizer state and history of the end of epoch {est.n_iter_} were restored. "
            f"{self.advice}",
            ConvergenceWarning,
            stacklevel=5,
        )


def read_history(estimator, config):
    """Set :data:`HISTORY_ATTRIBUTES` from a saved ``config["fitted"]``, checking their types.

    Raises ``ValueError`` or ``KeyError`` for a damaged entry (the caller
    reports the file). Classifier saves of format 1 kept a Keras-style
    ``history`` dict instead: its losses become ``loss_curve_``.
    """
    if "fitted" not in config and "history" in config:  # an older classifier save
        fitted = {
            "n_iter_": config["n_iter"],
            "loss_curve_": config["history"].get("loss", []),
            "time_curve_": [],
            "validation_scores_": config["history"].get("val_accuracy"),
            "best_validation_score_": None,
            "best_iter_": config.get("best_epoch"),
            "fit_time_": None,
        }
    else:
        fitted = config["fitted"]

    def numbers(key, optional):
        value = fitted[key]
        if value is None and optional:
            return None
        if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            raise ValueError(f"{key} is {value!r}, not a list of numbers")
        return [float(v) for v in value]

    def number(key, kind):
        value = fitted[key]
        if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
            return value
        raise ValueError(f"{key} is {value!r}, not a number")

    n_iter = fitted["n_iter_"]
    if not isinstance(n_iter, int) or isinstance(n_iter, bool) or n_iter < 0:
        raise ValueError(f"n_iter_ is {n_iter!r}, not a count")
    estimator.n_iter_ = n_iter
    estimator.loss_curve_ = numbers("loss_curve_", optional=False)
    estimator.time_curve_ = numbers("time_curve_", optional=False)
    estimator.validation_scores_ = numbers("validation_scores_", optional=True)
    estimator.best_validation_score_ = number("best_validation_score_", (int, float))
    estimator.best_iter_ = number("best_iter_", int)
    estimator.fit_time_ = number("fit_time_", (int, float))
