"""LSTMSentimentClassifier: behaviour, input validation, persistence and the scikit-learn contract.

Everything runs on tiny generated reviews ("good"/"bad" words in filler text)
with tiny networks, so the whole file takes well under a few minutes on 2 cores.
"""

import json
import os
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skrnn.sentiment import LSTMSentimentClassifier


# ---------------------------------------------------------------- parameters
def test_init_stores_parameters_verbatim():
    params = dict(
        max_features=123, maxlen=None, class_weight={0: 2.0}, random_state=np.random.RandomState(0)
    )
    clf = LSTMSentimentClassifier(**params)
    for name, value in params.items():
        assert clf.get_params()[name] is value
    assert not hasattr(clf, "model_")


def test_get_set_params_and_clone(fitted_classifier):
    clf = LSTMSentimentClassifier(hidden_size=32)
    assert clf.set_params(hidden_size=64, bidirectional=True) is clf
    assert clf.get_params()["hidden_size"] == 64 and clf.bidirectional is True
    fresh = clone(fitted_classifier)
    assert fresh.get_params() == fitted_classifier.get_params()
    assert not hasattr(fresh, "model_") and not hasattr(fresh, "classes_")


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_size": 0},
        {"maxlen": 0},
        {"dropout": 1.0},
        {"pooling": "median"},
        {"truncating": "middle"},
        {"validation_fraction": 0.0},
        {"learning_rate": -1.0},
        {"verbose": 3},
        {"max_features": 2},
        {"bigram_buckets": 1},
        {"ema_momentum": 1.0},
        {"paths": "cnn"},
        {"ngram_range": (0, 2)},
        {"ngram_range": (3, 1)},
        {"ngram_range": "1-3"},
        {"ngram_C": 0.0},
        {"lstm_weight": -0.1},
        {"max_iter": "many"},
    ],
)
def test_invalid_parameters_raise_in_fit(params, small_reviews):
    X, y = small_reviews
    clf = LSTMSentimentClassifier(**params)  # no error at construction
    with pytest.raises(ValueError):
        clf.fit(X, y)


def test_sklearn_tags_declare_string_input():
    tags = LSTMSentimentClassifier().__sklearn_tags__()
    assert tags.input_tags.string is True
    assert tags.input_tags.two_d_array is False
    assert tags.estimator_type == "classifier"


