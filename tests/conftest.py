"""Fixtures shared by several test files.

Test files get these by naming them as arguments; none imports another test file.
"""

import os
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

# ------------------------------------------------------------------ review data
_POSITIVE = ["good", "great", "excellent", "wonderful", "loved"]
_NEGATIVE = ["bad", "awful", "boring", "terrible", "hated"]
_NEUTRAL = ["okay", "average", "fine", "mediocre", "decent"]
# fmt: off
_FILLER = [
    "the", "a", "movie", "film", "plot", "actor", "was", "is", "and", "it", "this", "of", "to",
    "story", "scene",
]
# fmt: on

# A network small enough that a fit on a few hundred reviews takes a second or two.
_TINY_CLASSIFIER = MappingProxyType(
    dict(
        embedding_dim=8,
        hidden_size=8,
        max_iter=3,
        batch_size=16,
        learning_rate=0.01,
        early_stopping=False,
        random_state=0,
        bigram_buckets=1000,
        bigram_dim=4,
        output_dropout=0.0,
        ema_momentum=None,
    )
)


def _make_reviews(n, n_classes=2, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    vocab = [_NEGATIVE, _POSITIVE, _NEUTRAL][:n_classes]
    X, y = [], []
    for i in range(n):
        label = i % n_classes
        words = list(rng.choice(_FILLER, rng.integers(3, 30)))
        for _ in range(2):
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(vocab[label])))
        if i % 7 == 0:
            words.insert(1, "<br />")
        X.append(" ".join(words).capitalize())
        y.append(label)
    y = np.array(y)
    if labels is not None:
        y = np.asarray(labels)[y]
    return X, y


@pytest.fixture(scope="session")
def make_reviews():
    """``make_reviews(n, n_classes=2, seed=0, labels=None)`` returns ``(X, y)``: ``n`` short
    synthetic reviews (filler words, sometimes an HTML ``<br />``) whose class is given by two
    sentiment words, and their labels (0, 1[, 2] in turn, or ``labels[i]`` when given)."""
    return _make_reviews


@pytest.fixture(scope="session")
def tiny_classifier_params():
    """Keyword arguments (read-only) for a tiny, seeded ``LSTMSentimentClassifier``:
    8-unit embedding and LSTM, 3 epochs, no early stopping. Override with
    ``{**tiny_classifier_params, "max_iter": 1}``."""
    return _TINY_CLASSIFIER


@pytest.fixture(scope="module")
def small_reviews():
    """160 reviews from ``make_reviews``: two classes, 80 each."""
    return _make_reviews(160)


@pytest.fixture(scope="module")
def fitted_classifier(small_reviews):
    """A tiny ``LSTMSentimentClassifier`` trained 6 epochs on ``small_reviews`` (both paths);
    it scores >= 0.9 on new reviews. Shared by the tests of a module: a test that changes it
    must restore it."""
    from skrnn.sentiment import LSTMSentimentClassifier

    X, y = small_reviews
    return LSTMSentimentClassifier(**{**_TINY_CLASSIFIER, "max_iter": 6}).fit(X, y)


# ------------------------------------------------------------------ environment
@pytest.fixture
def real_data_dir():
    """The folder with the real datasets (SKRNN_DATA); skips the test when absent."""
    path = os.environ.get("SKRNN_DATA")
    if not path or not Path(path).is_dir():
        pytest.skip("real datasets not available: set SKRNN_DATA to a folder holding them")
    return Path(path)


@pytest.fixture
def record_calls(monkeypatch):
    """``record_calls(cls, name)`` wraps a method so that each call's arguments go to the list
    it returns."""

    def record(cls, name):
        calls, real = [], getattr(cls, name)

        def recording(self, *args, **kwargs):
            calls.append(args)
            return real(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, recording)
        return calls

    return record
