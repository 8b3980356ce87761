"""The n-gram path of :class:`~skrnn.LSTMSentimentClassifier`, and the rule that blends the paths.

The path is an L2-normalised NB-LR: the binarized, hashed word n-grams of a
document are weighted by their naive-Bayes log-count ratios ``r`` (Wang &
Manning 2012; the ratios come from :class:`skrnn.baseline.NBLogCountRatio`,
smoothing ``NB_ALPHA``), the weighted row is scaled to unit L2 norm, and a
logistic regression reads it. Hashing keeps no vocabulary: the fitted path is
two sparse matrices over ``NGRAM_FEATURES`` columns, the weights with the
ratios folded in (``v * r``) and the squared ratios (``r ** 2``), so that a
document's score is ``(x . v*r) / sqrt(x . r**2) + b``, exactly the logistic
regression's decision on the normalised row.

:func:`blend_proba` adds the LSTM's log-odds, times a fixed weight, to the
path's score.

The functions take and return arrays; the estimator keeps the results as
its fitted attributes. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

from ._persistence import IncompatibleFileError, read_arrays
from .baseline import NBLogCountRatio, nb_lr_classifier

__all__ = [
    "NB_ALPHA",
    "NGRAM_C_GRID",
    "NGRAM_FEATURES",
    "blend_proba",
    "fit_ngram_path",
    "id_codes",
    "log_odds",
    "ngram_features",
    "ngram_matrix",
    "ngram_scores",
    "ranking_quality",
    "read_ngram_weights",
    "save_ngram_weights",
    "token_codes",
]

# ngram_C="auto" picks the inverse regularisation strength from these, by ROC AUC on the
# validation split.
NGRAM_C_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)
# Naive-Bayes smoothing of the path's log-count ratios (docs/benchmarks.md says how it was chosen).
NB_ALPHA = 2.0
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
def fit_nb_lr(X, y, n_classes, C, sample_weight=None, random_state=None, alpha=NB_ALPHA):
    """L2-normalised NB-weighted logistic regression, one-vs-rest for more than two classes.

    ``X`` is ``(used, compact)`` from :func:`used_columns`. Each binary
    problem (one for two classes, one per class otherwise) gets its own
    ratios ``r`` (:class:`~skrnn.baseline.NBLogCountRatio`, smoothing
    ``alpha``); the rows of ``X * r`` are scaled to unit L2 norm and
    :func:`skrnn.baseline.nb_lr_classifier` (liblinear's dual solver: many
    more features than documents) fits weights ``v`` and an intercept on them.

    Returns ``(coef, norms, intercept)``: sparse ``(n_outputs,
    NGRAM_FEATURES)`` matrices of ``v * r`` and ``r ** 2`` over the used
    columns, and the intercepts, which :func:`ngram_scores` reads.
    ``OneVsRestClassifier`` is not used because it does not pass
    ``sample_weight`` on without metadata routing.
    """
    used, X = X
    weights, squares, intercept = [], [], []
    for k in [1] if n_classes == 2 else range(n_classes):
        target = (y == k).astype(np.int64)
        nb = NBLogCountRatio(alpha=alpha).fit(X, target)
        lr = nb_lr_classifier(C=C, random_state=random_state)
        lr.fit(normalize(nb.transform(X)), target, sample_weight=sample_weight)
        ratio = nb.ratio_.astype(np.float64)
        weights.append(lr.coef_[0] * ratio)
        squares.append(ratio**2)
        intercept.append(lr.intercept_[0])
    return _spread(weights, used), _spread(squares, used), np.asarray(intercept, np.float64)


def _spread(rows, used):
    """Rows over the ``used`` columns as a sparse ``(len(rows), NGRAM_FEATURES)`` float32 matrix."""
    dense = np.vstack(rows).astype(np.float32)
    out, col = np.nonzero(dense)
    return sp.csr_matrix((dense[out, col], (out, used[col])), shape=(len(rows), NGRAM_FEATURES))


def ngram_scores(X, coef, norms, intercept):
    """Decision values ``(n_samples, n_outputs)`` of the folded n-gram path.

    For output ``k``: ``(x . coef[k]) / sqrt(x . norms[k]) + intercept[k]``;
    a document with no n-gram seen in training scores its intercept. Each
    class's rows are spread into a dense vector for the call and gathered
    feature by feature: ``X @ coef.T`` would build an index over all
    ``NGRAM_FEATURES`` columns, and a sorted search is several times slower.
    """
    row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    scores = np.tile(intercept, (X.shape[0], 1))
    dense = np.zeros(coef.shape[1], dtype=np.float32)

    def gathered(matrix, k):
        columns = matrix.indices[matrix.indptr[k] : matrix.indptr[k + 1]]
        dense[columns] = matrix.data[matrix.indptr[k] : matrix.indptr[k + 1]]
        out = np.bincount(row_of, weights=dense[X.indices] * X.data, minlength=X.shape[0])
        dense[columns] = 0.0
        return out

    for k in range(coef.shape[0]):
        norm = np.sqrt(gathered(norms, k))
        scores[:, k] += gathered(coef, k) / np.where(norm > 0, norm, 1.0)
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
    """Fit the path on rows ``train_idx`` of ``X``; returns ``(C, coef, norms, intercept)``.

    ``C="auto"`` tries each of :data:`NGRAM_C_GRID` and keeps the best ROC
    AUC on rows ``val_idx`` (ties keep the smaller ``C``): AUC is much less
    noisy than accuracy on a small validation split. ``sample_weight`` is
    that of the training rows.
    """
    X_train = used_columns(X[train_idx])
    grid = NGRAM_C_GRID if C == "auto" else (float(C),)
    X_val = X[val_idx] if len(grid) > 1 else None
    best = None
    for c in grid:
        fitted = fit_nb_lr(X_train, y[train_idx], n_classes, c, sample_weight, random_state)
        if X_val is None:
            return (c, *fitted)
        quality = ranking_quality(y[val_idx], ngram_scores(X_val, *fitted))
        if best is None or quality > best[0]:
            best = (quality, c, *fitted)
    return best[1:]


# ------------------------------------------------------------------- blending
def log_odds(proba):
    """Log-odds (one column, binary) or log-probabilities (multiclass) of class probabilities."""
    proba = np.clip(proba, 1e-7, 1 - 1e-7)
    if proba.shape[1] == 2:
        return np.log(proba[:, 1:]) - np.log(proba[:, :1])
    return np.log(proba)


def blend_proba(ngram, lstm_proba, lstm_weight):
    """Class probabilities from the n-gram path's scores and the LSTM's probabilities.

    Two classes: ``sigmoid(s + lstm_weight * logit(p_lstm))``; more:
    ``softmax(s_k + lstm_weight * log(p_lstm_k))``. ``ngram`` is
    :func:`ngram_scores`'s output, ``None`` without the path;
    ``lstm_proba`` is ``None`` without the LSTM.
    """
    if ngram is None:
        return lstm_proba
    scores = ngram if lstm_proba is None else ngram + lstm_weight * log_odds(lstm_proba)
    if scores.shape[1] == 1:
        positive = expit(scores[:, 0])
        return np.column_stack([1.0 - positive, positive])
    return softmax(scores, axis=1)


# ------------------------------------------------------------------- saving
def save_ngram_weights(file, coef, norms, intercept):
    """Write the path's weights to ``file`` (``.npz``, sparse, no pickled objects)."""
    arrays = {"intercept": intercept}
    for name, matrix in (("coef", coef), ("norms", norms)):
        arrays.update(
            {
                f"{name}_data": matrix.data,
                f"{name}_indices": matrix.indices,
                f"{name}_indptr": matrix.indptr,
                f"{name}_shape": np.asarray(matrix.shape),
            }
        )
    np.savez(file, **arrays)


def read_ngram_weights(file, folder):
    """``(coef, norms, intercept)`` from :func:`save_ngram_weights`'s ``file`` in ``folder``.

    Raises :class:`~skrnn._persistence.IncompatibleFileError` when the file
    is missing or damaged.
    """
    if not file.is_file():
        raise IncompatibleFileError(
            f"{file} is missing: the save at {folder} is incomplete; save it again."
        )
    data = read_arrays(file)
    try:
        coef, norms = (
            sp.csr_matrix(
                (data[f"{name}_data"], data[f"{name}_indices"], data[f"{name}_indptr"]),
                shape=tuple(int(n) for n in data[f"{name}_shape"]),
            )
            for name in ("coef", "norms")
        )
        intercept = np.asarray(data["intercept"], dtype=np.float64)
        if coef.shape != norms.shape or coef.shape != (len(intercept), NGRAM_FEATURES):
            raise ValueError(
                f"weights of shape {coef.shape}, norms {norms.shape} and {len(intercept)} "
                "intercepts do not match"
            )
        return coef, norms, intercept
    except Exception as exc:
        raise IncompatibleFileError(
            f"{file} could not be read ({type(exc).__name__}: {exc}); the save is damaged."
        ) from exc