# ------------------------------------------------------------- fit / predict
def test_fit_predict_learns_the_signal(fitted_classifier, make_reviews):
    X_test, y_test = make_reviews(100, seed=1)
    assert fitted_classifier.score(X_test, y_test) >= 0.9
    proba = fitted_classifier.predict_proba(X_test)
    assert proba.shape == (100, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(
        fitted_classifier.predict(X_test), fitted_classifier.classes_[proba.argmax(axis=1)]
    )
    assert fitted_classifier.n_iter_ == 6
    assert len(fitted_classifier.loss_curve_) == len(fitted_classifier.time_curve_) == 6
    # Without early stopping (or ngram_C="auto") nothing is held out.
    assert fitted_classifier.validation_scores_ is None
    assert fitted_classifier.tokenizer_.vocabulary and fitted_classifier.input_kind_ == "text"
    assert "br" not in fitted_classifier.tokenizer_.vocabulary  # HTML line breaks are removed


@pytest.mark.parametrize("container", ["list", "ndarray_object", "ndarray_str", "series", "tuple"])
def test_accepts_common_containers(container, fitted_classifier, small_reviews):
    X, _ = small_reviews
    X = X[:20]
    if container == "ndarray_object":
        X = np.array(X, dtype=object)
    elif container == "ndarray_str":
        X = np.array(X)
    elif container == "series":
        pd = pytest.importorskip("pandas")
        X = pd.Series(X, index=np.arange(100, 120))
    elif container == "tuple":
        X = tuple(X)
    expected = fitted_classifier.predict_proba(list(np.asarray(X, dtype=object)))
    np.testing.assert_array_equal(fitted_classifier.predict_proba(X), expected)


@pytest.mark.parametrize(
    "labels",
    [["neg", "pos"], [False, True], [-1, 1], [3.0, 7.0]],
    ids=["str", "bool", "int", "float"],
)
def test_binary_labels_of_any_type(labels, make_reviews, tiny_classifier_params):
    X, y = make_reviews(60, labels=labels)
    clf = LSTMSentimentClassifier(**{**tiny_classifier_params, "max_iter": 1}).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    pred = clf.predict(X)
    assert pred.dtype == clf.classes_.dtype
    assert set(pred.tolist()) <= set(np.unique(labels).tolist())
    assert clf.predict_proba(X).shape == (60, 2)


def test_multiclass_uses_softmax(make_reviews, tiny_classifier_params):
    X, y = make_reviews(180, n_classes=3, labels=["bad", "good", "meh"])
    clf = LSTMSentimentClassifier(**{**tiny_classifier_params, "max_iter": 8}).fit(X, y)
    assert clf.model_.output_shape == (None, 3)
    proba = clf.predict_proba(X)
    assert proba.shape == (180, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert clf.score(X, y) > 0.8


def test_empty_and_long_documents(fitted_classifier):
    proba = fitted_classifier.predict_proba(["", "!!!", "good " * 2000])
    assert proba.shape == (3, 2) and np.all(np.isfinite(proba))


def test_truncating_keeps_head_or_tail():
    clf = LSTMSentimentClassifier(maxlen=3, truncating="post")
    assert clf._read([[5, 6, 7, 8, 9]], "ids")[0][0].tolist() == [5, 6, 7]
    clf.set_params(truncating="pre")
    assert clf._read([[5, 6, 7, 8, 9]], "ids")[0][0].tolist() == [7, 8, 9]


def test_deterministic_with_random_state(small_reviews, tiny_classifier_params):
    X, y = small_reviews
    params = {
        **tiny_classifier_params,
        "early_stopping": True,
        "dropout": 0.1,
        "output_dropout": 0.2,
        "ema_momentum": 0.9,
        "max_iter": 2,
    }
    a = LSTMSentimentClassifier(**params).fit(X, y).predict_proba(X)
    b = LSTMSentimentClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = LSTMSentimentClassifier(**{**params, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)


def test_sample_weight_and_class_weight(small_reviews, tiny_classifier_params):
    X, y = small_reviews
    base = (
        LSTMSentimentClassifier(**{**tiny_classifier_params, "max_iter": 2})
        .fit(X, y)
        .predict_proba(X)
    )
    sw = np.where(y == 1, 5.0, 0.2)
    weighted = (
        LSTMSentimentClassifier(**{**tiny_classifier_params, "max_iter": 2})
        .fit(X, y, sample_weight=sw)
        .predict_proba(X)
    )
    assert weighted[:, 1].mean() > base[:, 1].mean()
    cw = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "max_iter": 2, "class_weight": {1: 5.0, 0: 0.2}}
    )
    np.testing.assert_allclose(cw.fit(X, y).predict_proba(X), weighted, atol=1e-5)
    LSTMSentimentClassifier(
        **{**tiny_classifier_params, "max_iter": 1, "class_weight": "balanced"}
    ).fit(X, y)


# --------------------------------------------------------- pre-tokenized input
def test_pretokenized_sequences_like_keras_imdb(tiny_classifier_params):
    rng = np.random.default_rng(0)
    X, y = [], []
    for i in range(120):
        label = i % 2
        seq = list(rng.integers(10, 60, rng.integers(3, 25)))
        seq.insert(int(rng.integers(0, len(seq))), 3 if label else 4)
        X.append([int(v) for v in seq])
        y.append(label)
    X_obj = np.empty(len(X), dtype=object)
    X_obj[:] = X
    # bigram_buckets=0: the pure LSTM network.
    clf = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "max_features": 100, "max_iter": 8, "bigram_buckets": 0}
    ).fit(X_obj, y)
    assert all(layer.name != "hashed_bigrams" for layer in clf.model_.layers)
    assert clf.tokenizer_ is None and clf.input_kind_ == "ids"
    assert clf.score(X, y) >= 0.9
    # Ids >= max_features are read as out-of-vocabulary; 2-D padded arrays work too.
    assert clf.predict_proba([[3, 10_000, 12]]).shape == (1, 2)
    padded = np.zeros((2, 30), dtype=np.int64)
    padded[0, -3:] = [3, 12, 13]
    padded[1, -3:] = [4, 12, 13]
    np.testing.assert_array_equal(
        clf.predict_proba(padded), clf.predict_proba([[3, 12, 13], [4, 12, 13]])
    )
    with pytest.raises(ValueError, match="token ids"):
        clf.predict(["raw text needs a tokenizer"])
    with pytest.raises(ValueError, match="negative"):
        clf.predict([[3, -1]])
    with pytest.raises(TypeError, match="mix"):
        clf.predict([[3, 4], "text"])


