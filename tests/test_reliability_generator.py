"""Reliability of CharRNNGenerator: bad input, large input, faults and trustworthy saves.

Every model here is tiny (hidden 4-16) so the whole file runs in seconds.
"""

import json
import pickle
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import skrnn._persistence as persistence
from skrnn import CharRNNGenerator
from skrnn._persistence import IncompatibleFileError
from skrnn.rnn import Adam, CharRNN, inference

HELLO = "hello world " * 40  # 480 characters, 8 distinct
# tiny() reads HELLO as 4 streams of 119 predictions: 15 windows of 8 steps
# (the last has 7), 476 characters per epoch.
WINDOWS, EPOCH_CHARS = 15, 476
# Astral-plane emoji, CJK, a combining accent, Hebrew (right-to-left) and a Windows line end.
UNICODE = "a😀漢e\u0301שלום\r\n"


def tiny(**params):
    defaults = dict(
        hidden_size=8,
        n_layers=1,
        seq_length=8,
        batch_size=4,
        learning_rate=1e-2,
        lr_decay=1.0,
        max_iter=3,
        validation_fraction=0.0,
        early_stopping=False,
        random_state=0,
    )
    return CharRNNGenerator(**{**defaults, **params})


@pytest.fixture(scope="module")
def fitted_generator():
    """``tiny()`` fitted on ``HELLO``; shared by the module's tests, which leave it unchanged."""
    return tiny().fit(HELLO)


def raised_outside_numpy(excinfo):
    """The exception was raised by skrnn or scikit-learn code, not from deep inside NumPy."""
    return "numpy" not in str(excinfo.traceback[-1].path)


class FailOnCall:
    """Wrap a method so that its ``n``-th call raises ``exc`` (or returns ``make(result)``)."""

    def __init__(self, monkeypatch, owner, name, n, exc=None, make=None):
        self.original, self.n, self.calls, self.exc, self.make = (
            getattr(owner, name),
            n,
            0,
            exc,
            make,
        )
        wrapper = self

        def patched(*args, **kwargs):
            wrapper.calls += 1
            if wrapper.calls == wrapper.n and wrapper.exc is not None:
                raise wrapper.exc
            result = wrapper.original(*args, **kwargs)
            if wrapper.calls == wrapper.n and wrapper.make is not None:
                return wrapper.make(result, *args)
            return result

        monkeypatch.setattr(owner, name, patched)


# ------------------------------------------------------------------ 1. bad X
BAD_X = [
    pytest.param([], ValueError, "empty", id="empty-list"),
    pytest.param(
        ["ok", None], TypeError, r"X\[1\] is None \(a missing value\).*drop missing", id="None"
    ),
    pytest.param(["ok", float("nan")], TypeError, r"X\[1\] is nan \(a missing value\)", id="NaN"),
    pytest.param(["ok", 3], TypeError, r"X\[1\] is int, not str.*str\(\)", id="int"),
    pytest.param(["ok", 2.5, "x"], TypeError, r"X\[1\] is float", id="float"),
    pytest.param(b"hello world", TypeError, "got bytes; decode it first", id="bytes"),
    pytest.param([b"hello world"], TypeError, r"X\[0\] is bytes.*decode", id="list-of-bytes"),
    pytest.param(np.zeros((3, 4)), ValueError, r"one-dimensional.*\(3, 4\)", id="2d-numeric"),
    pytest.param(np.array([["ab", "cd"]]), ValueError, "one-dimensional", id="2d-str"),
    pytest.param(np.arange(3), TypeError, r"X\[0\] is int", id="1d-numeric"),
    pytest.param(5, TypeError, "string or an iterable of strings", id="number"),
    pytest.param(None, TypeError, "string or an iterable of strings", id="None-X"),
]


@pytest.mark.parametrize("X, error, match", BAD_X)
@pytest.mark.parametrize("method", ["fit", "partial_fit", "score", "predict", "predict_proba"])
def test_bad_X_is_named_and_leaves_the_model_intact(fitted_generator, method, X, error, match):
    model = tiny() if method in ("fit", "partial_fit") else fitted_generator
    before = None if method in ("fit", "partial_fit") else model._net.params.copy()
    with pytest.raises(error, match=match) as excinfo:
        getattr(model, method)(X)
    assert raised_outside_numpy(excinfo)
    if before is None:
        assert not hasattr(model, "classes_")  # no half-fitted model
    else:
        np.testing.assert_array_equal(model._net.params, before)


