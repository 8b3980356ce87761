"""CharRNNGenerator as a scikit-learn estimator (tiny models, small synthetic texts)."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from skrnn import CharRNNGenerator

HELLO = "hello world " * 100  # 1,200 characters, 8 distinct
SMALL = dict(
    hidden_size=16,
    n_layers=1,
    seq_length=12,
    batch_size=8,
    learning_rate=1e-2,
    lr_decay=1.0,
    dropout=0.0,
)


def small(**params):
    return CharRNNGenerator(
        **{
            **SMALL,
            "max_iter": 3,
            "validation_fraction": 0.0,
            "early_stopping": False,
            "random_state": 0,
            **params,
        }
    )


@pytest.fixture(scope="module")
def hello_model():
    """Learns the periodic text well enough to reproduce it greedily."""
    return small(hidden_size=32, max_iter=40).fit(HELLO)


# --------------------------------------------------------------------- learning
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_periodic_text_is_learned_and_reproduced(cell):
    model = small(cell=cell, hidden_size=24, max_iter=25).fit("abc" * 400)
    assert model.loss_curve_[-1] < 0.1 < model.loss_curve_[0]
    assert model.sample(12, prime="ab", temperature=0) == "cabcabcabcab"
    assert model.score("abcabcabcabc") > -0.1


def test_hello_world_sample_and_predict(hello_model):
    assert hello_model.sample(17, prime="hello ", temperature=0) == "world hello world"
    np.testing.assert_array_equal(
        hello_model.predict(["hello worl", "hello world", "hel"]), ["d", " ", "l"]
    )


def test_documents_are_concatenated_in_order():
    a = small().fit(["hello ", "world " * 60, "hello"])
    b = small().fit("hello " + "world " * 60 + "hello")
    np.testing.assert_array_equal(a._net.params, b._net.params)


# ----------------------------------------------------------- scikit-learn API
def test_sklearn_estimator_checks():
    name = "CharRNNGenerator"
    check_parameters_default_constructible(name, CharRNNGenerator())
    check_no_attributes_set_in_init(name, CharRNNGenerator())
    check_get_params_invariance(name, CharRNNGenerator())
    check_set_params(name, CharRNNGenerator())


def test_clone_get_params_set_params(hello_model):
    params = hello_model.get_params()
    assert params["hidden_size"] == 32 and set(params) == set(CharRNNGenerator().get_params())
    fresh = clone(hello_model)
    assert fresh.get_params() == params
    assert not hasattr(fresh, "classes_")
    with pytest.raises(NotFittedError):
        fresh.sample(3)
    assert fresh.set_params(hidden_size=7, cell="gru") is fresh
    assert fresh.hidden_size == 7 and fresh.cell == "gru"
    assert hello_model.hidden_size == 32


def test_tags_declare_string_input_without_target():
    tags = CharRNNGenerator().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert not tags.target_tags.required


def test_grid_search_picks_by_score():
    docs = ["hello world " * 12 + "hello there " * 3 for _ in range(9)]
    search = GridSearchCV(small(batch_size=4, max_iter=6), {"hidden_size": [1, 24]}, cv=3)
    search.fit(docs)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores < 0)
    assert search.best_index_ == int(np.argmax(scores))
    assert search.best_params_ == {"hidden_size": 24}
    assert search.best_estimator_.score(docs[:2]) == pytest.approx(search.score(docs[:2]))


def test_cross_val_score_without_labels():
    docs = ["abcabc" * 20 + "cba" * 5 for _ in range(6)]
    scores = cross_val_score(small(batch_size=4, max_iter=4), docs, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores)) and np.all(scores < 0)


# ------------------------------------------------------------- training loop
def test_partial_fit_resume_equals_training_longer():
    once = small(max_iter=3).fit(HELLO)
    resumed = small(max_iter=2).fit(HELLO).partial_fit(HELLO)
    np.testing.assert_array_equal(resumed._net.params, once._net.params)
    np.testing.assert_array_equal(resumed._optimizer.v, once._optimizer.v)
    assert resumed.n_iter_ == 3 and resumed.loss_curve_ == once.loss_curve_

    incremental = small()
    for _ in range(3):
        incremental.partial_fit(HELLO)
    np.testing.assert_array_equal(incremental._net.params, once._net.params)


def test_partial_fit_keeps_vocabulary_and_skips_new_characters():
    model = small().partial_fit("abcabc" * 30)
    with pytest.warns(UserWarning, match="'xz'"):
        model.partial_fit("abxcabzc" * 30)
    assert list(model.classes_) == ["a", "b", "c"]


def test_warm_start_continues_and_checks_architecture():
    once = small(max_iter=3).fit(HELLO)
    model = small(max_iter=2).fit(HELLO)
    model.set_params(warm_start=True, max_iter=1).fit(HELLO)
    np.testing.assert_array_equal(model._net.params, once._net.params)
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 3
    cold = small(max_iter=2).fit(HELLO).set_params(max_iter=1).fit(HELLO)
    assert cold.n_iter_ == 1 and not np.array_equal(cold._net.params, once._net.params)
    with pytest.raises(ValueError, match="hidden_size"):
        model.set_params(hidden_size=8).fit(HELLO)


def test_early_stopping_restores_the_best_weights():
    # The training part is periodic, the held-out tail is not: the better the
    # model learns the period, the worse it predicts the tail.
    rng = np.random.default_rng(0)
    tail = "".join(rng.choice(list("abc"), 120))
    text = "abc" * 360 + tail
    model = small(
        max_iter=30,
        learning_rate=3e-2,
        validation_fraction=0.1,
        early_stopping=True,
        n_iter_no_change=2,
    ).fit(text)
    scores = model.validation_scores_
    assert model.n_iter_ < 30 and len(scores) == model.n_iter_
    assert model.best_validation_score_ == max(scores) > scores[-1]
    assert model.best_iter_ == int(np.argmax(scores)) + 1
    assert model.score(tail) == pytest.approx(model.best_validation_score_, abs=1e-6)


def test_validation_scores_are_negative_losses():
    model = small(max_iter=2, validation_fraction=0.2, early_stopping=False).fit(HELLO)
    assert len(model.validation_scores_) == 2 and len(model.loss_curve_) == 2
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert all(s < 0 for s in model.validation_scores_) and all(
        loss > 0 for loss in model.loss_curve_
    )
    assert model.n_train_chars_ == len(HELLO) - 240
    assert model.score(HELLO[-240:]) == pytest.approx(model.validation_scores_[-1], abs=1e-6)


def test_max_time_stops_between_windows():
    model = small(max_iter=50, max_time=1e-9).fit(HELLO)
    assert model.n_iter_ == 1 and model.n_chars_seen_ == 12 * 8  # one window
    assert np.isfinite(model.loss_curve_[0])


def test_random_state_gives_identical_weights_and_samples():
    a = small(dropout=0.3, n_layers=2).fit(HELLO)
    b = small(dropout=0.3, n_layers=2).fit(HELLO)
    np.testing.assert_array_equal(a._net.params, b._net.params)
    assert a.sample(50, random_state=3) == b.sample(50, random_state=3)
    assert a.sample(50, random_state=3) != a.sample(50, random_state=4)
    c = small(dropout=0.3, n_layers=2, random_state=1).fit(HELLO)
    assert not np.array_equal(a._net.params, c._net.params)


# ------------------------------------------------------------ persistence
@pytest.mark.parametrize(
    "dump, load",
    [
        (lambda m, f: pickle.dump(m, f), lambda f: pickle.load(f)),
        (lambda m, f: joblib.dump(m, f), lambda f: joblib.load(f)),
    ],
)
def test_pickle_and_joblib_round_trip(hello_model, dump, load):
    hello_model.score(HELLO)  # fills the work arrays, which must not be saved
    buffer = io.BytesIO()
    dump(hello_model, buffer)
    # Weights and the two Adam moments, plus small change; no work arrays.
    assert buffer.tell() < 3 * hello_model._net.params.nbytes + 20_000
    buffer.seek(0)
    loaded = load(buffer)
    assert loaded.score(HELLO) == hello_model.score(HELLO)
    assert loaded.sample(40, random_state=5) == hello_model.sample(40, random_state=5)
    np.testing.assert_array_equal(
        loaded.predict_proba(["hel", "wo"]), hello_model.predict_proba(["hel", "wo"])
    )


# -------------------------------------------------------------- prediction
def test_predict_proba_columns_follow_classes(hello_model):
    assert list(hello_model.classes_) == sorted(set(HELLO))
    assert all(isinstance(c, str) and len(c) == 1 for c in hello_model.classes_)
    proba = hello_model.predict_proba(["hello wor", "", "hello world hello world hello world h"])
    assert proba.shape == (3, len(hello_model.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert hello_model.classes_[np.argmax(proba[0])] == "l"
    assert hello_model.classes_[np.argmax(proba[2])] == "e"
    np.testing.assert_allclose(proba[1], hello_model.char_frequencies_)  # empty context
    np.testing.assert_array_equal(hello_model.predict(["hello wor"]), ["l"])


def test_predict_single_string_is_rejected(hello_model):
    with pytest.raises(ValueError, match="single string"):
        hello_model.predict_proba("hello")


def test_score_helpers_and_stream_splitting():
    model = small(max_iter=2).fit(HELLO)
    text = HELLO * 2  # long enough to be scored as parallel streams
    score = model.score(text)
    assert model.bits_per_character(text) == pytest.approx(-score / np.log(2))
    assert model.perplexity(text) == pytest.approx(np.exp(-score))
    # Parallel streams with a warm-up read the text as one pass would.
    one_pass = clone(model).set_params(batch_size=1)
    one_pass.__dict__.update(
        {k: v for k, v in model.__dict__.items() if k.endswith("_") or k.startswith("_")}
    )
    one_pass.batch_size = 1
    assert one_pass.score(text) == pytest.approx(score, abs=2e-3)
    assert model.score([HELLO, HELLO]) == pytest.approx(score)


# ---------------------------------------------------------------- sampling
def test_sample_shapes_and_prime(hello_model):
    one = hello_model.sample(25, random_state=0)
    assert isinstance(one, str) and len(one) == 25 and set(one) <= set(HELLO)
    many = hello_model.sample(10, prime="hello", n_samples=4, random_state=0)
    assert isinstance(many, list) and len(many) == 4 and all(len(s) == 10 for s in many)
    assert hello_model.sample(0) == ""


def test_temperature_zero_is_greedy(hello_model):
    for prime in ["hel", "hello w", "o"]:
        greedy = hello_model.sample(1, prime=prime, temperature=0, random_state=1)
        assert greedy == hello_model.predict([prime])[0]
    assert hello_model.sample(30, prime="h", temperature=0, random_state=1) == hello_model.sample(
        30, prime="h", temperature=0, random_state=2
    )
    assert hello_model.sample(30, temperature=0, top_k=1) == hello_model.sample(30, temperature=0)


def test_top_k_limits_the_choice():
    model = small(max_iter=1, learning_rate=1e-3).fit(HELLO)  # barely trained: flat distributions
    proba = model.predict_proba(["hello"])[0]
    top2 = set(model.classes_[np.argsort(proba)[-2:]])
    firsts = {s[0] for s in model.sample(1, prime="hello", top_k=2, n_samples=200, random_state=0)}
    assert firsts == top2
    firsts_all = {s[0] for s in model.sample(1, prime="hello", n_samples=200, random_state=0)}
    assert len(firsts_all) > 2
    assert model.sample(20, prime="hello", top_k=1, random_state=0) == model.sample(
        20, prime="hello", temperature=0
    )


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.5, None), (2.0, 3)])
def test_sample_draws_from_the_model_distribution(temperature, top_k):
    # The first characters of many independent samples are distributed as predict_proba
    # says, tempered (p ** (1 / T), renormalised) and cut to the top_k most likely.
    model = small(max_iter=1, learning_rate=1e-3).fit(HELLO)  # barely trained: spread distributions
    p = model.predict_proba(["hello"])[0] ** (1.0 / temperature)
    if top_k is not None:
        p[p < np.sort(p)[-top_k]] = 0.0
    p /= p.sum()
    n = 20_000
    firsts = model.sample(
        1, prime="hello", temperature=temperature, top_k=top_k, n_samples=n, random_state=0
    )
    observed = np.array([firsts.count(c) for c in model.classes_]) / n
    assert observed.sum() == 1.0
    # Within 5 standard deviations of a multinomial draw (exactly 0 where p is 0).
    assert np.all(np.abs(observed - p) <= 5 * np.sqrt(p * (1 - p) / n)), (observed, p)


def test_unknown_characters_are_skipped_with_one_warning(hello_model):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = hello_model.score(["hello@ world#", "hello% world"])
        proba = hello_model.predict_proba(["hello wor@", "hel#"])
        text = hello_model.sample(5, prime="hello wor~", temperature=0)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 3, messages
    assert "'#%@'" in messages[0] and "'#@'" in messages[1] and "'~'" in messages[2]
    assert score == pytest.approx(hello_model.score(["hello world", "hello world"]))
    np.testing.assert_array_equal(proba, hello_model.predict_proba(["hello wor", "hel"]))
    assert text == hello_model.sample(5, prime="hello wor", temperature=0)


# ----------------------------------------------------------------- errors
def test_not_fitted_errors():
    model = CharRNNGenerator()
    for call in (
        lambda: model.sample(5),
        lambda: model.predict(["a"]),
        lambda: model.predict_proba(["a"]),
        lambda: model.score("ab"),
        lambda: model.perplexity("ab"),
    ):
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize(
    "param, value",
    [
        ("cell", "transformer"),
        ("hidden_size", 0),
        ("n_layers", 1.5),
        ("seq_length", -1),
        ("batch_size", 0),
        ("optimizer", "sgd"),
        ("learning_rate", 0.0),
        ("dropout", 1.0),
        ("clip_norm", -1.0),
        ("max_iter", 0),
        ("max_time", 0),
        ("validation_fraction", 1.0),
        ("early_stopping", "yes"),
        ("n_iter_no_change", 0),
        ("lr_decay", 1.5),
        ("random_state", "seed"),
        ("verbose", -1),
    ],
)
def test_bad_parameters_are_named(param, value):
    with pytest.raises((ValueError, TypeError), match=f"'{param}' parameter"):
        small(**{param: value}).fit(HELLO)


def test_bad_data_and_sample_arguments(hello_model):
    model = small()
    with pytest.raises(ValueError, match="at least seq_length \\+ 1 = 13"):
        model.fit("hello")
    assert not hasattr(model, "classes_")  # a failed fit leaves no half-fitted model
    with pytest.raises(ValueError, match="validation_fraction > 0"):
        small(early_stopping=True).fit(HELLO)
    with pytest.warns(UserWarning, match="using 2 streams"):
        small(batch_size=8).fit("ab" * 15)
    with pytest.raises(TypeError, match="must be a string"):
        small().fit(5)
    for kwargs in (
        {"n_chars": -1},
        {"n_chars": 3, "temperature": -1},
        {"n_chars": 3, "top_k": 0},
        {"n_chars": 3, "n_samples": 0},
    ):
        with pytest.raises(
            ValueError, match=next(k for k in kwargs if k != "n_chars" or len(kwargs) == 1)
        ):
            hello_model.sample(**kwargs)


def test_encoded_corpus_is_compact_and_not_copied():
    model = small().fit(HELLO)
    ids, _ = model._encode([HELLO], "X")
    assert ids.dtype == np.uint8
    x, y = model._make_streams(ids, "X")
    assert np.shares_memory(x, ids) and np.shares_memory(y, ids)


def test_verbose_progress_and_samples(capsys):
    small(max_iter=2, verbose=2, validation_fraction=0.2, early_stopping=True).fit(HELLO)
    captured = capsys.readouterr()
    assert "Epoch 2/2" in captured.err and "chars/s" in captured.err
    assert "validation score" in captured.err
    assert captured.out.count("\n") == 2  # one sample per epoch