# --------------------------------------------------------------- bad input
# The checks themselves are tested in test_validation.py; these tests check that
# fit and predict apply them, and the errors that only the estimator can raise.
def test_bad_input_gives_clear_errors(small_reviews, fitted_classifier, tiny_classifier_params):
    X, y = small_reviews
    clf = LSTMSentimentClassifier(**tiny_classifier_params)
    with pytest.raises(ValueError, match="inconsistent lengths"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="single class"):
        clf.fit(X, np.zeros(len(X)))
    with pytest.raises(TypeError, match="not str"):
        clf.fit([*X[:5], 3.5], list(y[:6]))
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="No document in X has a token"):
        clf.fit(["", "..."] * 4, [0, 1] * 4)
    assert not hasattr(clf, "classes_")
    with pytest.raises(ValueError, match="empty or only padding"):
        clf.fit([[0, 0], [0]] * 4, [0, 1] * 4)
    with pytest.raises(NotFittedError):
        LSTMSentimentClassifier().predict(X)
    with pytest.raises(TypeError):
        fitted_classifier.predict([b"bytes are not text"])
    with pytest.raises(ValueError, match="validation_fraction"):
        LSTMSentimentClassifier(
            **{**tiny_classifier_params, "early_stopping": True, "validation_fraction": 0.9}
        ).fit(X[:2], y[:2])


# -------------------------------------------- early stopping, warm start, partial_fit
def test_early_stopping_records_validation_and_restores_best(small_reviews, tiny_classifier_params):
    X, y = small_reviews
    clf = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "early_stopping": True, "max_iter": 4, "n_iter_no_change": 2}
    ).fit(X, y)
    assert len(clf.loss_curve_) == len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_iter_ == int(np.argmax(clf.validation_scores_)) + 1
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_warm_start_continues_training(small_reviews, tiny_classifier_params):
    X, y = small_reviews
    clf = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "max_iter": 1, "warm_start": True}
    ).fit(X, y)
    model, vocab = clf.model_, clf.tokenizer_.vocabulary
    clf.fit(X, y)
    assert clf.model_ is model and clf.tokenizer_.vocabulary is vocab
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.model_ is not model and clf.n_iter_ == 1


def test_partial_fit(small_reviews, tiny_classifier_params):
    X, y = small_reviews
    clf = LSTMSentimentClassifier(**{**tiny_classifier_params, "learning_rate": 0.02})
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X[:80], y[:80])
    for _ in range(3):
        clf.partial_fit(X[:80], y[:80], classes=[0, 1])
        clf.partial_fit(X[80:], y[80:])
    assert clf.n_iter_ == 6 and len(clf.loss_curve_) == 6
    assert clf.score(X, y) > 0.8
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:4], [0, 1, 2, 1])


# ------------------------------------------------------------- the two paths
@pytest.mark.parametrize("paths", ["lstm", "ngrams"])
def test_each_path_alone(paths, small_reviews, tmp_path, tiny_classifier_params):
    X, y = small_reviews
    clf = LSTMSentimentClassifier(**{**tiny_classifier_params, "paths": paths}).fit(X, y)
    assert clf.paths_ == paths
    assert (clf.model_ is None) == (paths == "ngrams")
    assert (clf.ngram_coef_ is None) == (clf.ngram_norms_ is None) == (paths == "lstm")
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    again = LSTMSentimentClassifier.load(clf.save(tmp_path / paths))
    np.testing.assert_allclose(again.predict_proba(X), proba, rtol=1e-6)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(clf)).predict_proba(X), proba, rtol=1e-6)


def _path_outputs(clf, X):
    """The n-gram path's decision values and the LSTM's probabilities, each computed alone."""
    return clf._ngram_scores(X, "text", 0, None), clf._lstm_proba(clf._read(X, "text")[0])


def test_blend_adds_weighted_lstm_log_odds_to_the_ngram_score(fitted_classifier, make_reviews):
    from scipy.special import expit, logit

    X, _ = make_reviews(50, seed=2)
    assert fitted_classifier.paths_ == "both" and fitted_classifier.lstm_weight == 0.2
    assert fitted_classifier.ngram_C_ == 30.0
    scores, lstm = _path_outputs(fitted_classifier, X)
    assert scores.shape == (50, 1)
    expected = expit(scores[:, 0] + 0.2 * logit(lstm[:, 1]))
    proba = fitted_classifier.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(proba[:, 0], 1 - expected, rtol=1e-6, atol=1e-9)
    try:  # the weight is read at prediction time
        fitted_classifier.set_params(lstm_weight=1.5)
        np.testing.assert_allclose(
            fitted_classifier.predict_proba(X)[:, 1],
            expit(scores[:, 0] + 1.5 * logit(lstm[:, 1])),
            rtol=1e-6,
            atol=1e-9,
        )
    finally:
        fitted_classifier.set_params(lstm_weight=0.2)


