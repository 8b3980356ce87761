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
    model = make_tfidf_baseline(C=1.0, ngram_range=(1, 1), tfidf__stop_words="english", clf__tol=1e-3)
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
