"""LSTMSentimentClassifier reliability: bad input, bad labels, bad parameters,
large input, use before fit, interrupted or diverging training, and crash-safe persistence.

Every error must be a ValueError / TypeError / NotFittedError (or a subclass) whose message
names the problem, never a traceback from inside NumPy or TensorFlow. Faults are injected
through Keras callbacks added to ``Model.fit``. Tiny networks and data throughout.
"""

import json
import pickle
import warnings
from types import MappingProxyType

import keras
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import skrnn._persistence as persistence
import skrnn.sentiment as sentiment
from skrnn._persistence import IncompatibleFileError
from skrnn.sentiment import LSTMSentimentClassifier


@pytest.fixture(scope="module")
def one_epoch_params(tiny_classifier_params):
    """``tiny_classifier_params`` trained for one epoch: for fits that only need to run."""
    return MappingProxyType({**tiny_classifier_params, "max_iter": 1})


@pytest.fixture(scope="module")
def eighty_reviews(make_reviews):
    return make_reviews(80)


@pytest.fixture(scope="module")
def fitted_classifier_on_ids(one_epoch_params):
    """A tiny classifier fitted on token-id sequences (ids 2-49, max_features=60)."""
    rng = np.random.default_rng(0)
    X = [list(rng.integers(2, 50, rng.integers(2, 12))) for _ in range(40)]
    y = np.arange(40) % 2
    return LSTMSentimentClassifier(**{**one_epoch_params, "max_features": 60}).fit(X, y)


def weights_of(clf):
    return [np.array(w) for w in clf.model_.get_weights()]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


# ----------------------------------------------------------------- fault injection
class Injector(keras.callbacks.Callback):
    """Runs the matching triggers' actions during one ``Model.fit`` call and records what it saw.

    A trigger is ``(call, when, batch, action)``: ``call`` counts ``Model.fit`` calls from 1
    (one per epoch), ``when`` is "call" (on entering ``Model.fit``), "batch_begin", "batch_end"
    or "train_end".
    """

    def __init__(self, call, triggers, log):
        super().__init__()
        self.call, self.triggers, self.log = call, triggers, log

    def _fire(self, when, batch=None):
        for call, trigger_when, trigger_batch, action in self.triggers:
            if (
                call == self.call
                and when == trigger_when
                and (batch is None or batch == trigger_batch)
            ):
                action(self)

    def on_train_batch_begin(self, batch, logs=None):
        self._fire("batch_begin", batch)

    def on_train_batch_end(self, batch, logs=None):
        self.log.setdefault("batches", {}).setdefault(self.call, []).append(batch)
        self._fire("batch_end", batch)

    def on_train_end(self, logs=None):
        self.log.setdefault("weights_after_call", {})[self.call] = [
            np.array(w) for w in self.model.get_weights()
        ]
        self._fire("train_end")


@pytest.fixture
def inject(monkeypatch):
    """``inject((call, when, batch, action), ...)``: returns a log dict."""
    sentiment._keras_model_module()  # the warm-up's own fit must not count
    original = keras.Model.fit

    def install(*triggers):
        log = {"calls": 0}

        def fit(self, *args, **kwargs):
            log["calls"] += 1
            for call, when, _, action in triggers:
                if call == log["calls"] and when == "call":  # before Keras's own loop
                    action(None)
            callbacks = [
                *(kwargs.pop("callbacks", None) or []),
                Injector(log["calls"], triggers, log),
            ]
            return original(self, *args, callbacks=callbacks, **kwargs)

        monkeypatch.setattr(keras.Model, "fit", fit)
        return log

    return install


def interrupt(_):
    raise KeyboardInterrupt


def poison(cb):
    """Make the network output NaN from now on."""
    kernel = cb.model.get_layer("classifier").kernel
    kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))