def test_lstm_weight_0_is_the_ngram_path_alone(small_reviews, make_reviews, tiny_classifier_params):
    X, y = small_reviews
    X_test, _ = make_reviews(60, seed=3)
    both = LSTMSentimentClassifier(**{**tiny_classifier_params, "lstm_weight": 0.0}).fit(X, y)
    alone = LSTMSentimentClassifier(**{**tiny_classifier_params, "paths": "ngrams"}).fit(X, y)
    # Both paths train on all the data: the n-gram paths are the same model.
    assert (both.ngram_coef_ != alone.ngram_coef_).nnz == 0
    np.testing.assert_allclose(both.predict_proba(X_test), alone.predict_proba(X_test), rtol=1e-12)
    with_lstm = both.set_params(lstm_weight=0.2).predict_proba(X_test)
    assert np.abs(with_lstm - alone.predict_proba(X_test)).max() > 1e-3


def test_ngram_path_is_an_l2_normalised_nb_lr(small_reviews, tiny_classifier_params):
    from sklearn.preprocessing import normalize

    from skrnn.baseline import NBLogCountRatio, nb_lr_classifier
    from skrnn.ngrams import NB_ALPHA, ngram_features, used_columns

    X, y = small_reviews
    clf = LSTMSentimentClassifier(**{**tiny_classifier_params, "paths": "ngrams"}).fit(X, y)
    used, compact = used_columns(ngram_features((1, 3), token_lists=clf._tokenize(X)))
    nb = NBLogCountRatio(alpha=NB_ALPHA).fit(compact, y)
    np.testing.assert_allclose(clf.ngram_norms_[0, used].toarray()[0], nb.ratio_**2, rtol=1e-5)
    Z = normalize(nb.transform(compact))
    # The C and the seed the path used; liblinear's result depends on both.
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    lr = nb_lr_classifier(C=30.0, random_state=seed).fit(Z, y)
    np.testing.assert_allclose(
        clf._ngram_scores(X, "text", 0, None)[:, 0], lr.decision_function(Z), rtol=1e-4, atol=1e-5
    )
    # ngram_C="auto" picks from the grid.
    auto = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "ngram_C": "auto", "paths": "ngrams"}
    ).fit(X, y)
    assert auto.ngram_C_ in (1.0, 3.0, 10.0, 30.0, 100.0)


def test_multiclass_blend_is_a_softmax_of_ngram_scores_and_lstm_log_proba(
    make_reviews, tiny_classifier_params
):
    from scipy.special import softmax

    X, y = make_reviews(150, n_classes=3)
    clf = LSTMSentimentClassifier(**{**tiny_classifier_params, "lstm_weight": 0.5}).fit(X, y)
    assert clf.ngram_coef_.shape[0] == clf.ngram_norms_.shape[0] == 3  # one-vs-rest
    # Each class has its own ratios: the rows of the norms differ.
    assert (clf.ngram_norms_[0] != clf.ngram_norms_[1]).nnz > 0
    X_test, y_test = make_reviews(60, n_classes=3, seed=1)
    scores, lstm = _path_outputs(clf, X_test)
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba, softmax(scores + 0.5 * np.log(lstm), axis=1), rtol=1e-6)
    assert clf.score(X_test, y_test) > 0.9


def test_held_out_part_only_for_early_stopping_or_auto_c(
    small_reviews, tiny_classifier_params, record_calls
):
    X, y = small_reviews
    ngram_fits = record_calls(LSTMSentimentClassifier, "_fit_ngrams")
    lstm_fits = record_calls(LSTMSentimentClassifier, "_train")
    params = {**tiny_classifier_params, "validation_fraction": 0.25}
    LSTMSentimentClassifier(**params).fit(X, y)
    assert len(ngram_fits[-1][2]) == len(lstm_fits[-1][0]) == 160  # all the data
    early = LSTMSentimentClassifier(**{**params, "early_stopping": True}).fit(X, y)
    # The LSTM holds out a quarter for its validation; the n-gram path trains on everything.
    assert len(lstm_fits[-1][0]) == 120 and len(early.validation_scores_) == early.n_iter_
    assert len(ngram_fits[-1][2]) == 160 and ngram_fits[-1][3] is not None
    LSTMSentimentClassifier(**{**params, "ngram_C": "auto"}).fit(X, y)
    # "auto" chooses C on the held-out part; without early stopping the LSTM still sees all.
    assert len(ngram_fits[-1][2]) == 120 and len(ngram_fits[-1][3]) == 40
    assert len(lstm_fits[-1][0]) == 160