def test_refit_on_bad_input_keeps_the_fitted_model():
    model = tiny().fit(HELLO)
    score, params = model.score(HELLO), model._net.params.copy()
    for bad in ([None], ["", ""], "abc", [b"x"]):
        with pytest.raises((TypeError, ValueError)):
            model.fit(bad)
    np.testing.assert_array_equal(model._net.params, params)
    assert model.score(HELLO) == score


def test_only_empty_strings():
    with pytest.raises(ValueError, match=r"every document is ''.*non-empty text"):
        tiny().fit(["", "", ""])
    model = tiny().fit(HELLO)
    np.testing.assert_allclose(model.predict_proba([""]), [model.char_frequencies_])
    with pytest.raises(ValueError, match=r"0 character.*at least 2"):
        model.score(["", ""])


def test_pandas_input():
    pd = pytest.importorskip("pandas")
    model = tiny().fit(pd.Series([HELLO[:240], HELLO[240:]], index=[7, 3]))
    assert model.predict(pd.Series(["hello wor"])).shape == (1,)
    with pytest.raises(ValueError, match=r"one column.*df\['text'\]"):
        model.predict(pd.DataFrame({"text": ["a", "b"], "other": ["c", "d"]}))
    with pytest.raises(TypeError, match="missing value"):
        model.predict(pd.Series(["hello", None]))


def test_unicode_round_trips_exactly(tmp_path):
    text = UNICODE * 50
    model = tiny(hidden_size=16, max_iter=40, seq_length=10).fit(text)
    assert "".join(model.classes_) == "".join(sorted(set(text)))
    assert {"😀", "漢", "\u0301", "ש", "\r", "\n"} <= set(model.classes_)
    # Greedy generation reproduces the period character for character.
    assert model.sample(2 * len(UNICODE), prime=UNICODE, temperature=0) == UNICODE * 2
    np.testing.assert_array_equal(
        model.predict(["a", "a😀", "e", "שלום\r"]), ["😀", "漢", "\u0301", "\n"]
    )
    assert model.score(text) > -0.05
    sampled = model.sample(200, random_state=0)
    assert len(sampled) == 200 and set(sampled) <= set(text)
    loaded = CharRNNGenerator.load(model.save(tmp_path / "unicode"))
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.sample(50, prime="漢", random_state=1) == model.sample(
        50, prime="漢", random_state=1
    )


def test_nul_character_is_a_class():
    model = tiny(max_iter=1).fit("a\x00b" * 60)
    assert list(model.classes_) == ["\x00", "a", "b"]
    assert model.predict(["ab"])[0] in {"\x00", "a", "b"}
    assert set(model.sample(30, random_state=0)) <= {"\x00", "a", "b"}


def test_lone_surrogates_are_ordinary_characters():
    text = "ab\ud800c" * 60  # a str can hold a lone surrogate (e.g. from os.fsdecode)
    model = tiny(max_iter=1).fit(text)
    assert "\ud800" in set(model.classes_)
    out = model.sample(20, prime="\ud800", random_state=0)
    assert len(out) == 20 and set(out) <= set(text)
    assert np.isfinite(model.score(text))


# ------------------------------------------------------ 2. generator-specific
def test_corpus_shorter_than_a_window():
    for call in (lambda m: m.fit("hello"), lambda m: m.partial_fit(["he", "llo"])):
        model = tiny(seq_length=8)
        with pytest.raises(
            ValueError, match=r"5 characters; training needs at least seq_length \+ 1 = 9"
        ):
            call(model)
        assert not hasattr(model, "classes_")
    with pytest.raises(ValueError, match=r"leaves 1 for validation; at least 2 are needed"):
        tiny(validation_fraction=0.1).fit("abcdefghijklmnopqrs")  # 19 characters


def test_prime_of_unseen_characters_warns_and_starts_from_frequencies(fitted_generator):
    with pytest.warns(UserWarning, match=r"2 character\(s\) of prime .*'@😀'"):
        out = fitted_generator.sample(10, prime="😀@", random_state=3)
    assert out == fitted_generator.sample(10, prime="", random_state=3)


def test_n_chars(fitted_generator):
    assert fitted_generator.sample(0) == ""
    assert fitted_generator.sample(0, n_samples=3) == ["", "", ""]
    for bad in (-1, 2.5, True, "3", None):
        with pytest.raises(ValueError, match=r"n_chars must be an integer >= 0 \(0 gives ''\)"):
            fitted_generator.sample(bad)
    assert len(fitted_generator.sample(np.int64(5))) == 5