# ------------------------------------------------------------------------ bad X
@pytest.mark.parametrize(
    "X, error, match",
    [
        ([], ValueError, "empty"),
        (np.array([], dtype=object), ValueError, "empty"),
        ("a single review", ValueError, "single string"),
        (None, TypeError, "None"),
        (42, TypeError, "int"),
        (["good film", None], TypeError, r"X\[1\] is None"),
        ([None, "good film"], TypeError, r"X\[0\] is None"),
        (["good film", 3], TypeError, r"X\[1\] is int"),
        (["good film", float("nan")], TypeError, r"X\[1\] is (float|nan)"),
        ([b"good film"], TypeError, "decode"),
        (["good film", b"bad film"], TypeError, "decode"),
        (np.array([b"good", b"bad"]), TypeError, "decode"),
        (b"good film", TypeError, "decode"),
        (np.random.default_rng(0).random((4, 3)), TypeError, "2-D float64"),
        (np.array([["good"], ["bad"]]), ValueError, "one-dimensional"),
        ([["good", "film"], ["bad"]], TypeError, "not str"),
        ([[3, -1], [4]], ValueError, "negative"),
        (np.array([[3, 4], [-2, 5]]), ValueError, "negative"),
        ([[1.5, 2.0], [3.0]], TypeError, "integer token ids"),
        ([[2, 3], [1.5, 2.0]], TypeError, r"X\[1\] is not a 1-D sequence of integer token ids"),
        ([[2, np.nan], [3]], TypeError, "integer token ids"),
        ([[2, None], [3]], TypeError, "integer token ids"),
        ([[2, [3, 4]], [3]], TypeError, "integer token ids"),
        ([np.array([2.0, 3.0]), np.array([1.0])], TypeError, "integer token ids"),
        ([[2, 3], "text"], TypeError, "mix"),
    ],
)
def test_bad_X_raises_clear_errors_in_fit_and_predict(
    X, error, match, fitted_classifier, one_epoch_params
):
    y = (
        np.arange(len(X)) % 2
        if hasattr(X, "__len__") and not isinstance(X, (str, bytes))
        else [0, 1]
    )
    with pytest.raises(error, match=match):
        LSTMSentimentClassifier(**one_epoch_params).fit(X, y)
    with pytest.raises(error, match=match):
        fitted_classifier.predict_proba(X)


def test_documents_without_tokens(fitted_classifier, one_epoch_params):
    no_tokens = ["", "   ", "...", "\U0001f600", "\r\n", "-- ; --"]
    with pytest.raises(ValueError, match="No document in X has a token"):
        LSTMSentimentClassifier(**one_epoch_params).fit(no_tokens, [0, 1] * 3)
    with pytest.raises(ValueError, match="only padding"):
        LSTMSentimentClassifier(**one_epoch_params).fit([[0, 0], [], [0]], [0, 1, 0])
    # At predict time such a document is one out-of-vocabulary word.
    proba = fitted_classifier.predict_proba(no_tokens)
    assert proba.shape == (6, 2) and np.all(np.isfinite(proba))
    np.testing.assert_allclose(
        proba, proba[[0]].repeat(6, axis=0), rtol=1e-5
    )  # float32, rows of one batch
    # Some empty documents among real ones are fine for fit: see the Unicode test.


def test_failed_refit_on_bad_input_keeps_the_fitted_model(fitted_classifier, eighty_reviews):
    X, y = eighty_reviews
    before = fitted_classifier.predict_proba(X)
    with pytest.raises(TypeError):
        fitted_classifier.fit([*X[:-1], None], y)  # rejected before the fitted model is touched
    with pytest.raises(ValueError, match="missing label"):
        fitted_classifier.fit(X, [None] * len(X))
    np.testing.assert_array_equal(fitted_classifier.predict_proba(X), before)


def test_token_ids_out_of_range_and_iterators(
    fitted_classifier, fitted_classifier_on_ids, eighty_reviews
):
    X, _ = eighty_reviews
    # Ids >= max_features are out-of-vocabulary (id 1); huge ids too.
    np.testing.assert_array_equal(
        fitted_classifier_on_ids.predict_proba([[2, 10**12, 3]]),
        fitted_classifier_on_ids.predict_proba([[2, 1, 3]]),
    )
    np.testing.assert_array_equal(
        fitted_classifier_on_ids.predict_proba(np.array([[2, 3, 0, 0]], dtype=np.uint64)),
        fitted_classifier_on_ids.predict_proba([[2, 3]]),
    )
    # A one-shot iterator is read once, not consumed by the input sniffing.
    np.testing.assert_array_equal(
        fitted_classifier.predict_proba(d for d in X[:10]), fitted_classifier.predict_proba(X[:10])
    )
    np.testing.assert_array_equal(
        fitted_classifier_on_ids.predict_proba(iter([[2, 3], [4, 5]])),
        fitted_classifier_on_ids.predict_proba([[2, 3], [4, 5]]),
    )
    with pytest.raises(ValueError, match="token ids"):
        fitted_classifier_on_ids.predict(["raw text"])