def test_ngram_path_reads_ids_as_words(make_reviews, tiny_classifier_params):
    X, y = make_reviews(120)
    from skrnn.text import WordTokenizer

    ids = WordTokenizer().fit_encode(X)
    on_ids = LSTMSentimentClassifier(**{**tiny_classifier_params, "paths": "ngrams"}).fit(ids, y)
    assert on_ids.input_kind_ == "ids" and on_ids.score(ids, y) > 0.9


def test_default_lstm_can_use_cudnn():
    """Keras runs an LSTM with cuDNN on a GPU only if these hold (checked here on CPU)."""
    from keras.src.backend.tensorflow.rnn import (
        _do_lstm_arguments_support_cudnn,
        _is_sequence_right_padded,
    )

    from skrnn import keras_model

    clf = LSTMSentimentClassifier()
    clf.classes_, clf.tokenizer_ = np.array([0, 1]), None
    model = clf._build_model(seed=0)
    lstms = [layer for layer in model.layers if type(layer).__name__ == "LSTM"]
    assert lstms
    for layer in lstms:
        assert layer.recurrent_dropout == 0 and layer.use_cudnn in ("auto", True)
        assert _do_lstm_arguments_support_cudnn(
            layer.cell.activation,
            layer.cell.recurrent_activation,
            layer.unroll,
            layer.cell.use_bias,
        )
    # Masks of the batches the estimator feeds are right-padded (real tokens first).
    batch = next(
        iter(keras_model.BucketedBatches([np.array([3, 4, 5]), np.array([6])], batch_size=2))
    )
    assert bool(_is_sequence_right_padded(batch != 0))


def test_small_data_fit_uses_small_sizes(make_reviews):
    """8,000 short sentences: the embedding follows the vocabulary, epochs follow the data size."""
    X, y = make_reviews(8000, seed=3)
    clf = LSTMSentimentClassifier(random_state=0).fit(X, y)
    n_words = len(clf.tokenizer_.vocabulary)
    assert clf.model_.get_layer("token_embedding").input_dim == n_words + 2 < 100
    assert clf.n_iter_ == 3  # about 20,000 documents seen: 3 passes over the 7,200 training ones
    X_new, y_new = make_reviews(400, seed=4)
    assert clf.score(X_new, y_new) > 0.95


def _vector_file(tmp_path, header=False):
    rng = np.random.default_rng(0)
    words = ["good", "great", "bad", "awful", "film", "movie", "notinthedata"]
    lines = ([f"{len(words)} 4"] if header else []) + [
        w + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=4)) for w in words
    ]
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, {
        w: np.array(line.split()[1:], dtype=np.float32)
        for w, line in zip(words, lines[int(header) :], strict=True)
    }


def test_pretrained_embeddings_frozen_or_fine_tuned(
    small_reviews, tmp_path, tiny_classifier_params
):
    from skrnn.embeddings import pretrained_vectors

    X, y = small_reviews
    path, vectors = _vector_file(tmp_path, header=True)  # word2vec's text format
    found, dim = pretrained_vectors(str(path), ["good", "bad", "unknown"])
    assert dim == 4 and sorted(found) == ["bad", "good"]
    path, vectors = _vector_file(tmp_path)  # GloVe's
    frozen = LSTMSentimentClassifier(
        **{
            **tiny_classifier_params,
            "paths": "lstm",
            "embeddings": str(path),
            "train_embeddings": False,
        }
    )
    frozen.fit(X, y)
    layer = frozen.model_.get_layer("token_embedding")
    assert layer.output_dim == 4 and not layer.trainable
    table = layer.get_weights()[0]
    np.testing.assert_allclose(
        table[frozen.tokenizer_.vocabulary["good"]], vectors["good"], rtol=1e-6
    )
    tuned = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "paths": "lstm", "embeddings": vectors}
    ).fit(X, y)
    row = tuned.model_.get_layer("token_embedding").get_weights()[0][
        tuned.tokenizer_.vocabulary["good"]
    ]
    assert not np.allclose(row, vectors["good"])  # fine-tuned
    again = LSTMSentimentClassifier.load(frozen.save(tmp_path / "saved"))
    assert again.embeddings == str(path)

    index, table = {w: i for i, w in enumerate(vectors)}, np.stack(list(vectors.values()))

    class KeyedVectorsLike:  # the part of gensim's KeyedVectors that is read
        key_to_index, vectors = index, table

        def __getitem__(self, word):
            return self.vectors[self.key_to_index[word]]

        def __contains__(self, word):
            return word in self.key_to_index

    kv = LSTMSentimentClassifier(
        **{
            **tiny_classifier_params,
            "paths": "lstm",
            "embeddings": KeyedVectorsLike(),
            "max_iter": 1,
        }
    )
    kv.set_params(train_embeddings=False).fit(X, y)
    np.testing.assert_allclose(
        kv.model_.get_layer("token_embedding").get_weights()[0][kv.tokenizer_.vocabulary["bad"]],
        vectors["bad"],
    )
    np.testing.assert_allclose(again.predict_proba(X), frozen.predict_proba(X), rtol=1e-6)


