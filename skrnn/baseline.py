"""The TF-IDF + LogisticRegression baseline for text classification.

:func:`make_tfidf_baseline` builds the linear model the LSTM has to beat, with
defaults chosen for sentiment analysis. Measured on IMDB (25,000 reviews to
train, 25,000 to test): plain ``TfidfVectorizer()`` + ``LogisticRegression()``
reaches 0.883 accuracy; these defaults (word 1- and 2-grams, sublinear tf,
``min_df=2``, ``C=10``) reach 0.907, fitting in about 11 s on 2 cores.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from .text import _HTML_BREAK

__all__ = ["make_tfidf_baseline", "strip_html_breaks"]


def strip_html_breaks(text):
    """Lower-case ``text`` and turn HTML line breaks (``<br />``) into spaces.

    The vectorizer's preprocessor in :func:`make_tfidf_baseline`; the same
    rule as :class:`skrnn.text.WordTokenizer`. A module-level function, so
    that the pipeline pickles.
    """
    return _HTML_BREAK.sub(" ", text).lower()


def make_tfidf_baseline(
    *,
    ngram_range=(1, 2),
    min_df=2,
    max_df=1.0,
    max_features=None,
    sublinear_tf=True,
    strip_html=False,
    C=10.0,
    max_iter=1000,
    class_weight=None,
    random_state=None,
    **params,
):
    """Build the TF-IDF + LogisticRegression baseline pipeline.

    Parameters
    ----------
    ngram_range : tuple (min_n, max_n), default=(1, 2)
        Word n-grams to use: unigrams and bigrams by default.
    min_df : int or float, default=2
        Ignore terms found in fewer documents (an int) or a smaller fraction
        of documents (a float). Drops most of the bigrams, which are seen once.
    max_df : int or float, default=1.0
        Ignore terms found in more documents than this.
    max_features : int, default=None
        Keep only the most frequent terms; ``None`` keeps all.
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)`` instead of raw term counts.
    strip_html : bool, default=False
        Replace HTML line breaks (``<br />``, frequent in IMDB) by spaces
        before tokenizing (text is lower-cased either way). On IMDB it makes
        no difference (0.9063 with, 0.9068 without: the ``br`` token gets a
        low IDF weight anyway), so it is off by default.
    C : float, default=10.0
        Inverse regularization strength of the logistic regression.
    max_iter : int, default=1000
        Iteration cap for the logistic regression's solver (lbfgs).
    class_weight : dict, "balanced" or None, default=None
        Passed to :class:`~sklearn.linear_model.LogisticRegression`.
    random_state : int, RandomState instance or None, default=None
        Passed to :class:`~sklearn.linear_model.LogisticRegression`.
    **params
        Any other parameter of the two steps, with the pipeline's
        ``step__param`` syntax, for example ``tfidf__stop_words="english"`` or
        ``clf__tol=1e-3``.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        An unfitted pipeline with steps ``"tfidf"``
        (:class:`~sklearn.feature_extraction.text.TfidfVectorizer`) and
        ``"clf"`` (:class:`~sklearn.linear_model.LogisticRegression`). It takes
        raw strings, like :class:`skrnn.LSTMSentimentClassifier`, and has
        ``predict_proba``.

    Examples
    --------
    >>> from skrnn import make_tfidf_baseline
    >>> model = make_tfidf_baseline(min_df=1)
    >>> model.fit(["a great film", "an awful film", "great fun", "awful acting"], [1, 0, 1, 0])
    Pipeline(...)
    >>> model.predict(["great acting"]).tolist()
    [1]
    """
    vectorizer = TfidfVectorizer(
        ngram_range=ngram_range,
        min_df=min_df,
        max_df=max_df,
        max_features=max_features,
        sublinear_tf=sublinear_tf,
        preprocessor=strip_html_breaks if strip_html else None,
        dtype=np.float32,
    )
    classifier = LogisticRegression(
        C=C, max_iter=max_iter, class_weight=class_weight, random_state=random_state
    )
    pipeline = Pipeline([("tfidf", vectorizer), ("clf", classifier)])
    if params:
        unknown = sorted(set(params) - set(pipeline.get_params()))
        if unknown:
            raise TypeError(
                f"make_tfidf_baseline() got unknown parameter(s) {unknown}: use the keyword "
                f"arguments above, or 'tfidf__<name>' / 'clf__<name>' for the vectorizer "
                f"and the logistic regression."
            )
        pipeline.set_params(**params)
    return pipeline