UNICODE_DOCS = [
    "Great film \U0001f600\U0001f44d loved it",
    "糟糕的电影 bad 很无聊",
    "これは素晴らしい映画 good",
    "cafe\u0301 re\u0301sume\u0301 na\u0308ive good",
    "\u05e1\u05e8\u05d8 \u05e8\u05e2 bad \u202eevil\u202c",
    "\u0641\u064a\u0644\u0645 \u062c\u064a\u062f good",
    "line one\r\nline two\rline three bad\n",
    "zero\u200bwidth\u200djoiner \ufeffbom bad",
    "lone surrogate \ud800 good",
    "Ｆｕｌｌｗｉｄｔｈ ＧＯＯＤ ß İstanbul",
    "",
    "\U0001f621\U0001f621",
]


def test_unicode_everywhere_fit_predict_save(tmp_path, one_epoch_params):
    X = UNICODE_DOCS * 4
    y = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0] * 4
    clf = LSTMSentimentClassifier(**one_epoch_params).fit(X, y)
    assert {"糟糕的电影", "これは素晴らしい映画", "good", "bad"} <= set(clf.tokenizer_.vocabulary)
    proba = clf.predict_proba([*X, "\U0001f4a9" * 50, "日本語のみ"])
    assert proba.shape == (len(X) + 2, 2) and np.all(np.isfinite(proba))
    again = LSTMSentimentClassifier.load(clf.save(tmp_path / "unicode"))
    assert again.tokenizer_.vocabulary == clf.tokenizer_.vocabulary
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