def test_pretrained_embeddings_bad_input(small_reviews, tmp_path, tiny_classifier_params):
    X, y = small_reviews
    with pytest.raises(FileNotFoundError, match="no such file"):
        LSTMSentimentClassifier(
            **{**tiny_classifier_params, "embeddings": str(tmp_path / "missing.txt")}
        ).fit(X, y)
    with pytest.raises(ValueError, match="None of the vocabulary"):
        LSTMSentimentClassifier(
            **{**tiny_classifier_params, "embeddings": {"zzz": [1.0, 2.0]}}
        ).fit(X, y)
    with pytest.raises(ValueError, match="one length"):
        LSTMSentimentClassifier(
            **{**tiny_classifier_params, "embeddings": {"good": [1.0, 2.0], "bad": [1.0]}}
        ).fit(X, y)
    with pytest.raises(ValueError, match="need words"):
        LSTMSentimentClassifier(**{**tiny_classifier_params, "embeddings": {"good": [1.0]}}).fit(
            [[2, 3], [4, 5]] * 10, [0, 1] * 10
        )
    with pytest.raises(ValueError, match="embeddings"):
        LSTMSentimentClassifier(**{**tiny_classifier_params, "embeddings": 3}).fit(X, y)


def test_partial_fit_trains_the_lstm_path(small_reviews, tiny_classifier_params):
    X, y = small_reviews
    clf = LSTMSentimentClassifier(**tiny_classifier_params).partial_fit(X, y, classes=[0, 1])
    assert clf.paths_ == "lstm" and clf.ngram_coef_ is None and clf.ngram_norms_ is None


def test_verbose_2_titles_each_epoch(small_reviews, capsys, tiny_classifier_params):
    X, y = small_reviews
    LSTMSentimentClassifier(**{**tiny_classifier_params, "max_iter": 2, "verbose": 2}).fit(X, y)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err


# ------------------------------------------------------------------ verbose
def test_verbose_1_shows_one_bar_per_epoch(small_reviews, capsys, tiny_classifier_params):
    X, y = small_reviews
    LSTMSentimentClassifier(
        **{**tiny_classifier_params, "max_iter": 2, "verbose": 1, "early_stopping": True}
    ).fit(X, y)
    captured = capsys.readouterr()
    bars = [line for line in captured.err.split("\n") if line.strip()]
    assert len(bars) == 2 and captured.out == ""
    assert "Epoch 1/2" in bars[0] and "validation score" in bars[0] and "Epoch 2/2" in bars[1]


