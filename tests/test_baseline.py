"""Tests for skrnn.baseline.make_tfidf_baseline."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline

import skrnn
from skrnn.baseline import make_tfidf_baseline, strip_html_breaks


def toy_reviews(n=200, seed=0):
    rng = np.random.default_rng(seed)
    good = ["great", "wonderful", "loved", "superb", "moving"]
    bad = ["awful", "boring", "hated", "dull", "terrible"]
    neutral = ["film", "movie", "plot", "actor", "scene", "the", "a", "was", "and"]
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(neutral, 8)) + list(rng.choice(good if label else bad, 2))
        rng.shuffle(words)
        texts.append(" ".join(words[:5]) + "<br /><br />" + " ".join(words[5:]))
        labels.append(label)
    return texts, np.array(labels)


def test_defaults_are_the_sentiment_ones():
    model = make_tfidf_baseline()
    assert isinstance(model, Pipeline)
    assert [name for name, _ in model.steps] == ["tfidf", "clf"]
    tfidf, clf = model.named_steps["tfidf"], model.named_steps["clf"]
    assert isinstance(tfidf, TfidfVectorizer) and isinstance(clf, LogisticRegression)
    assert tfidf.ngram_range == (1, 2)
    assert tfidf.sublinear_tf is True
    assert tfidf.min_df == 2
    assert clf.C == 10.0


def test_exported_lazily():
    assert skrnn.make_tfidf_baseline is make_tfidf_baseline


def test_fit_predict_on_toy_reviews():
    X, y = toy_reviews()
    model = make_tfidf_baseline().fit(X[:150], y[:150])
    assert model.score(X[150:], y[150:]) >= 0.9
    proba = model.predict_proba(X[150:])
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_string_labels():
    X, y = toy_reviews(60)
    labels = np.where(y == 1, "pos", "neg")
    model = make_tfidf_baseline(min_df=1).fit(X, labels)
    assert set(model.predict(X)) <= {"pos", "neg"}
    assert list(model.classes_) == ["neg", "pos"]


def test_keyword_and_step_overrides():
    model = make_tfidf_baseline(
        C=1.0, ngram_range=(1, 1), tfidf__stop_words="english", clf__tol=1e-3
    )
    assert model.named_steps["clf"].C == 1.0
    assert model.named_steps["clf"].tol == 1e-3
    assert model.named_steps["tfidf"].ngram_range == (1, 1)
    assert model.named_steps["tfidf"].stop_words == "english"


def test_unknown_parameter():
    with pytest.raises(TypeError, match="tfidf__<name>"):
        make_tfidf_baseline(hidden_size=3)


def test_strip_html():
    assert strip_html_breaks("Great<br /><br />FILM<BR>ok<br/>") == "great  film ok "
    X, y = toy_reviews(40)
    stripped = make_tfidf_baseline(strip_html=True, min_df=1).fit(X, y)
    kept = make_tfidf_baseline(min_df=1).fit(X, y)
    assert "br" not in stripped.named_steps["tfidf"].vocabulary_
    assert "br" in kept.named_steps["tfidf"].vocabulary_


def test_clone_pickle_and_cross_validation():
    X, y = toy_reviews(90)
    model = make_tfidf_baseline(strip_html=True)
    assert clone(model).get_params()["tfidf__min_df"] == 2
    fitted = model.fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    scores = cross_val_score(make_tfidf_baseline(), X, y, cv=3)
    assert scores.mean() > 0.8


# ------------------------------------------------------------------ NB-LR
def test_nb_baseline_defaults_and_fit():
    from sklearn.feature_extraction.text import CountVectorizer

    from skrnn.baseline import NBLogCountRatio, make_nb_baseline

    assert skrnn.make_nb_baseline is make_nb_baseline
    model = make_nb_baseline()
    assert [name for name, _ in model.steps] == ["counts", "nb", "clf"]
    counts, clf = model.named_steps["counts"], model.named_steps["clf"]
    assert isinstance(counts, CountVectorizer) and counts.binary and counts.ngram_range == (1, 3)
    assert isinstance(model.named_steps["nb"], NBLogCountRatio) and clf.C == 1.0
    X, y = toy_reviews()
    model.fit(X[:150], y[:150])
    assert model.score(X[150:], y[150:]) >= 0.9
    assert model.predict_proba(X[150:]).shape == (50, 2)
    assert (
        "!"
        in make_nb_baseline()
        .fit(["great!", "bad"] * 3, [1, 0] * 3)
        .named_steps["counts"]
        .vocabulary_
    )
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert cross_val_score(make_nb_baseline(), X, y, cv=3).mean() > 0.8
    assert make_nb_baseline(C=0.5, counts__min_df=2).get_params()["counts__min_df"] == 2
    with pytest.raises(TypeError, match="counts__<name>"):
        make_nb_baseline(hidden_size=3)


def test_nb_log_count_ratio():
    import scipy.sparse as sp
    from sklearn.multiclass import OneVsRestClassifier

    from skrnn.baseline import NBLogCountRatio, make_nb_baseline

    X = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=np.float64)
    y = np.array(["pos", "pos", "neg", "neg"])
    nb = NBLogCountRatio(alpha=1.0).fit(X, y)
    # p = [3, 1, 2] / 6 (positive rows + 1), q = [1, 3, 2] / 6
    np.testing.assert_allclose(nb.ratio_, np.log([3.0, 1 / 3, 1.0]), rtol=1e-6)
    np.testing.assert_allclose(nb.transform(X), X * nb.ratio_, rtol=1e-6)
    scaled = nb.transform(sp.csr_matrix(X))
    assert sp.issparse(scaled)
    np.testing.assert_allclose(scaled.toarray(), X * nb.ratio_, rtol=1e-6)
    with pytest.raises(ValueError, match="OneVsRestClassifier"):
        NBLogCountRatio().fit(X, [0, 1, 2, 2])
    with pytest.raises(ValueError, match="alpha"):
        NBLogCountRatio(alpha=0).fit(X, y)
    # More than two classes: one NB-LR per class.
    texts = ["good fun", "bad dull", "so so", "good great", "bad awful", "so meh"] * 4
    labels = [2, 0, 1, 2, 0, 1] * 4
    ovr = OneVsRestClassifier(make_nb_baseline()).fit(texts, labels)
    assert ovr.score(texts, labels) == 1.0


def test_nb_lr_is_shared_with_the_classifier_n_gram_path():
    """The n-gram path is NBLogCountRatio, each row scaled to unit L2 norm, then
    nb_lr_classifier, as in the pipeline; its folded weights score raw binary rows."""
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    from skrnn.baseline import NBLogCountRatio, make_nb_baseline, nb_lr_classifier
    from skrnn.ngrams import NGRAM_FEATURES, fit_nb_lr, ngram_scores, used_columns

    clf = nb_lr_classifier(C=0.5, max_iter=7, random_state=0)
    assert (clf.solver, clf.dual, clf.C, clf.max_iter) == ("liblinear", True, 0.5, 7)
    steps = make_nb_baseline(C=0.5, max_iter=7, random_state=0).named_steps
    assert steps["clf"].get_params() == clf.get_params()

    rng = np.random.default_rng(0)
    columns = np.array([3, 10, 99, 12345, NGRAM_FEATURES - 1])
    dense = (rng.random((40, len(columns))) < 0.4).astype(np.float32)
    y = (dense[:, 0] + dense[:, 1] > dense[:, 2]).astype(int)
    rows, cols = np.nonzero(dense)
    X = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, columns[cols])), shape=(40, NGRAM_FEATURES)
    )
    for alpha in (1.0, 2.0):
        coef, norms, intercept = fit_nb_lr(
            used_columns(X), y, 2, C=3.0, random_state=0, alpha=alpha
        )
        nb = NBLogCountRatio(alpha=alpha).fit(dense, y)
        np.testing.assert_allclose(norms[0, columns].toarray()[0], nb.ratio_**2, rtol=1e-5)
        Z = normalize(nb.transform(dense))
        lr = nb_lr_classifier(C=3.0, random_state=0).fit(Z, y)
        np.testing.assert_allclose(
            ngram_scores(X, coef, norms, intercept)[:, 0],
            lr.decision_function(Z),
            rtol=1e-4,
            atol=1e-6,
        )
    # A document with no n-gram seen in training scores the intercept.
    unseen = sp.csr_matrix(([1.0], ([0], [7])), shape=(1, NGRAM_FEATURES), dtype=np.float32)
    np.testing.assert_allclose(ngram_scores(unseen, coef, norms, intercept)[0], intercept)