# ------------------------------------------------------------------------ bad y
@pytest.mark.parametrize(
    "make_y, error, match",
    [
        (lambda n: np.arange(n - 1) % 2, ValueError, "inconsistent lengths"),
        (lambda n: np.zeros(n), ValueError, "single class"),
        (lambda n: None, ValueError, "y is required"),
        (lambda n: "positive", ValueError, "single str"),
        (
            lambda n: [None] + [0, 1] * ((n - 1) // 2) + [0] * ((n - 1) % 2),
            ValueError,
            "missing label",
        ),
        (lambda n: np.r_[np.nan, np.arange(n - 1) % 2], ValueError, "missing label"),
        (lambda n: np.array(["pos", None] * (n // 2), dtype=object), ValueError, "missing label"),
        (lambda n: np.array(["pos", 1] * (n // 2), dtype=object), TypeError, "mixes strings"),
        (lambda n: np.linspace(0, 1, n), ValueError, "Unknown label type"),
        (lambda n: np.zeros((n, 2)), ValueError, "1d array"),
    ],
    ids=[
        "short",
        "one-class",
        "none",
        "string",
        "none-label",
        "nan-label",
        "none-str",
        "mixed",
        "continuous",
        "2d",
    ],
)
def test_bad_y(make_y, error, match, eighty_reviews, one_epoch_params):
    X, _ = eighty_reviews
    with pytest.raises(error, match=match):
        LSTMSentimentClassifier(**one_epoch_params).fit(X, make_y(len(X)))


def test_partial_fit_label_checks(eighty_reviews, one_epoch_params):
    X, y = eighty_reviews
    clf = LSTMSentimentClassifier(**one_epoch_params)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="at least two classes"):
        clf.partial_fit(X, y, classes=[0])
    with pytest.raises(ValueError, match="missing label"):
        clf.partial_fit(X, y, classes=[0, 1, None])
    with pytest.raises(ValueError, match=r"not in classes: \[1\]"):
        clf.partial_fit(X, y, classes=[0, 2])
    assert not hasattr(clf, "classes_") and not hasattr(
        clf, "model_"
    )  # a failed first call fits nothing
    clf.partial_fit(X, y, classes=[0, 1, 2])  # a class absent from the first batch is fine
    weights = weights_of(clf)
    with pytest.raises(ValueError, match=r"not in classes: \[3\]"):
        clf.partial_fit(X[:4], [0, 1, 3, 1])
    with pytest.raises(TypeError, match="mixes strings"):
        clf.partial_fit(X[:2], ["a", 1])
    with pytest.raises(ValueError, match=r"not in classes: \['a', 'b'\]"):
        clf.partial_fit(X[:2], ["b", "a"])
    with pytest.raises(ValueError, match="cannot change"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="cannot change"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="fitted on text"):
        clf.partial_fit([[2, 3]], [0])
    assert_same_weights(weights_of(clf), weights)  # nothing trained by the rejected calls
    clf.partial_fit(X, y, classes=[2, 1, 0])  # same classes, other order
    assert clf.n_iter_ == 2


@pytest.mark.parametrize(
    "sample_weight, error, match",
    [
        (np.ones(3), ValueError, "one weight per document"),
        (np.ones((80, 2)), ValueError, "one weight per document"),
        (-np.ones(80), ValueError, "non-negative"),
        (np.r_[np.nan, np.ones(79)], ValueError, "finite"),
        (np.r_[np.inf, np.ones(79)], ValueError, "finite"),
        (np.zeros(80), ValueError, "zero for every document"),
        (["heavy"] * 80, TypeError, "numbers"),
    ],
    ids=["short", "2d", "negative", "nan", "inf", "zeros", "strings"],
)
def test_bad_sample_weight(sample_weight, error, match, eighty_reviews, one_epoch_params):
    X, y = eighty_reviews
    with pytest.raises(error, match=match):
        LSTMSentimentClassifier(**one_epoch_params).fit(X, y, sample_weight=sample_weight)
    with pytest.raises(error, match=match):
        LSTMSentimentClassifier(**one_epoch_params).partial_fit(
            X, y, classes=[0, 1], sample_weight=sample_weight
        )


def test_bad_class_weight(eighty_reviews, one_epoch_params):
    X, y = eighty_reviews
    with pytest.raises(ValueError, match="class_weight"):
        LSTMSentimentClassifier(**{**one_epoch_params, "class_weight": {0: -1.0, 1: 1.0}}).fit(X, y)
    with pytest.raises(ValueError, match="not in class_weight"):
        LSTMSentimentClassifier(**{**one_epoch_params, "class_weight": {"neg": 1.0}}).fit(X, y)


# ---------------------------------------------------------------- hyperparameters
@pytest.mark.parametrize(
    "params, match",
    [
        ({"hidden_size": -4}, r"'hidden_size' parameter .* int in the range \[1, inf\)"),
        ({"embedding_dim": 0}, "'embedding_dim' parameter"),
        ({"n_layers": 2.5}, "'n_layers' parameter"),
        ({"max_features": -1}, r"'max_features' parameter .* \[3, inf\)"),
        ({"maxlen": -1}, "'maxlen' parameter .* None"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"max_iter": 0}, "'max_iter' parameter"),
        ({"pooling": "median"}, r"'pooling' parameter .* \{.*'max_mean'.*\}"),
        ({"truncating": "middle"}, "'truncating' parameter"),
        ({"validation_fraction": 1.0}, r"'validation_fraction' parameter .* range \(0.0, 1.0\)"),
        ({"validation_fraction": -0.1}, "'validation_fraction' parameter"),
        ({"dropout": 1.5}, "'dropout' parameter"),
        ({"learning_rate": float("nan")}, "'learning_rate' parameter"),
        ({"learning_rate": float("inf")}, "'learning_rate' parameter"),
        ({"ema_momentum": 0.0}, "'ema_momentum' parameter"),
        ({"class_weight": "auto"}, "'class_weight' parameter"),
        ({"verbose": -1}, "'verbose' parameter"),
        ({"random_state": "seed"}, "'random_state' parameter"),
        ({"bigram_buckets": 1}, "bigram_buckets must be 0 .* or at least 2"),
        ({"bigram_buckets": -5}, "'bigram_buckets' parameter"),
    ],
)
def test_invalid_hyperparameters_name_the_parameter(
    params, match, eighty_reviews, one_epoch_params
):
    X, y = eighty_reviews
    clf = LSTMSentimentClassifier(**{**one_epoch_params, **params})
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    with pytest.raises(ValueError, match=match):
        clf.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(clf, "model_")


def test_invalid_parameters_do_not_damage_a_fitted_estimator(fitted_classifier, eighty_reviews):
    X, y = eighty_reviews
    params = fitted_classifier.get_params()
    before = fitted_classifier.predict_proba(X)
    try:
        with pytest.raises(ValueError, match="hidden_size"):
            fitted_classifier.set_params(hidden_size=-1).fit(X, y)
        with pytest.raises(ValueError, match="bigram_buckets"):
            fitted_classifier.set_params(hidden_size=8, bigram_buckets=1).fit(X, y)
        with pytest.raises(ValueError, match="bigram_buckets"):
            fitted_classifier.partial_fit(X, y)
    finally:
        fitted_classifier.set_params(**params)
    np.testing.assert_array_equal(fitted_classifier.predict_proba(X), before)


# ------------------------------------------------------------------ large inputs
def test_one_5mb_document_fit_and_predict(eighty_reviews, monkeypatch, one_epoch_params):
    X, y = eighty_reviews
    big = ("good plot, great actors! " * 200_001)[:5_000_000]
    clf = LSTMSentimentClassifier(**{**one_epoch_params, "maxlen": 64}).fit([*X, big], [*y, 1])
    assert clf.tokenizer_.vocabulary["good"] >= 2
    shapes = []
    original = keras.Model.predict

    def spy(self, data, *args, **kwargs):
        shapes.extend(tuple(batch.shape) for batch in data.as_numpy_iterator())
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "predict", spy)
    proba = clf.predict_proba([big, "bad"])
    assert proba.shape == (2, 2) and np.all(np.isfinite(proba))
    # Tokens are truncated to maxlen before the network: no (1, 1_000_000) batch.
    assert max(width for _, width in shapes) == 64


@pytest.mark.slow  # ~10-20 s on 2 busy cores, mostly tokenizing; kept in the default run
def test_predict_one_million_short_strings(fitted_classifier, monkeypatch):
    docs = ["good film", "bad plot", "it was okay", "", "great!"] * 200_000
    seen = []
    original = sentiment.LSTMSentimentClassifier._tokenize  # once per chunk, for both paths

    def spy(self, items):
        seen.append(len(items))
        return original(self, items)

    monkeypatch.setattr(sentiment.LSTMSentimentClassifier, "_tokenize", spy)
    proba = fitted_classifier.predict_proba(docs)
    assert proba.shape == (1_000_000, 2) and np.all(np.isfinite(proba))
    # Bounded memory: never more than one chunk of documents encoded at once.
    assert max(seen) <= sentiment._PREDICT_CHUNK and sum(seen) == 1_000_000
    np.testing.assert_allclose(proba[:5], fitted_classifier.predict_proba(docs[:5]), rtol=1e-5)
    np.testing.assert_array_equal(proba[-5:], proba[:5])


# --------------------------------------------------------------------- not fitted
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score", "save"])
def test_methods_before_fit_raise_not_fitted(method, tmp_path):
    clf = LSTMSentimentClassifier()
    args = {
        "predict": (["x"],),
        "predict_proba": (["x"],),
        "score": (["x"], [1]),
        "save": (tmp_path / "s",),
    }
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(clf, method)(*args[method])
    assert not (tmp_path / "s").exists()


# -------------------------------------------------------------- KeyboardInterrupt
def test_keyboard_interrupt_mid_epoch_keeps_current_weights(
    inject, eighty_reviews, tiny_classifier_params
):
    X, y = eighty_reviews
    log = inject((2, "batch_end", 1, interrupt), (3, "batch_begin", 0, interrupt))
    # The LSTM alone, without early stopping: no validation data, so the current weights.
    clf = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "paths": "lstm", "max_iter": 4, "ema_momentum": 0.9}
    )
    with pytest.warns(
        UserWarning, match=r"interrupted \(KeyboardInterrupt\) after 2 epoch\(s\).*current weights"
    ):
        assert clf.fit(X, y) is clf
    # The partly trained epoch counts.
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == len(clf.time_curve_) == 2
    assert log["calls"] == 2 and log["batches"][2] == [0, 1]  # stopped at once
    # The current weights: epoch 1 plus the two batches of epoch 2 that ran.
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(weights_of(clf), log["weights_after_call"][1], strict=True)
    )
    assert np.all(np.isfinite(clf.predict_proba(X)))
    # partial_fit interrupted before its first batch: still fitted, nothing counted.
    with pytest.warns(UserWarning, match=r"after 2 epoch\(s\)"):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    clf.partial_fit(X, y)  # and training goes on
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3


def test_keyboard_interrupt_with_early_stopping_restores_best_epoch(
    inject, eighty_reviews, tiny_classifier_params
):
    X, y = eighty_reviews
    log = inject((3, "call", None, interrupt))  # Ctrl-C between epochs, outside Keras's loop
    clf = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "max_iter": 6, "early_stopping": True, "n_iter_no_change": 5}
    )
    with pytest.warns(UserWarning, match=r"keeps the weights of epoch \d, the best on validation"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == len(clf.validation_scores_) == 2
    assert clf.best_iter_ == int(np.argmax(clf.validation_scores_)) + 1
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert_same_weights(weights_of(clf), log["weights_after_call"][clf.best_iter_])


# ----------------------------------------------------------------- NaN / inf loss
def test_nan_loss_restores_last_good_epoch_and_training_continues(
    inject, eighty_reviews, tiny_classifier_params
):
    X, y = eighty_reviews
    log = inject((2, "batch_begin", 1, poison), (6, "batch_begin", 1, poison))
    clf = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "max_iter": 3, "ema_momentum": 0.9, "warm_start": True}
    )
    clf.fit(X, y)  # the warning: test_divergence_warns_with_the_default_verbose
    assert log["batches"][2] == [0, 1]  # stopped at the first NaN batch, within the epoch
    assert log["calls"] == 2 and clf.n_iter_ == 1 and len(clf.loss_curve_) == 1
    assert_same_weights(weights_of(clf), log["weights_after_call"][1])
    for var in clf.model_.optimizer.variables:  # Adam's moments and the weight average repaired
        assert np.all(np.isfinite(np.asarray(var))), var.path
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)  # warm start, calls 3-5: trains on
    assert clf.n_iter_ == 4 and np.all(np.isfinite(clf.loss_curve_))
    before = weights_of(clf)
    clf.partial_fit(X, y)  # call 6 diverges: the previous weights stay
    assert clf.n_iter_ == 4
    assert_same_weights(weights_of(clf), before)
    assert np.all(np.isfinite(clf.predict_proba(X)))