def test_verbose_0_prints_nothing_in_a_fresh_process(
    tmp_path, make_reviews, tiny_classifier_params
):
    X, y = make_reviews(60)
    params = {**tiny_classifier_params, "max_iter": 2, "early_stopping": True}
    (tmp_path / "data.json").write_text(json.dumps([X, y.tolist(), params]))
    code = textwrap.dedent(
        """
        import json
        from skrnn import LSTMSentimentClassifier
        with open("data.json") as f:
            X, y, params = json.load(f)
        for _ in range(7):  # enough new models for TensorFlow's retracing notices
            clf = LSTMSentimentClassifier(**params).fit(X, y)
            clf.predict_proba(X)
            clf.predict_proba(X[:1])
            clf.score(X, y)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert out.stderr == ""


# -------------------------------------------------------------- persistence
def test_unfitted_estimator_pickles():
    clf = LSTMSentimentClassifier(hidden_size=7)
    again = pickle.loads(pickle.dumps(clf))
    assert again.get_params() == clf.get_params() and not hasattr(again, "model_")


def test_pickle_round_trip_in_process(fitted_classifier, small_reviews):
    X, _ = small_reviews
    again = pickle.loads(pickle.dumps(fitted_classifier))
    np.testing.assert_array_equal(again.predict_proba(X), fitted_classifier.predict_proba(X))
    assert again.model_ is not fitted_classifier.model_
    assert again.loss_curve_ == fitted_classifier.loss_curve_


def test_joblib_file_loads_in_a_fresh_process(fitted_classifier, small_reviews, tmp_path):
    X, _ = small_reviews
    model_file = tmp_path / "clf.joblib"
    joblib.dump(fitted_classifier, model_file)
    docs_file = tmp_path / "docs.json"
    docs_file.write_text(json.dumps(X))
    code = textwrap.dedent(
        f"""
        import json, joblib, numpy as np
        clf = joblib.load({str(model_file)!r})
        X = json.load(open({str(docs_file)!r}))
        np.save({str(tmp_path / "proba.npy")!r}, clf.predict_proba(X))
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    np.testing.assert_array_equal(
        np.load(tmp_path / "proba.npy"), fitted_classifier.predict_proba(X)
    )


def test_save_and_load_without_pickle(tmp_path, make_reviews, tiny_classifier_params):
    X, y = make_reviews(80, labels=["neg", "pos"])
    clf = LSTMSentimentClassifier(
        **{
            **tiny_classifier_params,
            "max_iter": 1,
            "class_weight": {"neg": 1.0, "pos": 2.0},
            "ema_momentum": 0.9,
        }
    ).fit(X, y)
    path = clf.save(tmp_path / "saved")
    assert sorted(p.name for p in path.iterdir()) == ["estimator.json", "model.keras", "ngrams.npz"]
    config = json.loads((path / "estimator.json").read_text())
    assert config["classes"] == ["neg", "pos"] and config["tokenizer"]["words"]
    assert config["params"]["lstm_weight"] == 0.2 and "combiner" not in config
    with np.load(path / "ngrams.npz", allow_pickle=False) as saved:
        # Sparse: only the columns of n-grams seen in training, not 2**24 of them.
        assert saved["coef_data"].size == clf.ngram_coef_.nnz < 10_000
        assert saved["norms_data"].size == clf.ngram_norms_.nnz < 10_000
    again = LSTMSentimentClassifier.load(path)
    assert (again.ngram_coef_ != clf.ngram_coef_).nnz == 0
    assert (again.ngram_norms_ != clf.ngram_norms_).nnz == 0
    np.testing.assert_array_equal(again.ngram_intercept_, clf.ngram_intercept_)
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(again.classes_, clf.classes_)
    assert again.get_params() == clf.get_params()
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    with pytest.raises(FileNotFoundError):
        LSTMSentimentClassifier.load(tmp_path / "nothing")
    with pytest.raises(NotFittedError):
        LSTMSentimentClassifier().save(tmp_path / "unfitted")


def test_a_save_with_a_combiner_is_refused(fitted_classifier, tmp_path):
    from skrnn._persistence import IncompatibleFileError

    path = fitted_classifier.save(tmp_path / "combiner")
    config_file = path / "estimator.json"
    config = json.loads(config_file.read_text())
    config["combiner"] = {"coef": [[0.5, 1.0]], "intercept": [0.0]}
    config_file.write_text(json.dumps(config))
    with pytest.raises(IncompatibleFileError, match="fit the estimator and save it again"):
        LSTMSentimentClassifier.load(path)


def test_a_pickle_with_a_combiner_is_refused():
    from skrnn._persistence import IncompatibleFileError

    clf = LSTMSentimentClassifier(paths="ngrams")
    state = {**clf.__getstate__(), "combiner_": "a fitted LogisticRegression"}
    with pytest.raises(IncompatibleFileError, match="fit the estimator and save it again"):
        LSTMSentimentClassifier.__new__(LSTMSentimentClassifier).__setstate__(state)
    LSTMSentimentClassifier.__new__(LSTMSentimentClassifier).__setstate__(clf.__getstate__())


def test_a_save_of_the_lstm_alone_without_newer_entries_loads(
    small_reviews, tmp_path, tiny_classifier_params
):
    """Saves from skrnn 0.1.0 hold the LSTM only: no paths, n-gram entries or ngrams.npz."""
    X, y = small_reviews
    clf = LSTMSentimentClassifier(**{**tiny_classifier_params, "paths": "lstm"}).fit(X, y)
    path = clf.save(tmp_path / "lstm")
    assert not (path / "ngrams.npz").exists()
    config_file = path / "estimator.json"
    config = json.loads(config_file.read_text())
    for key in ("paths", "ngram_C"):
        config.pop(key)
    for key in ("paths", "lstm_weight", "ngram_range", "ngram_C"):
        config["params"].pop(key)
    config_file.write_text(json.dumps(config))
    again = LSTMSentimentClassifier.load(path)
    assert again.paths_ == "lstm" and again.ngram_coef_ is None
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), rtol=1e-6)


