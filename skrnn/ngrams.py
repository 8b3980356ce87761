"""The n-gram path of :class:`~skrnn.LSTMSentimentClassifier`, and the combiner of the paths.

The path is a logistic regression on binarized, hashed word n-grams, each
weighted by its naive-Bayes log-count ratio (NB-LR, Wang & Manning 2012; the
ratios come from :class:`skrnn.baseline.NBLogCountRatio`). Hashing keeps no
vocabulary: the fitted path is only its weights, a sparse matrix over
``NGRAM_FEATURES`` columns with the ratios folded in. The combiner is a
logistic regression on the paths' scores.

The functions take and return arrays; the estimator keeps the results as
its fitted attributes. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.utils import murmurhash3_32

from ._persistence import IncompatibleFileError, read_arrays
from .baseline import NBLogCountRatio, nb_lr_classifier

__all__ = [
    "NGRAM_C_GRID",
    "NGRAM_FEATURES",
    "combiner_from_config",
    "combiner_to_config",
    "fit_combiner",
    "fit_ngram_path",
    "id_codes",
    "log_odds",
    "ngram_features",
    "ngram_matrix",
    "ngram_scores",
    "read_ngram_weights",
    "save_ngram_weights",
    "token_codes",
]

# ngram_C="auto" picks the inverse regularisation strength from these, by ROC AUC on the
# validation split.
NGRAM_C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
# Size of the hashed n-gram space (docs/benchmarks.md says how it was chosen); the weights are
# stored sparse, so a big space costs little.
NGRAM_FEATURES = 2**24


# ------------------------------------------------------------------- features
def token_codes(token_lists):
    """The tokens of all documents as one array of 64-bit codes, and each document's length.

    A word's code is its MurmurHash3 (the hash ``HashingVectorizer`` uses),
    computed once per distinct word.
    """
    # map() over a bound dict method and dict.fromkeys loop in C, not in Python bytecode.
    words = list(itertools.chain.from_iterable(token_lists))
    index = {word: i for i, word in enumerate(dict.fromkeys(words))}
    flat = np.fromiter(map(index.__getitem__, words), dtype=np.int64, count=len(words))
    codes = np.fromiter(
        (murmurhash3_32(word, positive=True) for word in index), dtype=np.uint64, count=len(index)
    )
    return codes[flat], np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))


def id_codes(sequences):
    """Token-id sequences as codes and lengths, like :func:`token_codes` (an id is its code)."""
    codes = np.concatenate([seq.astype(np.uint64) for seq in sequences] or [np.zeros(0, np.uint64)])
    return codes, np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))


def ngram_matrix(codes, lengths, ngram_range):
    """Binary ``(n_documents, NGRAM_FEATURES)`` CSR matrix of hashed word n-grams.

    ``codes`` are the documents' tokens, concatenated (see :func:`token_codes`).
    The n-grams are hashed with NumPy over all documents at once, not one
    Python string per n-gram as ``HashingVectorizer`` builds them.
    """
    n_docs = len(lengths)
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    rows, cols = [], []
    with np.errstate(over="ignore"):  # multiplications wrap around modulo 2**64 on purpose
        for n in range(ngram_range[0], ngram_range[1] + 1):
            m = len(codes) - n + 1
            if m <= 0:
                continue
            h = codes[:m].copy()
            for j in range(1, n):
                h = h * np.uint64(0x9E3779B97F4A7C15) + codes[j : m + j]
            # A different multiplier per n, then the high bits folded in: n-grams of different
            # lengths land apart, and the low bits taken below depend on the whole product.
            h *= np.uint64((0xBF58476D1CE4E5B9 * n) % 2**64)
            h ^= h >> np.uint64(29)
            within = doc[:m] == doc[n - 1 :]  # no n-gram across two documents
            rows.append(doc[:m][within])
            cols.append((h[within] % np.uint64(NGRAM_FEATURES)).astype(np.int64))
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    X = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(n_docs, NGRAM_FEATURES)
    )
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


def ngram_features(ngram_range, *, sequences=None, token_lists=None):
    """The binary hashed n-gram matrix of documents given as id ``sequences`` or ``token_lists``."""
    codes = id_codes(sequences) if token_lists is None else token_codes(token_lists)
    return ngram_matrix(*codes, ngram_range)


def used_columns(X):
    """The columns of hashed ``X`` that hold a feature, and ``X`` restricted to them.

    The path fits on these only, so that its cost follows the data, not the
    size of the hashed space.
    """
    used = np.unique(X.indices)
    compact = sp.csr_matrix(
        (X.data, np.searchsorted(used, X.indices), X.indptr), shape=(X.shape[0], len(used))
    )
    return used, compact


# ------------------------------------------------------------------- the path
def fit_nb_lr(X, y, n_classes, C, sample_weight=None, random_state=None):
    """NB-weighted logistic regression, one-vs-rest for more than two classes.

    ``X`` is ``(used, compact)`` from :func:`used_columns`. Returns
    ``(coef, intercept)``: a sparse ``(n_outputs, NGRAM_FEATURES)`` matrix
    with the naive-Bayes ratios folded into the weights (``w * r``), so the
    path scores raw binary features with one product. ``OneVsRestClassifier``
    is not used because it does not pass ``sample_weight`` on without
    metadata routing. The classifier is :func:`skrnn.baseline.nb_lr_classifier`
    (liblinear's dual solver: many more features than documents).
    """
    used, X = X
    rows, intercept = [], []
    for k in [1] if n_classes == 2 else range(n_classes):
        target = (y == k).astype(np.int64)
        nb = NBLogCountRatio().fit(X, target)
        lr = nb_lr_classifier(C=C, random_state=random_state)
        lr.fit(nb.transform(X), target, sample_weight=sample_weight)
        rows.append(lr.coef_[0] * nb.ratio_)
        intercept.append(lr.intercept_[0])
    weights = np.vstack(rows).astype(np.float32)
    out, col = np.nonzero(weights)
    coef = sp.csr_matrix((weights[out, col], (out, used[col])), shape=(len(rows), NGRAM_FEATURES))
    return coef, np.asarray(intercept, dtype=np.float64)


def ngram_scores(X, coef, intercept):
    """Decision values ``(n_samples, n_outputs)`` of the folded n-gram path.

    Each class's weights are spread into a dense vector for the call and
    gathered feature by feature: ``X @ coef.T`` would build an index over all
    ``NGRAM_FEATURES`` columns, and a sorted search is several times slower.
    """
    row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    scores = np.tile(intercept, (X.shape[0], 1))
    dense = np.zeros(coef.shape[1], dtype=np.float32)
    for k in range(coef.shape[0]):
        columns = coef.indices[coef.indptr[k] : coef.indptr[k + 1]]
        dense[columns] = coef.data[coef.indptr[k] : coef.indptr[k + 1]]
        scores[:, k] += np.bincount(row_of, weights=dense[X.indices] * X.data, minlength=X.shape[0])
        dense[columns] = 0.0
    return scores


def ranking_quality(y, scores):
    """ROC AUC of decision values (one-vs-rest, macro-averaged, for more than two classes)."""
    if len(np.unique(y)) < 2:
        return 0.0
    if scores.shape[1] == 1:
        return roc_auc_score(y, scores[:, 0])
    present = np.unique(y)
    if len(present) < scores.shape[1]:
        return float(np.mean([roc_auc_score(y == k, scores[:, k]) for k in present]))
    return roc_auc_score(y, softmax(scores, axis=1), multi_class="ovr")


def fit_ngram_path(X, y, n_classes, train_idx, val_idx, C, sample_weight=None, random_state=None):
    """Fit the path on rows ``train_idx`` of ``X``; returns ``(C, coef, intercept)``.

    ``C="auto"`` tries each of :data:`NGRAM_C_GRID` and keeps the best ROC
    AUC on rows ``val_idx`` (ties keep the smaller ``C``). AUC rather than
    accuracy: the combiner rescales the scores anyway, so their ranking is
    what counts, and AUC is much less noisy on a small validation split.
    ``sample_weight`` is that of the training rows.
    """
    X_train = used_columns(X[train_idx])
    grid = NGRAM_C_GRID if C == "auto" else (float(C),)
    X_val = X[val_idx] if len(grid) > 1 else None
    best = None
    for c in grid:
        coef, intercept = fit_nb_lr(
            X_train, y[train_idx], n_classes, c, sample_weight, random_state
        )
        if X_val is None:
            return c, coef, intercept
        quality = ranking_quality(y[val_idx], ngram_scores(X_val, coef, intercept))
        if best is None or quality > best[0]:
            best = (quality, c, coef, intercept)
    return best[1:]


# ------------------------------------------------------------------ combining
def log_odds(proba):
    """Log-odds (one column, binary) or log-probabilities (multiclass) of class probabilities."""
    proba = np.clip(proba, 1e-7, 1 - 1e-7)
    if proba.shape[1] == 2:
        return np.log(proba[:, 1:]) - np.log(proba[:, :1])
    return np.log(proba)


def fit_combiner(features, y_val, n_classes, sample_weight=None):
    """Logistic regression on the paths' scores ``features``, fitted on the validation split.

    When the validation split misses a class (tiny data sets), the paths'
    scores are simply added.
    """
    if len(np.unique(y_val)) == n_classes:
        return LogisticRegression().fit(features, y_val, sample_weight=sample_weight)
    n_out = 1 if n_classes == 2 else n_classes
    return _combiner(
        np.hstack([np.eye(n_out)] * (features.shape[1] // n_out)), np.zeros(n_out), n_classes
    )


def _combiner(coef, intercept, n_classes):
    """A fitted ``LogisticRegression`` with the given weights."""
    combiner = LogisticRegression()
    combiner.classes_ = np.arange(n_classes)
    combiner.coef_ = np.asarray(coef, dtype=np.float64)
    combiner.intercept_ = np.asarray(intercept, dtype=np.float64)
    combiner.n_features_in_ = combiner.coef_.shape[1]
    combiner.n_iter_ = np.zeros(1, dtype=np.int32)
    return combiner


# ------------------------------------------------------------------- saving
def combiner_to_config(combiner):
    """The combiner's weights for ``estimator.json`` (``None`` stays ``None``)."""
    if combiner is None:
        return None
    return {"coef": combiner.coef_.tolist(), "intercept": combiner.intercept_.tolist()}


def combiner_from_config(config, n_classes):
    """The combiner from :func:`combiner_to_config`'s output."""
    if config is None:
        return None
    return _combiner(config["coef"], config["intercept"], n_classes)


def save_ngram_weights(file, coef, intercept):
    """Write the path's weights to ``file`` (``.npz``, no pickled objects)."""
    np.savez(
        file,
        data=coef.data,
        indices=coef.indices,
        indptr=coef.indptr,
        shape=np.asarray(coef.shape),
        intercept=intercept,
    )


def read_ngram_weights(file, folder):
    """``(coef, intercept)`` from :func:`save_ngram_weights`'s ``file`` in the save ``folder``.

    Raises :class:`~skrnn._persistence.IncompatibleFileError` when the file
    is missing or damaged.
    """
    if not file.is_file():
        raise IncompatibleFileError(
            f"{file} is missing: the save at {folder} is incomplete; save it again."
        )
    data = read_arrays(file)
    try:
        coef = sp.csr_matrix(
            (data["data"], data["indices"], data["indptr"]), shape=tuple(data["shape"])
        )
        return coef, np.asarray(data["intercept"], dtype=np.float64)
    except Exception as exc:
        raise IncompatibleFileError(
            f"{file} could not be read ({type(exc).__name__}: {exc}); the save is damaged."
        ) from exc