def test_nan_in_first_epoch_raises_and_leaves_estimator_unfitted(
    inject, eighty_reviews, tiny_classifier_params
):
    X, y = eighty_reviews
    inject((1, "batch_begin", 0, poison))
    clf = LSTMSentimentClassifier(**{**tiny_classifier_params, "max_iter": 3})
    with pytest.raises(
        ValueError,
        match=r"diverged in epoch 1: the training loss became nan in batch 1 .*learning_rate",
    ):
        clf.fit(X, y)
    assert not hasattr(clf, "model_") and not hasattr(clf, "classes_")
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_nan_validation_loss_is_caught_at_epoch_end(inject, eighty_reviews, tiny_classifier_params):
    X, y = eighty_reviews
    log = inject((2, "train_end", None, poison))  # weights broken after the epoch's batches
    clf = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "max_iter": 4, "early_stopping": True, "n_iter_no_change": 3}
    )
    clf.fit(X, y)  # the warning: test_divergence_warns_with_the_default_verbose
    assert log["calls"] == 2  # stopped after the NaN epoch
    assert clf.n_iter_ == 1 and len(clf.validation_scores_) == 1 and clf.best_iter_ == 1
    assert_same_weights(weights_of(clf), log["weights_after_call"][1])


@pytest.mark.parametrize(
    "trigger, match",
    [
        ((2, "batch_begin", 1, poison), r"training loss became nan in batch 2 of"),
        ((2, "train_end", None, poison), r"validation score became nan"),
    ],
    ids=["loss", "validation"],
)
def test_divergence_warns_with_the_default_verbose(
    trigger, match, inject, eighty_reviews, tiny_classifier_params
):
    X, y = eighty_reviews
    inject(trigger)
    params = {**tiny_classifier_params, "max_iter": 2, "early_stopping": True}
    clf = LSTMSentimentClassifier(**params)
    with pytest.warns(
        ConvergenceWarning, match=rf"diverged in epoch 2: the {match}.*epoch 1 were restored"
    ):
        clf.fit(X, y)