# -------------------------------------------------------- scikit-learn tools
def test_pipeline_final_step(small_reviews, tiny_classifier_params):
    X, y = small_reviews
    pipe = make_pipeline(
        FunctionTransformer(lambda docs: [d.replace("terrible", "bad") for d in docs]),
        LSTMSentimentClassifier(**tiny_classifier_params),
    )
    pipe.fit(X, y)
    assert pipe.predict(X[:5]).shape == (5,)
    assert pipe.predict_proba(X[:5]).shape == (5, 2)
    assert 0.0 <= pipe.score(X, y) <= 1.0


def test_cross_val_score(small_reviews, tiny_classifier_params):
    X, y = small_reviews
    scores = cross_val_score(
        LSTMSentimentClassifier(**{**tiny_classifier_params, "max_iter": 2}), X, y, cv=3
    )
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search(small_reviews, n_jobs, tiny_classifier_params):
    X, y = small_reviews
    search = GridSearchCV(
        LSTMSentimentClassifier(**{**tiny_classifier_params, "max_iter": 2}),
        {"hidden_size": [4, 8]},
        cv=3,
        n_jobs=n_jobs,
    )
    search.fit(X, y)
    assert search.best_params_["hidden_size"] in (4, 8)
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert search.best_estimator_.hidden_size == search.best_params_["hidden_size"]
    assert search.predict(X[:3]).shape == (3,)


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_repeated_fits_do_not_leak_memory(small_reviews, tiny_classifier_params):
    X, y = small_reviews
    clf = LSTMSentimentClassifier(
        **{**tiny_classifier_params, "max_iter": 1, "early_stopping": True}
    )
    for _ in range(3):  # warm-up: TensorFlow's one-off allocations
        clf.fit(X, y).predict(X)
    import gc

    gc.collect()
    start = _rss_bytes()
    for _ in range(10):
        clf.fit(X, y).predict(X)
    gc.collect()
    growth = _rss_bytes() - start
    assert growth < 60 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MiB over 10 fits"


# ---------------------------------------------------------- keras building blocks
def test_masked_pooling_ignores_padding():
    from skrnn.keras_model import MaskedSequencePooling

    x = np.array(
        [[[1.0, -5.0], [3.0, -1.0], [100.0, 100.0]], [[-2.0, -3.0], [0.0, 0.0], [0.0, 0.0]]],
        dtype="float32",
    )
    mask = np.array([[True, True, False], [True, False, False]])
    out = np.asarray(MaskedSequencePooling("max_mean")(x, mask=mask))
    np.testing.assert_allclose(out[0], [3.0, -1.0, 2.0, -3.0])
    np.testing.assert_allclose(out[1], [-2.0, -3.0, -2.0, -3.0])


def test_bucketed_batches_cover_all_rows_with_little_padding():
    from skrnn.keras_model import BucketedBatches

    rng = np.random.default_rng(0)
    seqs = [np.arange(1, n + 1, dtype=np.int32) for n in rng.integers(1, 300, 500)]
    y = np.arange(500, dtype=np.float32)
    batches = BucketedBatches(seqs, y, batch_size=32, shuffle=True, seed=0)
    seen = []
    for x, yb in batches:
        assert x.shape[1] % 32 == 0 and x.dtype == np.int32
        lengths = (x != 0).sum(axis=1)
        assert x.shape[1] - lengths.max() < 32
        seen.extend(yb.astype(int).tolist())
        for row, label in zip(x, yb.astype(int), strict=True):
            assert (row != 0).sum() == len(seqs[label])
    assert sorted(seen) == list(range(500))
    assert len(batches) == 16
    ordered = BucketedBatches(seqs, batch_size=64)
    assert sorted(ordered.order.tolist()) == list(range(500))


def test_partial_fit_after_an_ngrams_only_fit_says_to_fit_again(small_reviews):
    X, y = small_reviews
    clf = LSTMSentimentClassifier(paths="ngrams", random_state=0).fit(X, y)
    before = clf.predict_proba(X[:5])
    for classes in (None, [0, 1]):
        with pytest.raises(ValueError, match=r"paths='ngrams'.*Call fit again"):
            clf.partial_fit(X, y, classes=classes)
    np.testing.assert_array_equal(clf.predict_proba(X[:5]), before)
    assert clf.paths_ == "ngrams"