@pytest.mark.parametrize("temperature", [-0.1, float("nan"), float("inf"), "hot", None])
def test_bad_temperature(fitted_generator, temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        fitted_generator.sample(5, temperature=temperature)


def test_tiny_temperatures_are_greedy_without_warnings(fitted_generator):
    greedy = fitted_generator.sample(30, prime="hel", temperature=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for t in (1e-320, 1e-300, 1e-30):
            assert fitted_generator.sample(30, prime="hel", temperature=t, random_state=0) == greedy


def test_top_k(fitted_generator):
    for bad in (0, -2, 1.5, True):
        with pytest.raises(
            ValueError, match=r"top_k must be None or an integer >= 1 \(values >= n_classes_=8"
        ):
            fitted_generator.sample(5, top_k=bad)
    # Larger than the vocabulary: clamped, i.e. no filtering.
    for k in (8, 9, 10**9):
        top_k = fitted_generator.sample(40, top_k=k, random_state=2)
        assert top_k == fitted_generator.sample(40, random_state=2)


def test_bad_sample_arguments(fitted_generator):
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1"):
        fitted_generator.sample(5, n_samples=0)
    with pytest.raises(TypeError, match="prime must be a str, got bytes"):
        fitted_generator.sample(5, prime=b"he")
    with pytest.raises(ValueError, match="cannot be used to seed"):
        fitted_generator.sample(5, random_state="seed")


@pytest.mark.parametrize(
    "param, value, allowed",
    [
        ("cell", "LSTM", r"str among \{.*'gru'.*\}"),
        ("cell", None, "str among"),
        ("hidden_size", -3, r"range \[1, inf\)"),
        ("hidden_size", 2.0, "an int"),
        ("n_layers", 0, r"range \[1, inf\)"),
        ("seq_length", 0, r"range \[1, inf\)"),
        ("batch_size", -1, r"range \[1, inf\)"),
        ("learning_rate", -1e-3, r"range \(0.0, inf\)"),
        ("learning_rate", float("inf"), r"range \(0.0, inf\)"),
        ("learning_rate", float("nan"), "range"),
        ("lr_decay", 0.0, r"range \(0.0, 1.0\]"),
        ("dropout", -0.1, r"range \[0.0, 1.0\)"),
        ("validation_fraction", -0.1, r"range \[0.0, 1.0\)"),
        ("validation_fraction", 1.0, r"range \[0.0, 1.0\)"),
        ("validation_fraction", 1.5, r"range \[0.0, 1.0\)"),
        ("max_time", -1.0, "range"),
        ("tol", -1e-3, r"range \[0.0, inf\)"),
        ("optimizer", "sgd", "str among"),
        ("early_stopping", 1, "bool"),
        ("max_iter", 0, r"range \[1, inf\)"),
        ("n_jobs", 0, r"range \(-inf, -1\].*None"),
        ("n_jobs", 1.5, "an int"),
    ],
)
def test_invalid_hyperparameters_name_the_parameter_and_allowed_values(param, value, allowed):
    for method in ("fit", "partial_fit"):
        model = tiny(**{param: value})
        with pytest.raises(
            ValueError, match=rf"'{param}' parameter of CharRNNGenerator must be .*{allowed}"
        ):
            getattr(model, method)(HELLO)
        assert not hasattr(model, "classes_")


# ------------------------------------------------------------- 3. large inputs
def test_five_megabyte_document_trains_in_bounded_memory():
    rng = np.random.default_rng(0)
    text = bytes(rng.integers(97, 105, 5_000_000, dtype=np.uint8)).decode("ascii")
    model = tiny(max_iter=2, max_time=0.3, batch_size=16, validation_fraction=0.002)
    tracemalloc.start()
    try:
        model.fit(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The ids cost one byte per character; encoding and counting work in small
    # chunks (int64 copies of the whole text would cost 8 bytes per character).
    assert peak < 2 * len(text) + 2**22, peak
    assert model.n_iter_ >= 1 and model.n_train_chars_ == len(text) - 10_000
    assert np.isfinite(model.loss_curve_[-1]) and np.isfinite(model.validation_scores_[-1])


@pytest.fixture(scope="module")
def short_strings():
    base = [
        "hello",
        "wor",
        "",
        "ld h",
        "hello w",
        "x",
        "@@",
        "o",
    ]  # "x", "@" are unknown characters
    return base, base * 125_000  # 1,000,000 strings


def test_predict_one_million_short_strings(fitted_generator, short_strings):
    base, many = short_strings
    with pytest.warns(UserWarning, match="'@x'"):
        expected = fitted_generator.predict(base)
        got = fitted_generator.predict(many)
    assert got.shape == (1_000_000,)
    np.testing.assert_array_equal(got, np.tile(expected, 125_000))
    with pytest.warns(UserWarning):
        proba = fitted_generator.predict_proba(many)
        proba_base = fitted_generator.predict_proba(base)
    assert proba.shape == (1_000_000, 8)
    # The network runs in float32, and documents grouped differently go through
    # BLAS kernels of other shapes: equal to a few float32 rounding errors, not bit for bit.
    np.testing.assert_allclose(proba[-len(base) :], proba_base, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


def test_prediction_memory_does_not_grow_with_the_vocabulary_times_documents(
    fitted_generator, short_strings
):
    _, many = short_strings
    X = many[:100_000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tracemalloc.start()
        try:
            fitted_generator.predict(X)
            predict_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()
            fitted_generator.predict_proba(X)
            proba_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    # A few int64 per document for lengths and offsets, one chunk of float64
    # logits, no per-document arrays; predict_proba adds its (n, n_classes) result.
    chunk = 8 * 8 * inference._CHUNK
    assert predict_peak < 64 * len(X) + chunk + 2**22, predict_peak
    assert proba_peak < (64 + 8 * 8) * len(X) + chunk + 2**22, proba_peak


def test_prediction_does_not_depend_on_chunking(fitted_generator, monkeypatch):
    X = [HELLO * 2, "", "hel", HELLO[:50], "wor", HELLO[:300], "o"]
    reference = fitted_generator.predict_proba(X)
    monkeypatch.setattr(inference, "_CHUNK", 2)
    monkeypatch.setattr(inference, "_GROUP_MIN", 1)
    monkeypatch.setattr(inference, "_GROUP_MAX", 1)
    np.testing.assert_allclose(fitted_generator.predict_proba(X), reference, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(
        fitted_generator.predict(X), fitted_generator.classes_[reference.argmax(axis=1)]
    )


# ------------------------------------------------------------ 4. not fitted
@pytest.mark.parametrize(
    "call",
    [
        lambda m, p: m.predict(["a"]),
        lambda m, p: m.predict_proba(["a"]),
        lambda m, p: m.score("ab"),
        lambda m, p: m.bits_per_character("ab"),
        lambda m, p: m.perplexity("ab"),
        lambda m, p: m.sample(5),
        lambda m, p: m.sample(0),
        lambda m, p: m.save(p / "never"),
    ],
    ids=[
        "predict",
        "predict_proba",
        "score",
        "bits_per_character",
        "perplexity",
        "sample",
        "sample0",
        "save",
    ],
)
def test_not_fitted(call, tmp_path):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        call(tiny(), tmp_path)
    assert not (tmp_path / "never").exists()


# ----------------------------------------------------- 5. property-based tests
characters = st.characters(
    min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()
)  # surrogates too


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(st.text(characters, min_size=0, max_size=25), min_size=1, max_size=4).filter(
        lambda d: sum(map(len, d)) >= 5
    ),
    prime=st.text(characters, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_unicode_corpus_fits_samples_and_scores(docs, prime, seed):
    text = "".join(docs)
    model = tiny(hidden_size=4, seq_length=4, batch_size=2, max_iter=2, random_state=seed % 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few streams; unknown prime characters
        model.fit(docs)
        out = model.sample(12, prime=prime, random_state=seed)
        score = model.score(docs)
        predicted = model.predict([*docs, prime])
    assert "".join(model.classes_) == "".join(sorted(set(text)))
    assert len(out) == 12 and set(out) <= set(text)
    assert np.isfinite(score) and score <= 0
    assert set(predicted) <= set(text)
    assert np.isfinite(model.perplexity(text)) and np.all(np.isfinite(model._net.params))


# ------------------------------------------------------------- 6. interrupts
def test_interrupt_with_validation_keeps_the_best_validated_weights(monkeypatch):
    text = HELLO * 2  # 12 windows of training per epoch
    params = dict(max_iter=10, validation_fraction=0.2, early_stopping=False)
    reference = tiny(**params).fit(text)
    FailOnCall(monkeypatch, CharRNN, "loss_and_grads", n=2 * 24 + 5, exc=KeyboardInterrupt)
    with pytest.warns(
        UserWarning, match=r"interrupted \(KeyboardInterrupt\) after 3 epoch.*best on validation"
    ):
        model = tiny(**params).fit(text)
    assert model.n_iter_ == 3 and len(model.loss_curve_) == len(model.time_curve_) == 3
    assert (
        model.validation_scores_ == reference.validation_scores_[:2]
    )  # the partial epoch has none
    assert model.best_iter_ == int(np.argmax(model.validation_scores_)) + 1
    best = tiny(**{**params, "max_iter": model.best_iter_}).fit(text)
    np.testing.assert_array_equal(model._net.params, best._net.params)
    assert model.score(text) == best.score(text)


def test_interrupt_without_validation_keeps_the_current_weights(monkeypatch):
    one_epoch = tiny(max_iter=1).fit(HELLO)
    patch = FailOnCall(monkeypatch, CharRNN, "loss_and_grads", n=WINDOWS + 4, exc=KeyboardInterrupt)
    with pytest.warns(UserWarning, match="after 2 epoch.*the current weights"):
        model = tiny(max_iter=5).fit(HELLO)
    assert patch.calls == WINDOWS + 4  # training stopped at once
    assert model.n_iter_ == 2 and len(model.loss_curve_) == len(model.time_curve_) == 2
    assert model.n_chars_seen_ == EPOCH_CHARS + 3 * 8 * 4  # then 3 windows of epoch 2
    assert model.loss_curve_[0] == one_epoch.loss_curve_[0] and np.isfinite(model.loss_curve_[1])
    assert not np.array_equal(model._net.params, one_epoch._net.params)  # the partial epoch is kept
    monkeypatch.undo()
    model.partial_fit(HELLO)  # and training continues
    assert model.n_iter_ == 3


def test_interrupt_before_any_update_leaves_a_usable_model(monkeypatch):
    FailOnCall(monkeypatch, CharRNN, "loss_and_grads", n=1, exc=KeyboardInterrupt)
    with pytest.warns(UserWarning, match="after 0 epoch"):
        model = tiny().fit(HELLO)
    assert model.n_iter_ == 0 and model.loss_curve_ == [] == model.time_curve_
    assert np.isfinite(model.score(HELLO)) and len(model.sample(5)) == 5


def test_interrupt_during_validation(monkeypatch):
    FailOnCall(monkeypatch, CharRNNGenerator, "_mean_log_likelihood", n=2, exc=KeyboardInterrupt)
    with pytest.warns(UserWarning, match="after 2 epoch.*weights of epoch 1"):
        model = tiny(max_iter=5, validation_fraction=0.2, early_stopping=True).fit(HELLO)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == len(model.time_curve_) == 2
    assert len(model.validation_scores_) == 1 and model.best_iter_ == 1


def test_interrupt_in_partial_fit(monkeypatch):
    model = tiny().partial_fit(HELLO)
    FailOnCall(monkeypatch, CharRNN, "loss_and_grads", n=3, exc=KeyboardInterrupt)
    with pytest.warns(UserWarning, match="after 2 epoch"):
        model.partial_fit(HELLO)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == len(model.time_curve_) == 2
    assert model.n_chars_seen_ == EPOCH_CHARS + 2 * 8 * 4


# ------------------------------------------------------------ 7. divergence
def nan_loss(result, *args):
    return float("nan")


def inf_grads(result, net, *args):
    net.grads[0] = np.inf
    return result


@pytest.mark.parametrize(
    "make, what", [(nan_loss, "training loss became nan"), (inf_grads, "gradient norm became inf")]
)
def test_divergence_restores_the_last_good_epoch(monkeypatch, make, what):
    one_epoch = tiny(max_iter=1).fit(HELLO)
    FailOnCall(monkeypatch, CharRNN, "loss_and_grads", n=WINDOWS + 5, make=make)
    with pytest.warns(
        ConvergenceWarning,
        match=rf"diverged in epoch 2: the {what} in window 5 of {WINDOWS}.*"
        r"end of epoch 1 were restored.*Lower learning_rate",
    ):
        model = tiny(max_iter=4).fit(HELLO)
    assert (
        model.n_iter_ == 1
        and model.loss_curve_ == one_epoch.loss_curve_
        and len(model.time_curve_) == 1
    )
    assert model.n_chars_seen_ == one_epoch.n_chars_seen_
    np.testing.assert_array_equal(model._net.params, one_epoch._net.params)
    np.testing.assert_array_equal(model._optimizer.m, one_epoch._optimizer.m)
    assert model._optimizer.t == one_epoch._optimizer.t
    assert np.all(np.isfinite(model.predict_proba(["hel"]))) and np.isfinite(model.score(HELLO))


def test_divergence_in_the_weights_and_in_validation(monkeypatch):
    original_step = Adam.step

    def poison(self, params, grads):
        original_step(self, params, grads)
        if self.t == 2 * WINDOWS:  # the last update of epoch 2
            params[3] = np.nan

    monkeypatch.setattr(Adam, "step", poison)
    with pytest.warns(ConvergenceWarning, match="epoch 2: the weights became infinite or NaN"):
        model = tiny(max_iter=4).fit(HELLO)
    assert model.n_iter_ == 1 and np.all(np.isfinite(model._net.params))
    monkeypatch.undo()

    FailOnCall(monkeypatch, CharRNNGenerator, "_mean_log_likelihood", n=2, make=nan_loss)
    with pytest.warns(ConvergenceWarning, match="epoch 2: the validation score became nan"):
        model = tiny(max_iter=4, validation_fraction=0.2, early_stopping=False).fit(HELLO)
    assert model.n_iter_ == 1 and len(model.validation_scores_) == 1 and len(model.loss_curve_) == 1


def test_divergence_before_a_new_model_trained_an_epoch_leaves_it_unfitted(monkeypatch):
    FailOnCall(monkeypatch, CharRNN, "loss_and_grads", n=3, make=nan_loss)
    model = tiny()
    with pytest.raises(ValueError, match=r"epoch 1.*no usable weights.*Lower learning_rate"):
        model.partial_fit(HELLO)
    with pytest.raises(NotFittedError):
        model.predict(["hel"])
    monkeypatch.undo()
    model.partial_fit(HELLO)
    assert model.n_iter_ == 1 and np.isfinite(model.loss_curve_[0])


# ------------------------------------------------------------ 8. persistence
def test_save_load_round_trip(tmp_path):
    model = tiny(
        dropout=0.2, validation_fraction=0.2, early_stopping=True, n_layers=2, cell="gru"
    ).fit(HELLO)
    path = model.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["estimator.json", "weights.npz"]
    loaded = CharRNNGenerator.load(path)
    assert loaded.get_params() == model.get_params()
    assert loaded.score(HELLO) == model.score(HELLO)
    assert loaded.sample(60, random_state=4) == model.sample(60, random_state=4)
    np.testing.assert_array_equal(
        loaded.predict_proba(["hel", ""]), model.predict_proba(["hel", ""])
    )
    for attr in (
        "loss_curve_",
        "time_curve_",
        "validation_scores_",
        "best_validation_score_",
        "best_iter_",
        "n_iter_",
        "n_chars_seen_",
        "n_train_chars_",
        "fit_time_",
        "n_classes_",
    ):
        assert getattr(loaded, attr) == getattr(model, attr), attr
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    np.testing.assert_array_equal(loaded.char_frequencies_, model.char_frequencies_)
    config = json.loads((path / "estimator.json").read_text())
    assert config["format"] == "skrnn.CharRNNGenerator" and config["format_version"] == 1


@pytest.mark.parametrize("optimizer", ["adam", "adagrad"])
def test_loaded_model_resumes_partial_fit_exactly(tmp_path, optimizer):
    model = tiny(optimizer=optimizer, dropout=0.3, lr_decay=0.9, max_iter=2).fit(HELLO)
    loaded = CharRNNGenerator.load(model.save(tmp_path / "m"))
    for m in (model, loaded):
        m.partial_fit(HELLO)
        m.set_params(warm_start=True, max_iter=1).fit(HELLO)
    np.testing.assert_array_equal(loaded._net.params, model._net.params)
    assert vars(loaded._optimizer).keys() == vars(model._optimizer).keys()
    assert loaded.loss_curve_ == model.loss_curve_ and loaded.n_iter_ == model.n_iter_ == 4


@pytest.mark.parametrize(
    "failure",
    [OSError(28, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "ctrl-c"],
)
def test_failed_save_keeps_the_earlier_save(tmp_path, monkeypatch, failure):
    first = tiny(max_iter=1).fit(HELLO)
    first.save(tmp_path / "m")
    second = tiny(max_iter=3).fit(HELLO)

    def failing_savez(file, *args, **kwargs):
        Path(file).write_bytes(b"PK\x03\x04 half a zip")
        raise failure

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(type(failure)):
        second.save(tmp_path / "m")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folders left
    assert CharRNNGenerator.load(tmp_path / "m").score(HELLO) == first.score(HELLO)
    second.save(tmp_path / "m")  # a later save replaces it
    assert CharRNNGenerator.load(tmp_path / "m").score(HELLO) == second.score(HELLO)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def edit_config(path, **changes):
    config = json.loads((path / "estimator.json").read_text())
    config.update(changes)
    (path / "estimator.json").write_text(json.dumps(config))


def test_incompatible_saves_are_refused(fitted_generator, tmp_path):
    newer = fitted_generator.save(tmp_path / "newer")
    edit_config(newer, format_version=2, skrnn_version="9.0")
    with pytest.raises(
        IncompatibleFileError, match=r"format 2, written by skrnn 9.0.*Upgrade skrnn"
    ):
        CharRNNGenerator.load(newer)
    other = fitted_generator.save(tmp_path / "other")
    edit_config(other, format="skrnn.LSTMSentimentClassifier")
    with pytest.raises(
        IncompatibleFileError, match=r"not written by CharRNNGenerator\.save.*LSTMSentimentClassif"
    ):
        CharRNNGenerator.load(other)
    assert issubclass(IncompatibleFileError, ValueError)


def test_damaged_saves_are_refused_without_running_code(fitted_generator, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"estimator\.json not found"):
        CharRNNGenerator.load(tmp_path / "missing")
    path = fitted_generator.save(tmp_path / "m")
    (path / "estimator.json").write_text("{not json")
    with pytest.raises(IncompatibleFileError, match="not valid JSON"):
        CharRNNGenerator.load(path)

    # A damaged save is not replaced: a new folder each time.
    path = fitted_generator.save(tmp_path / "m2")
    edit_config(path, optimizer={"name": "adam", "scalars": {"step": 1}})  # would shadow a method
    with pytest.raises(IncompatibleFileError, match="the optimizer has no number 'step'"):
        CharRNNGenerator.load(path)

    path = fitted_generator.save(tmp_path / "m3")
    np.savez(
        path / "weights.npz",
        params=np.zeros(3, np.float32),
        char_frequencies=fitted_generator.char_frequencies_,
    )
    with pytest.raises(IncompatibleFileError, match=r"parameters, the saved weights 3"):
        CharRNNGenerator.load(path)

    ran = []

    class Payload:
        def __reduce__(self):
            return (ran.append, ("code ran",))

    path = fitted_generator.save(tmp_path / "m4")
    np.savez(path / "weights.npz", params=np.array([Payload()], dtype=object))
    with pytest.raises(IncompatibleFileError, match="allow_pickle=False"):
        CharRNNGenerator.load(path)
    assert ran == []

    (path / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(IncompatibleFileError, match="the save is damaged"):
        CharRNNGenerator.load(path)
    (path / "weights.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"weights\.npz not found"):
        CharRNNGenerator.load(path)


def test_save_refuses_to_replace_an_unrelated_folder(fitted_generator, tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(ValueError, match="does not hold a saved skrnn estimator"):
        fitted_generator.save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "precious"
    with pytest.raises(ValueError, match="not a folder"):
        fitted_generator.save(tmp_path / "notes.txt")


def test_random_state_instance_is_saved_as_none(tmp_path):
    model = tiny(random_state=np.random.RandomState(0)).fit(HELLO)
    loaded = CharRNNGenerator.load(model.save(tmp_path / "m"))
    assert loaded.random_state is None and loaded.score(HELLO) == model.score(HELLO)


def test_pickle_from_a_newer_format_is_refused(fitted_generator, monkeypatch):
    again = pickle.loads(pickle.dumps(fitted_generator))
    assert again.score(HELLO) == fitted_generator.score(HELLO)
    assert "_skrnn_format_version" not in vars(fitted_generator)  # the header is added to a copy
    monkeypatch.setattr(persistence, "FORMAT_VERSION", 2)
    data = pickle.dumps(fitted_generator)
    monkeypatch.undo()
    with pytest.raises(IncompatibleFileError, match=r"state format 2.*Upgrade skrnn"):
        pickle.loads(data)