# ------------------------------------------------------------------- persistence
def _assert_no_leftovers(parent, expected):
    assert sorted(p.name for p in parent.iterdir()) == sorted(expected)


@pytest.mark.parametrize("failing", ["model_save", "write_config"])
def test_failed_save_leaves_earlier_save_intact(
    failing, fitted_classifier, fitted_classifier_on_ids, eighty_reviews, tmp_path, monkeypatch
):
    X, _ = eighty_reviews
    path = fitted_classifier.save(tmp_path / "model")
    expected = fitted_classifier.predict_proba(X)
    other = fitted_classifier_on_ids

    if failing == "model_save":

        def broken(self, filepath, *args, **kwargs):
            with open(filepath, "wb") as fh:
                fh.write(b"PK\x03\x04 half a zip")
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(keras.Model, "save", broken)
    else:

        def broken(folder, config):
            (folder / "estimator.json").write_text('{"format": "skrnn.LSTMSent')
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(persistence, "write_config", broken)
    with pytest.raises(OSError, match="No space left"):
        other.save(path)
    monkeypatch.undo()
    _assert_no_leftovers(tmp_path, ["model"])
    _assert_no_leftovers(path, ["estimator.json", "model.keras", "ngrams.npz"])
    np.testing.assert_array_equal(LSTMSentimentClassifier.load(path).predict_proba(X), expected)
    other.save(path)  # a later good save replaces it
    ids = [[2, 3, 4], [5, 6]]
    np.testing.assert_array_equal(
        LSTMSentimentClassifier.load(path).predict_proba(ids), other.predict_proba(ids)
    )
    _assert_no_leftovers(tmp_path, ["model"])


def test_save_refuses_to_replace_foreign_folders_and_files(fitted_classifier, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(ValueError, match="does not hold a saved skrnn estimator"):
        fitted_classifier.save(folder)
    assert (folder / "holiday.jpg").read_bytes() == b"\xff\xd8"
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    with pytest.raises(ValueError, match="not a folder"):
        fitted_classifier.save(a_file)
    assert a_file.read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    fitted_classifier.save(tmp_path / "empty")  # an empty folder is fine
    assert (tmp_path / "empty" / "estimator.json").is_file()


def test_save_writes_a_versioned_header(fitted_classifier, tmp_path):
    config = json.loads((fitted_classifier.save(tmp_path / "m") / "estimator.json").read_text())
    assert config["format"] == "skrnn.LSTMSentimentClassifier"
    assert config["format_version"] == persistence.FORMAT_VERSION
    assert config["skrnn_version"]


def test_load_rejects_newer_format_and_other_estimators(fitted_classifier, tmp_path, monkeypatch):
    monkeypatch.setattr(persistence, "FORMAT_VERSION", persistence.FORMAT_VERSION + 1)
    path = fitted_classifier.save(tmp_path / "future")
    monkeypatch.undo()
    with pytest.raises(IncompatibleFileError, match="Upgrade skrnn") as info:
        LSTMSentimentClassifier.load(path)
    assert isinstance(info.value, ValueError)
    config_file = path / "estimator.json"
    config = json.loads(config_file.read_text())
    config.update(format="skrnn.CharRNNGenerator", format_version=1)
    config_file.write_text(json.dumps(config))
    with pytest.raises(
        IncompatibleFileError, match=r"not written by LSTMSentimentClassifier\.save"
    ):
        LSTMSentimentClassifier.load(path)


@pytest.mark.parametrize(
    "damage, match",
    [
        (
            lambda c: c.write_text('{"format": "skrnn.LSTMSentimentClassifier", "form'),
            "not valid JSON",
        ),
        (lambda c: c.write_bytes(b"\xff\xfe\x00garbage"), "not valid JSON"),
        (lambda c: c.write_text("[1, 2, 3]"), "not written by"),
        (lambda c: _edit(c, lambda d: d.pop("classes")), "damaged or incomplete.*classes"),
        (lambda c: _edit(c, lambda d: d["params"].update(hidden_size=-3)), "damaged.*hidden_size"),
        (lambda c: _edit(c, lambda d: d.update(classes=[0])), "damaged.*two labels"),
        (lambda c: _edit(c, lambda d: d.update(input_kind="pictures")), "damaged.*input_kind"),
        (lambda c: _edit(c, lambda d: d.update(classes=[0, 1, 2])), "3 classes"),
        (
            lambda c: (c.parent / "model.keras").write_bytes(b"not a zip file"),
            "could not be loaded",
        ),
        (lambda c: (c.parent / "model.keras").unlink(), "model.keras is missing"),
    ],
    ids=[
        "truncated",
        "binary",
        "not-an-object",
        "missing-key",
        "bad-param",
        "one-class",
        "bad-kind",
        "class-count",
        "bad-model",
        "no-model",
    ],
)
def test_damaged_save_gives_clear_error(damage, match, fitted_classifier, tmp_path):
    path = fitted_classifier.save(tmp_path / "m")
    damage(path / "estimator.json")
    with pytest.raises(IncompatibleFileError, match=match):
        LSTMSentimentClassifier.load(path)


def test_load_refuses_the_network_of_another_model(
    fitted_classifier, eighty_reviews, tmp_path, one_epoch_params
):
    X, y = eighty_reviews
    other = LSTMSentimentClassifier(**{**one_epoch_params, "max_features": 10}).fit(
        X, y
    )  # a smaller embedding
    assert other._n_embedding_rows() != fitted_classifier._n_embedding_rows()
    path, other_path = fitted_classifier.save(tmp_path / "m"), other.save(tmp_path / "other")
    (path / "model.keras").write_bytes((other_path / "model.keras").read_bytes())
    with pytest.raises(IncompatibleFileError, match="come from different models"):
        LSTMSentimentClassifier.load(path)


def test_load_refuses_a_model_file_that_holds_code(fitted_classifier, tmp_path):
    # A model.keras with a Lambda layer would run its stored Python on load;
    # Keras's safe_mode refuses it, and load says so without running it.
    path = fitted_classifier.save(tmp_path / "m")
    inputs = keras.Input((None,), dtype="int32")
    outputs = keras.layers.Lambda(lambda x: keras.ops.cast(x, "float32") * 2.0)(inputs)
    keras.Model(inputs, outputs).save(path / "model.keras")
    with pytest.raises(
        IncompatibleFileError, match=r"could not be loaded as a Keras model.*[Ll]ambda"
    ):
        LSTMSentimentClassifier.load(path)


def _edit(config_file, change):
    config = json.loads(config_file.read_text())
    change(config)
    config_file.write_text(json.dumps(config))


def test_load_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"estimator\.json not found"):
        LSTMSentimentClassifier.load(tmp_path / "nowhere")


def test_pickles_carry_a_format_version(fitted_classifier, eighty_reviews, monkeypatch):
    X, _ = eighty_reviews
    state = fitted_classifier.__getstate__()
    assert state["_skrnn_format_version"] == persistence.FORMAT_VERSION
    plain = pickle.loads(pickle.dumps(fitted_classifier))
    assert "_skrnn_format_version" not in plain.__dict__
    np.testing.assert_array_equal(plain.predict_proba(X), fitted_classifier.predict_proba(X))
    monkeypatch.setattr(persistence, "FORMAT_VERSION", persistence.FORMAT_VERSION + 1)
    future = pickle.dumps(fitted_classifier)
    future_unfitted = pickle.dumps(LSTMSentimentClassifier())
    monkeypatch.undo()
    for blob in (future, future_unfitted):
        with pytest.raises(IncompatibleFileError, match="Upgrade skrnn"):
            pickle.loads(blob)
    # Pickles from before the header existed still load.
    old_state = fitted_classifier.__getstate__()
    del old_state["_skrnn_format_version"]
    old = LSTMSentimentClassifier.__new__(LSTMSentimentClassifier)
    old.__setstate__(old_state)
    np.testing.assert_array_equal(old.predict_proba(X), fitted_classifier.predict_proba(X))


def test_pickle_with_damaged_model_bytes(fitted_classifier):
    state = fitted_classifier.__getstate__()
    state["_keras_model_bytes"] = b"garbage"
    clf = LSTMSentimentClassifier.__new__(LSTMSentimentClassifier)
    with pytest.raises(IncompatibleFileError, match="could not be restored"):
        clf.__setstate__(state)


# ----------------------------------------------------------- memory under load
def _live_batch_pipelines():
    import gc

    from skrnn.keras_model import BucketedBatches

    gc.collect()
    return sum(isinstance(o, BucketedBatches) for o in gc.get_objects())


def test_predict_and_fit_do_not_keep_their_input_pipelines_alive(
    eighty_reviews, fitted_classifier, tiny_classifier_params
):
    # tf.data.Dataset.from_generator keeps every pipeline (and the documents it
    # holds) alive until clear_session(): 1,000 predict calls leaked ~30 MiB.
    X, y = eighty_reviews
    before = _live_batch_pipelines()
    for _ in range(30):
        fitted_classifier.predict_proba(X[:16])
    LSTMSentimentClassifier(
        **{**tiny_classifier_params, "max_iter": 2, "early_stopping": True}
    ).fit(X, y)
    assert _live_batch_pipelines() <= before
