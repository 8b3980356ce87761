"""``LSTMSentimentClassifier``: a Keras 3 LSTM text classifier that takes raw text.

TensorFlow and Keras are imported on first use (``fit``, ``predict``,
``load``, unpickling a fitted estimator), never when this module is imported.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, murmurhash3_32
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._persistence import CONFIG_FILE, IncompatibleFileError, SavedFolderMixin, read_arrays
from .baseline import NBLogCountRatio
from .text import OOV_ID, PAD_ID, WordTokenizer, check_documents
from .training import HISTORY_ATTRIBUTES, TrainingRun, read_history

__all__ = ["LSTMSentimentClassifier"]

_MODEL_FILE = "model.keras"
_NGRAM_FILE = "ngrams.npz"
# ngram_C="auto" picks the inverse regularisation strength of the n-gram path from these, by
# ROC AUC on the validation split.
_NGRAM_C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
# Hashed n-gram space: 2**22 columns lost 0.15 points of IMDB validation accuracy to collisions
# against a full vocabulary; the weights are stored sparse, so a bigger space costs little.
_NGRAM_FEATURES = 2**24
PATHS = ("both", "lstm", "ngrams")
# max_iter="auto": on IMDB (22,500 training reviews) one epoch gave the best combined validation
# accuracy (0.9224; two: 0.9216); smaller data sets get more passes, up to the cap.
_AUTO_EPOCH_DOCUMENTS = 20000
_AUTO_MAX_EPOCHS = 10
_PREDICT_BATCH_SIZE = 256
# predict batches hold up to this many padded tokens: 256 rows of maxlen=600 (rounded to 640)
# tokens, the old fixed batch's worst case; thousands of rows when documents are short.
_PREDICT_BATCH_TOKENS = 256 * 640
# Padded lengths at predict time are multiples of this (masked padding does not change the
# outputs; finer steps waste less compute on short documents).
_PREDICT_LENGTH_MULTIPLE = 8
# predict_proba tokenizes and scores this many documents at a time (bounded memory).
_PREDICT_CHUNK = 65536


_keras_ready = False


def _keras_model_module(verbose=0):
    """Import :mod:`skrnn.keras_model` (and so TensorFlow) on first use.

    TensorFlow 2.20+ writes C++ log lines straight to file descriptor 2
    before any Python code can configure logging (CUDA probing, oneDNN
    notices; ``TF_CPP_MIN_LOG_LEVEL`` no longer hides them). So the first call
    in a process imports TensorFlow and trains a two-token network for one
    step with descriptor 2 pointed at ``/dev/null``, which emits those one-off
    lines where nobody sees them; descriptor 2 is restored right after. Errors
    still surface as Python exceptions.
    """
    global _keras_ready
    if _keras_ready:
        from . import keras_model

        return keras_model
    with _stderr_to_devnull(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from . import keras_model

        keras_model.warm_up()
    _keras_ready = True
    return keras_model


@contextlib.contextmanager
def _stderr_to_devnull():
    """Point file descriptor 2 at ``/dev/null`` in the block (C++ libraries write there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def _quiet(verbose):
    """Hide TensorFlow's Python log messages below errors (e.g. its
    tf.function retracing notices, which say nothing the user can act on)
    and, with ``verbose=0``, Python warnings, for the duration of a Keras
    call; both are restored afterwards."""
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            if not verbose:
                warnings.simplefilter("ignore")
            yield
    finally:
        tf_logger.setLevel(level)


def _num_replicas(model=None):
    """Replicas that train ``model``, or a model built now: those of the
    ``tf.distribute`` strategy in scope, 1 outside any."""
    if model is not None:
        return int(model.distribute_strategy.num_replicas_in_sync)
    if "tensorflow" not in sys.modules:  # no strategy can exist without TensorFlow
        return 1
    import tensorflow as tf

    return int(tf.distribute.get_strategy().num_replicas_in_sync)


def _is_token_ids(X):
    """Whether ``X`` holds pre-tokenized numeric sequences rather than strings.

    Sequences of non-integer numbers count too, so that :func:`_check_token_ids`
    can reject them with a message about token ids.
    """
    if isinstance(X, (str, bytes, bytearray)):
        return False
    if isinstance(X, np.ndarray):
        if X.ndim == 2:
            return np.issubdtype(X.dtype, np.integer)
        if X.ndim != 1 or X.size == 0:
            return False
        first = X[0]
    else:
        try:
            first = next(iter(X))
        except (TypeError, StopIteration):
            return False
    if isinstance(first, (str, bytes)):
        return False
    if isinstance(first, np.ndarray):
        return first.dtype.kind not in "USV"
    if isinstance(first, (list, tuple)):
        return not any(isinstance(v, (str, bytes)) for v in first[:50])
    return False


def _check_token_ids(X, max_features, name="X", offset=0):
    """Validate pre-tokenized input: a list of int32 arrays, padding (0) removed.

    Ids at or above ``max_features`` become the out-of-vocabulary id 1, as
    ``keras.datasets.imdb`` does with ``num_words``. ``offset`` is added to
    the row numbers in error messages (for chunked input).
    """
    rows = list(X)
    if not rows and not offset:
        raise ValueError(f"{name} is empty: at least one sequence is required.")
    sequences = []
    for i, row in enumerate(rows, start=offset):
        if isinstance(row, (str, bytes)):
            raise TypeError(
                f"{name}[{i}] is a string but {name}[0] is a sequence of token ids: pass either "
                "raw documents (strings) or token-id sequences, not a mix."
            )
        try:
            arr = np.asarray(row)
        except (TypeError, ValueError):
            arr = (
                np.asarray(row, dtype=object)
                if isinstance(row, (list, tuple))
                else np.empty(0, object)
            )
            if arr.ndim != 1:
                arr = np.empty((0, 0), object)
        if (
            arr.ndim != 1
            or arr.dtype == bool
            or (arr.size and not np.issubdtype(arr.dtype, np.integer))
        ):
            raise TypeError(
                f"{name}[{i}] is not a 1-D sequence of integer token ids (got {type(row).__name__} with "
                f"dtype {arr.dtype}, shape {arr.shape}). Pass raw documents as strings, or token ids as "
                "lists or arrays of ints (floats, NaN, None and nested lists are not ids)."
            )
        if arr.size and arr.min() < 0:
            raise ValueError(
                f"{name}[{i}] contains negative token ids (smallest {arr.min()}); ids must be >= 0 "
                "(0 is padding, 1 is out-of-vocabulary)."
            )
        arr = arr[arr != PAD_ID]
        arr = np.where(arr >= max_features, OOV_ID, arr).astype(np.int32, copy=False)
        sequences.append(arr)
    return sequences


def _check_X_shape(X, name="X"):
    """Reject array shapes and dtypes that are neither documents nor token ids."""
    if isinstance(X, np.ndarray) and X.ndim == 2 and not np.issubdtype(X.dtype, np.integer):
        if np.issubdtype(X.dtype, np.number) or X.dtype == bool:
            raise TypeError(
                f"{name} is a 2-D {X.dtype} array of shape {X.shape}: pass raw documents as a 1-D list "
                "of strings, or token ids as a 2-D integer array (not floats or features)."
            )
    if X is None:
        raise TypeError(
            f"{name} is None: pass a list of documents (strings) or of token-id sequences."
        )


def _token_codes(token_lists):
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


def _ngram_matrix(codes, lengths, ngram_range):
    """Binary ``(n_documents, _NGRAM_FEATURES)`` CSR matrix of hashed word n-grams.

    ``codes`` are the documents' tokens, concatenated (see :func:`_token_codes`).
    The n-grams are hashed with NumPy over all documents at once, not one
    Python string per n-gram as ``HashingVectorizer`` builds them: 3-4x
    faster, which makes the path cheap enough to predict at thousands of
    documents per second. Hashing keeps no vocabulary: the fitted path is only
    its weights.
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
            cols.append((h[within] % np.uint64(_NGRAM_FEATURES)).astype(np.int64))
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    X = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(n_docs, _NGRAM_FEATURES)
    )
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


def _used_columns(X):
    """The columns of hashed ``X`` that hold a feature, and ``X`` restricted to them.

    The n-gram path fits on these only, so that its cost follows the data,
    not the size of the hashed space.
    """
    used = np.unique(X.indices)
    compact = sp.csr_matrix(
        (X.data, np.searchsorted(used, X.indices), X.indptr), shape=(X.shape[0], len(used))
    )
    return used, compact


def _fit_nb_lr(X, y, n_classes, C, sample_weight=None, random_state=None):
    """NB-weighted logistic regression, one-vs-rest for more than two classes.

    ``X`` is ``(used, compact)`` from :func:`_used_columns`. Returns
    ``(coef, intercept)``: a sparse ``(n_outputs, _NGRAM_FEATURES)`` matrix
    with the naive-Bayes ratios folded into the weights (``w * r``), so the
    path scores raw binary features with one product. ``OneVsRestClassifier``
    is not used because it does not pass ``sample_weight`` on without
    metadata routing. The dual liblinear solver: 5-10x faster than the
    primal one here (many more features than documents), same accuracy.
    """
    used, X = X
    rows, intercept = [], []
    for k in [1] if n_classes == 2 else range(n_classes):
        target = (y == k).astype(np.int64)
        nb = NBLogCountRatio().fit(X, target)
        lr = LogisticRegression(
            C=C, solver="liblinear", dual=True, max_iter=1000, random_state=random_state
        )
        lr.fit(nb.transform(X), target, sample_weight=sample_weight)
        rows.append(lr.coef_[0] * nb.ratio_)
        intercept.append(lr.intercept_[0])
    weights = np.vstack(rows).astype(np.float32)
    out, col = np.nonzero(weights)
    coef = sp.csr_matrix((weights[out, col], (out, used[col])), shape=(len(rows), _NGRAM_FEATURES))
    return coef, np.asarray(intercept, dtype=np.float64)


def _ngram_scores(X, coef, intercept):
    """Decision values ``(n_samples, n_outputs)`` of the folded n-gram path.

    Each class's weights are spread into a dense vector for the call and
    gathered feature by feature: ``X @ coef.T`` would build an index over all
    ``_NGRAM_FEATURES`` columns, and a sorted search is several times slower.
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


def _pretrained_vectors(embeddings, words):
    """The vectors of ``words`` found in ``embeddings``, as ``(found, dim)``.

    ``embeddings`` is a path to a GloVe or word2vec text file (``word v1 v2
    ...`` per line; a word2vec ``n_words dim`` header line is skipped), a
    mapping from words to vectors, or an object with ``key_to_index`` and
    ``vectors`` (gensim's ``KeyedVectors``). Only the words asked for are kept.
    """
    wanted = set(words)
    found = {}
    if isinstance(embeddings, (str, os.PathLike)):
        path = Path(embeddings)
        if not path.is_file():
            raise FileNotFoundError(
                f"embeddings={str(embeddings)!r}: no such file; pass a GloVe or word2vec text file."
            )
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                parts = line.rstrip().split(" ")
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # word2vec's header: vocabulary size and dimension
                if parts[0] in wanted:
                    try:
                        found[parts[0]] = np.asarray(parts[1:], dtype=np.float32)
                    except ValueError:
                        raise ValueError(
                            f"{path}, line {number}: expected a word then numbers separated by spaces "
                            "(GloVe or word2vec text format)."
                        ) from None
    elif hasattr(embeddings, "key_to_index") and hasattr(embeddings, "vectors"):
        index = embeddings.key_to_index
        found = {
            w: np.asarray(embeddings.vectors[index[w]], dtype=np.float32)
            for w in wanted
            if w in index
        }
    elif isinstance(embeddings, Mapping):
        found = {w: np.asarray(embeddings[w], dtype=np.float32) for w in wanted if w in embeddings}
    else:
        raise TypeError(
            f"embeddings must be a path to a GloVe/word2vec text file, a mapping from words to vectors or "
            f"a gensim KeyedVectors, got {type(embeddings).__name__}."
        )
    dims = {v.shape for v in found.values()}
    if not found:
        raise ValueError(
            "None of the vocabulary's words has a vector in embeddings: check that the vectors are for "
            "the same language and casing (the tokenizer lower-cases unless lowercase=False)."
        )
    if len(dims) != 1 or len(next(iter(dims))) != 1:
        raise ValueError(
            f"embeddings' vectors must all be 1-D and of one length, got shapes {sorted(dims)}."
        )
    return found, next(iter(dims))[0]


def _ranking_quality(y, scores):
    """ROC AUC of decision values (one-vs-rest, macro-averaged, for more than two classes)."""
    if len(np.unique(y)) < 2:
        return 0.0
    if scores.shape[1] == 1:
        return roc_auc_score(y, scores[:, 0])
    present = np.unique(y)
    if len(present) < scores.shape[1]:
        return float(np.mean([roc_auc_score(y == k, scores[:, k]) for k in present]))
    return roc_auc_score(y, softmax(scores, axis=1), multi_class="ovr")


def _lstm_logits(proba):
    """Log-odds (one column, binary) or log-probabilities (multiclass) of the LSTM's output."""
    proba = np.clip(proba, 1e-7, 1 - 1e-7)
    if proba.shape[1] == 2:
        return np.log(proba[:, 1:]) - np.log(proba[:, :1])
    return np.log(proba)


class LSTMSentimentClassifier(SavedFolderMixin, ClassifierMixin, BaseEstimator):
    """LSTM text classifier (Keras 3, TensorFlow backend) that takes raw text.

    By default (``paths="both"``) the model has two paths whose scores are
    combined:

    * **the LSTM**: ``fit`` learns a word vocabulary from the raw documents
      (see :class:`skrnn.text.WordTokenizer`: lower-casing, HTML line breaks
      such as ``<br />`` removed, words plus ``!`` and ``?``; ids 0 = padding,
      1 = any word outside the ``max_features - 2`` most frequent ones), then
      trains ``Embedding -> SpatialDropout1D -> [Bidirectional] LSTM (x
      n_layers) -> masked max+mean pooling over time -> Dropout -> Dense``
      with Adam, on the first ``maxlen`` tokens of each document;
    * **the n-gram path**: a logistic regression on binarized word 1- to
      3-grams of the whole document, each weighted by its naive-Bayes
      log-count ratio (NB-LR, Wang & Manning 2012; see
      :func:`skrnn.make_nb_baseline`), with n-grams hashed so that no
      vocabulary is stored.

    ``validation_fraction`` of the training data is held out: both paths
    train on the rest; the n-gram path's regularisation (``ngram_C="auto"``)
    and a logistic regression that combines the LSTM's log-odds with the
    n-gram path's score are fitted on the held-out part. The output is one
    sigmoid for two classes and a softmax otherwise. ``paths="lstm"`` or
    ``"ngrams"`` keeps one path (an ablation, or a lighter model).

    It is fast by default: sequences are right-padded and masked, batches group
    reviews of similar length (rounded up to a multiple of 32 tokens), so a
    short review never pays for a long one, without ``recurrent_dropout``
    the LSTM keeps Keras's fused kernel (cuDNN on a GPU), and the embedding
    has one row per word of the vocabulary actually found (at most
    ``max_features``), so small data sets train a small network.

    ``X`` can also be pre-tokenized: a list (or object array) of integer
    sequences, such as ``keras.datasets.imdb.load_data()`` returns, or a 2-D
    integer array. Those ids are used as they are, without a tokenizer: 0 is
    padding and is dropped, ids ``>= max_features`` become the
    out-of-vocabulary id 1. An estimator fitted on token ids only predicts from
    token ids.

    TensorFlow is imported on first use. With ``verbose=0`` nothing is
    printed: TensorFlow's one-off C++ start-up log lines are emitted during a
    tiny warm-up with standard error silenced (see ``_keras_model_module``).

    Parameters
    ----------
    max_features : int, default=20000
        Size of the token-id space, the padding and out-of-vocabulary ids
        included: the most embedding rows there can be (raw text gets one per
        word found, when fewer).
    maxlen : int or None, default=256
        The LSTM reads at most this many tokens per document (``None``: all);
        the n-gram path always reads whole documents. On IMDB the first 256
        tokens cover the median review (176 tokens) whole and halve the
        LSTM's time against 600.
    truncating : {"pre", "post"}, default="post"
        Where to cut documents longer than ``maxlen``, as in
        ``keras.utils.pad_sequences``: ``"post"`` keeps the beginning,
        ``"pre"`` keeps the end.
    embedding_dim : int, default=128
        Width of the word embeddings.
    hidden_size : int, default=64
        LSTM units (per direction when ``bidirectional``).
    n_layers : int, default=1
        Number of stacked LSTM layers.
    bidirectional : bool, default=False
        Read each document in both directions.
    pooling : {"max_mean", "max", "mean", "last"}, default="max_mean"
        How the LSTM outputs become one vector per document: masked max and
        mean over time, concatenated (``"max_mean"``), only one of them, or the
        final state (``"last"``, as in Keras's IMDB example).
    dropout : float, default=0.0
        Dropout on the LSTM inputs (Keras ``LSTM(dropout=...)``).
    recurrent_dropout : float, default=0.0
        Dropout on the recurrent state (Keras ``LSTM(recurrent_dropout=...)``).
        Any non-zero value disables the fused LSTM kernel, which makes training
        several times slower on a GPU.
    embedding_dropout : float, default=0.4
        Rate of ``SpatialDropout1D`` on the embeddings (drops whole embedding
        channels); also applied to the bigram embeddings, if any.
    output_dropout : float, default=0.5
        Dropout on the pooled document vector, before the output layer.
    bigram_buckets : int, default=0
        Size of an optional hashed bigram branch inside the network: each pair
        of consecutive tokens is hashed into one of this many buckets,
        embedded in ``bigram_dim`` dimensions and averaged over the document;
        the average is concatenated with the LSTM's pooled outputs. Off by
        default since the n-gram path does this job better and far cheaper
        (the branch updated a dense ``200000 x 64`` table at every step,
        whatever the data's size).
    bigram_dim : int, default=64
        Width of the bigram embeddings.
    batch_size : int, default=32
        Documents per training batch. On IMDB, 32 gave about 0.7-1 point more
        test accuracy than 64 (twice the updates per epoch, noisier steps)
        for about 1.2-1.5x the time per fit on CPU.
    max_iter : int or "auto", default="auto"
        Maximum number of epochs of the LSTM (passes over its training
        data). ``"auto"``: enough epochs to see about 20,000 documents, at
        least 1 and at most 10 (1 on IMDB, where it gave the best combined
        validation accuracy; 3 for 7,200 training sentences).
    learning_rate : float, default=0.002
        Adam's learning rate.
    ema_momentum : float or None, default=None
        Keep an exponential moving average of the weights (Adam's
        ``use_ema``) and use it at the end of every epoch: validation, early
        stopping and prediction see the averaged weights. Off by default: it
        updates a copy of every weight at every step, and with one epoch it
        did not help.
    validation_fraction : float, default=0.1
        Fraction of the training data held out (stratified) to choose the
        n-gram path's ``C`` and the weights that combine the paths (with
        ``paths="both"`` or ``"ngrams"``) and to monitor ``val_loss`` with
        ``early_stopping``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop after
        ``n_iter_no_change`` epochs without a lower validation loss and restore
        the weights of the best epoch.
    n_iter_no_change : int, default=1
        Epochs without improvement of the validation loss before stopping.
    class_weight : dict, "balanced" or None, default=None
        Weights per class (keys are the original labels), multiplied into
        ``sample_weight``.
    lowercase : bool, default=True
        Lower-case documents before tokenizing.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, shuffling and the validation
        split. An int gives identical predictions from identical data on CPU.
        Global random state (NumPy's, TensorFlow's) is left untouched.
    verbose : {0, 1, 2}, default=0
        0 prints nothing, 1 prints one line per epoch, 2 a progress bar per
        epoch, titled ``Epoch n/N`` (its time estimate starts after the first
        step, which includes tracing the network).
    warm_start : bool, default=False
        When fitted already, ``fit`` continues training the existing network
        and vocabulary for ``max_iter`` more epochs instead of starting over;
        the n-gram path is kept and the combination refitted.
    paths : {"both", "lstm", "ngrams"}, default="both"
        Which paths the model uses: the LSTM and the n-gram path combined,
        or one of them alone (``"lstm"`` is the network alone, as before the
        n-gram path existed; ``"ngrams"`` needs no TensorFlow training).
    ngram_range : tuple (min_n, max_n), default=(1, 3)
        Word n-grams of the n-gram path.
    embeddings : str, path, mapping, KeyedVectors or None, default=None
        Pretrained word vectors for the LSTM's embedding: a GloVe or
        word2vec text file, a mapping from words to vectors, or a gensim
        ``KeyedVectors``. Only the vocabulary's words are read; words without
        a vector start random. Their width replaces ``embedding_dim``. Needs
        raw text (not token ids). ``save`` records a path; other kinds are
        not written to ``estimator.json`` (the trained embedding is in the
        model either way).
    train_embeddings : bool, default=True
        Fine-tune the word embeddings; ``False`` keeps them as given (frozen),
        which suits pretrained vectors on small data sets.
    ngram_C : float or "auto", default=1.0
        Inverse regularisation strength of the n-gram path's logistic
        regression; ``"auto"`` picks it from 0.1, 0.3, 1, 3 and 10 by ROC
        AUC on the validation split. 1.0 was best on IMDB validation reviews
        of other movies than the training ones; ``"auto"``, choosing on a
        random split whose reviews share movies with the training part,
        picked 10, which did worse on the other movies (see
        ``docs/benchmarks.md``). Use ``"auto"`` when documents do not come
        in such groups.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    tokenizer_ : WordTokenizer or None
        The fitted tokenizer; ``None`` when fitted on token ids.
    model_ : keras.Model or None
        The trained network (``None`` with ``paths="ngrams"``). It takes
        right-padded ``int32`` ids of shape ``(batch, time)`` and outputs
        probabilities.
    paths_ : str
        The paths the fitted model uses (``"lstm"`` after ``partial_fit``).
    ngram_coef_ : scipy.sparse.csr_matrix or None
        The n-gram path's weights over the hashed n-gram space, one row (two
        classes) or one per class, with the naive-Bayes ratios folded in.
    ngram_intercept_ : ndarray or None
    ngram_C_ : float or None
        The ``C`` the n-gram path was fitted with.
    combiner_ : LogisticRegression or None
        Combines the paths' scores (the LSTM's log-odds, or log-probabilities
        for more than two classes, then the n-gram path's scores); ``None``
        with the LSTM alone.
    history_ : dict of str to list of float
        Per-epoch ``loss`` and ``accuracy`` and, with early stopping,
        ``val_loss`` and ``val_accuracy``. Warm starts and ``partial_fit``
        append to it.
    n_iter_ : int
        Epochs trained in total.
    best_epoch_ : int or None
        The (1-based) epoch whose weights were kept by early stopping, counted
        within the last ``fit``; ``None`` without early stopping.
    input_kind_ : {"text", "ids"}
        What ``fit`` was given: raw documents or token-id sequences.

    See Also
    --------
    skrnn.make_tfidf_baseline : TF-IDF + LogisticRegression on the same input.
    skrnn.make_nb_baseline : the NB-weighted n-gram model alone, as a pipeline.

    Notes
    -----
    **Input.** ``X`` is a list, tuple, 1-D array or pandas Series of ``str``
    (any Unicode; ``bytes`` are refused with a ``TypeError``: decode them
    first), or token ids as described above. A lone string, ``None`` entries,
    numbers mixed with strings, 2-D float arrays, negative ids and float
    "ids" raise ``TypeError`` or ``ValueError`` naming the offending entry.
    A document without any token (``""``, only punctuation or emoji) is read
    as one out-of-vocabulary word, but ``fit`` raises ``ValueError`` when *no*
    document has a token, since there is nothing to learn. Labels must not
    be ``None``/NaN; ``sample_weight`` (times ``class_weight``) must be
    finite, non-negative and not all zero. ``predict_proba`` tokenizes and
    scores 65,536 documents at a time, so memory does not grow with
    ``len(X)`` beyond the returned array; ``maxlen`` bounds the cost of very
    long documents inside the network.

    **Faults during training.** ``KeyboardInterrupt`` (Ctrl-C) stops
    training at once, as in skorch: ``fit``/``partial_fit`` return normally
    with a ``UserWarning``, and the estimator is fitted with the best
    validation epoch's weights when ``early_stopping`` is on and an epoch
    completed, else with the current weights. ``history_`` and ``n_iter_``
    count completed epochs only. A NaN or infinite training loss (checked
    after every batch, like ``keras.callbacks.TerminateOnNaN``) or validation
    loss stops training at once and restores the weights (and optimizer
    state) from the end of the last completed epoch, with a
    ``sklearn.exceptions.ConvergenceWarning``; the diverged epoch is not
    recorded. If that happens before any epoch of a fresh ``fit`` (or first
    ``partial_fit``) completed, there are no usable weights: a ``ValueError``
    is raised and the estimator is left unfitted.

    **Persistence and security.** :meth:`save` writes atomically (an
    earlier save at the same path survives a failed one) with a versioned
    header; :meth:`load` reads only JSON and a ``.keras`` file with Keras's
    ``safe_mode``, so no stored code is executed, and raises
    ``skrnn._persistence.IncompatibleFileError`` (a ``ValueError``) for a
    newer format, another estimator's folder or a damaged save. Pickle and
    joblib files also carry a format version (a newer one raises the same
    error), but unpickling can execute arbitrary code: only load pickle or
    joblib files from a trusted source, and prefer :meth:`save`/:meth:`load`
    to exchange models.

    Examples
    --------
    >>> from skrnn import LSTMSentimentClassifier
    >>> X = ["a good film", "bad acting", "really good", "so bad"] * 8
    >>> y = [1, 0, 1, 0] * 8
    >>> clf = LSTMSentimentClassifier(hidden_size=8, embedding_dim=8, max_iter=2,
    ...                               early_stopping=False, random_state=0)
    >>> clf.fit(X, y).predict_proba(["good"]).shape
    (1, 2)
    """

    _parameter_constraints: dict = {
        "max_features": [Interval(Integral, 3, None, closed="left")],
        "maxlen": [Interval(Integral, 1, None, closed="left"), None],
        "truncating": [StrOptions({"pre", "post"})],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "pooling": [StrOptions({"max_mean", "max", "mean", "last"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "recurrent_dropout": [Interval(Real, 0, 1, closed="left")],
        "embedding_dropout": [Interval(Real, 0, 1, closed="left")],
        "output_dropout": [Interval(Real, 0, 1, closed="left")],
        "bigram_buckets": [Interval(Integral, 0, None, closed="left")],
        "bigram_dim": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "ema_momentum": [Interval(Real, 0, 1, closed="neither"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "lowercase": ["boolean"],
        "random_state": ["random_state"],
        "verbose": [Interval(Integral, 0, 2, closed="both")],
        "warm_start": ["boolean"],
        "paths": [StrOptions(set(PATHS))],
        "ngram_range": [tuple, list],
        "ngram_C": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "embeddings": [
            None,
            str,
            os.PathLike,
            Mapping,
            HasMethods(["__getitem__", "__contains__"]),
        ],
        "train_embeddings": ["boolean"],
    }

    def __init__(
        self,
        max_features=20000,
        maxlen=256,
        truncating="post",
        embedding_dim=128,
        hidden_size=64,
        n_layers=1,
        bidirectional=False,
        pooling="max_mean",
        dropout=0.0,
        recurrent_dropout=0.0,
        embedding_dropout=0.4,
        output_dropout=0.5,
        bigram_buckets=0,
        bigram_dim=64,
        batch_size=32,
        max_iter="auto",
        learning_rate=0.002,
        ema_momentum=None,
        validation_fraction=0.1,
        early_stopping=True,
        n_iter_no_change=3,
        tol=1e-4,
        max_time=None,
        class_weight=None,
        lowercase=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        paths="both",
        ngram_range=(1, 3),
        ngram_C=1.0,
        embeddings=None,
        train_embeddings=True,
    ):
        self.max_features = max_features
        self.maxlen = maxlen
        self.truncating = truncating
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.embedding_dropout = embedding_dropout
        self.output_dropout = output_dropout
        self.bigram_buckets = bigram_buckets
        self.bigram_dim = bigram_dim
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.ema_momentum = ema_momentum
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.max_time = max_time
        self.class_weight = class_weight
        self.lowercase = lowercase
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.paths = paths
        self.ngram_range = ngram_range
        self.ngram_C = ngram_C
        self.embeddings = embeddings
        self.train_embeddings = train_embeddings

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.input_tags.sparse = False
        tags.non_deterministic = self.random_state is None
        return tags

    # --------------------------------------------------------------- helpers
    def _validate_X(self, X):
        """Check ``X`` and return ``(kind, items)``.

        ``kind`` is ``"text"`` (``items``: a list of ``str``) or ``"ids"``
        (``items``: the rows, not yet checked one by one; see :meth:`_sequences`).
        """
        _check_X_shape(X)
        try:
            if iter(X) is X:  # a one-shot iterator: read it once
                X = list(X)
        except TypeError:
            pass  # not iterable: check_documents says so
        if _is_token_ids(X):
            items = X if isinstance(X, np.ndarray) and X.ndim == 2 else list(X)
            if len(items) == 0:
                raise ValueError("X is empty: at least one sequence is required.")
            return "ids", items
        return "text", check_documents(X)

    def _sequences(self, items, kind, *, fit_tokenizer=False, offset=0):
        """Turn validated ``items`` into truncated int32 id arrays (never empty)."""
        return self._read(items, kind, fit_tokenizer=fit_tokenizer, offset=offset)[0]

    def _read(
        self,
        items,
        kind,
        *,
        fit_tokenizer=False,
        offset=0,
        lstm=True,
        ngrams=False,
        token_lists=None,
    ):
        """What each path reads from validated ``items``, tokenizing only once.

        Returns ``(sequences, X_ngrams)``: the LSTM's truncated int32 id arrays
        (never empty; ``None`` without ``lstm``) and the n-gram path's binary
        hashed n-grams of the whole documents (``None`` without ``ngrams``).
        With ``fit_tokenizer`` (and ``lstm``), the vocabulary is learnt first.
        ``token_lists`` (raw text only) are the documents already tokenized.
        """
        if kind == "ids":
            sequences = _check_token_ids(items, self.max_features, offset=offset)
            if fit_tokenizer:
                self.tokenizer_ = None
                if not any(len(seq) for seq in sequences):
                    raise ValueError(
                        f"Every sequence in X is empty or only padding (id 0): all {len(sequences)} "
                        "sequences have no token to learn from. Pass sequences with ids >= 1."
                    )
        elif lstm:
            if fit_tokenizer:
                self.tokenizer_ = WordTokenizer(
                    max_features=self.max_features, lowercase=self.lowercase
                )
            elif getattr(self, "tokenizer_", None) is None:
                raise ValueError(
                    "This LSTMSentimentClassifier was fitted on token-id sequences, so it has no "
                    "tokenizer: pass token ids (lists of ints), not raw strings."
                )
            if token_lists is None:
                token_lists = [self.tokenizer_.tokenize(doc) for doc in items]
            if fit_tokenizer:
                self.tokenizer_._fit_tokens(token_lists)
                if not self.tokenizer_.vocabulary:
                    raise ValueError(
                        f"No document in X has a token: all {len(items)} documents are empty or hold "
                        "no words (tokens are runs of letters or digits, plus '!' and '?'). Pass "
                        "documents with text."
                    )
            sequences = self.tokenizer_._encode_tokens(token_lists)
        else:
            if token_lists is None:
                token_lists = self._tokenize(items)
            sequences = None
        X_ngrams = None
        if ngrams:
            if kind == "ids":
                codes = np.concatenate(
                    [seq.astype(np.uint64) for seq in sequences] or [np.zeros(0, np.uint64)]
                )
                lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
            else:
                codes, lengths = _token_codes(token_lists)
            X_ngrams = _ngram_matrix(codes, lengths, self.ngram_range)
        if not lstm:
            return None, X_ngrams
        maxlen = self.maxlen
        out = []
        for seq in sequences:
            if maxlen is not None and len(seq) > maxlen:
                seq = seq[:maxlen] if self.truncating == "post" else seq[-maxlen:]
            if len(seq) == 0:
                # A document without tokens is read as a single unknown word.
                seq = np.array([OOV_ID], dtype=np.int32)
            out.append(seq)
        return out, X_ngrams

    def _tokenize(self, documents):
        """Raw documents as token lists, by the tokenizer's rule (no vocabulary needed)."""
        tokenizer = getattr(self, "tokenizer_", None) or WordTokenizer(lowercase=self.lowercase)
        return [tokenizer.tokenize(doc) for doc in documents]

    def _encode_X(self, X, *, fit_tokenizer=False):
        """Turn ``X`` into a list of truncated int32 id arrays (never empty) and its kind."""
        kind, items = self._validate_X(X)
        return self._sequences(items, kind, fit_tokenizer=fit_tokenizer), kind

    def _check_y(self, y, n_samples):
        if y is None:
            raise ValueError("y is required: pass one label per document.")
        if isinstance(y, (str, bytes)):
            raise ValueError(
                f"y is a single {type(y).__name__}: pass one label per document (a list or array)."
            )
        if not hasattr(y, "dtype"):
            as_objects = np.asarray(y, dtype=object)
            if as_objects.ndim == 1:  # before NumPy turns [1, "a"] into ["1", "a"]
                _check_labels(as_objects, "y")
            y = np.asarray(y)
        y = column_or_1d(y, warn=True)
        if len(y) != n_samples:
            raise ValueError(
                f"X and y have inconsistent lengths: {n_samples} documents but {len(y)} labels."
            )
        _check_labels(y, "y")
        check_classification_targets(y)
        return y

    def _check_sample_weight(self, sample_weight, n_samples, y=None):
        """Validate ``sample_weight`` and multiply ``class_weight`` in (``None``: all ones)."""
        sw = None
        if sample_weight is not None:
            try:
                sw = np.asarray(sample_weight, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    "sample_weight must hold numbers (one non-negative weight per document)."
                ) from None
            if sw.ndim == 0:
                sw = np.full(n_samples, float(sw))
            if sw.ndim != 1 or len(sw) != n_samples:
                raise ValueError(
                    f"sample_weight must be 1-D with one weight per document ({n_samples}), got shape {sw.shape}."
                )
            if not np.all(np.isfinite(sw)) or np.any(sw < 0):
                raise ValueError(
                    "sample_weight must be finite and non-negative (no NaN, inf or negative weights)."
                )
        if self.class_weight is not None and y is not None:
            cw = compute_sample_weight(self.class_weight, y)
            if not np.all(np.isfinite(cw)) or np.any(cw < 0):
                raise ValueError(
                    f"class_weight must map classes to finite non-negative weights, got {self.class_weight!r}."
                )
            sw = cw if sw is None else sw * cw
        if sw is not None and not np.any(sw > 0):
            raise ValueError(
                "sample_weight (times class_weight) is zero for every document: at least one weight must be positive."
            )
        return sw

    def _encode_labels(self, y, context):
        """Map labels to indices into ``classes_``; every label must be a known class."""
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        unseen = {v for v in y.tolist() if v not in index}
        if unseen:
            raise ValueError(
                f"y has labels that are not in classes: {sorted(unseen, key=repr)[:10]!r} ({context} "
                f"classes are {self.classes_.tolist()!r})."
            )
        return np.fromiter((index[v] for v in y.tolist()), dtype=np.int64, count=len(y))

    def _targets(self, y_encoded):
        if len(self.classes_) == 2:
            return y_encoded.astype(np.float32)
        return y_encoded.astype(np.int32)

    def _check_params_for_fit(self):
        """Checks that ``_parameter_constraints`` cannot express."""
        if self.bigram_buckets == 1:
            raise ValueError("bigram_buckets must be 0 (no bigram branch) or at least 2, got 1.")
        ngram_range = self.ngram_range
        if not (
            len(ngram_range) == 2
            and all(isinstance(n, Integral) and not isinstance(n, bool) for n in ngram_range)
            and 1 <= ngram_range[0] <= ngram_range[1]
        ):
            raise ValueError(
                f"ngram_range must be a pair of integers (min_n, max_n) with 1 <= min_n <= max_n, "
                f"got {ngram_range!r}; e.g. (1, 3) for word uni-, bi- and trigrams."
            )

    def _check_replicas(self, reuse_model):
        """The number of replicas that will train (1 outside a ``tf.distribute``
        strategy's scope), checked against ``batch_size``."""
        n = _num_replicas(self.model_ if reuse_model else None)
        if self.batch_size % n:
            raise ValueError(
                f"batch_size={self.batch_size} is not a multiple of the {n} replicas of the tf.distribute "
                "strategy that trains this model: batch_size is the global batch, split evenly across "
                f"the replicas. Use a multiple of {n}, e.g. batch_size={-(-self.batch_size // n) * n}."
            )
        return n

    def _release_model(self):
        """Drop this estimator's Keras model so its memory can be freed."""
        if getattr(self, "model_", None) is not None:
            del self.model_
            gc.collect()

    def _n_embedding_rows(self):
        """Rows of the embedding: one per id in use (padding and unknown words included), at most max_features.

        A small vocabulary gets a small table (and small optimizer updates).
        """
        n_ids = (
            self.max_features if self.tokenizer_ is None else len(self.tokenizer_.vocabulary) + 2
        )
        return min(n_ids, self.max_features)

    def _build_model(self, seed):
        km = _keras_model_module(self.verbose)
        n_classes = len(self.classes_)
        n_ids = self._n_embedding_rows()
        embedding_dim, weights = self.embedding_dim, None
        if self.embeddings is not None:
            if self.tokenizer_ is None:
                raise ValueError(
                    "embeddings need words: pass raw documents (strings), not token ids, or embeddings=None."
                )
            words = sorted(self.tokenizer_.vocabulary, key=self.tokenizer_.vocabulary.get)
            found, embedding_dim = _pretrained_vectors(self.embeddings, words)
            # Words without a vector start small and random, as without pretrained vectors.
            rng = np.random.default_rng(seed)
            weights = rng.uniform(-0.05, 0.05, size=(n_ids, embedding_dim)).astype(np.float32)
            weights[:2] = 0.0  # padding and unknown words
            for word, i in self.tokenizer_.vocabulary.items():
                if word in found:
                    weights[i] = found[word]
        return km.build_model(
            n_outputs=1 if n_classes == 2 else n_classes,
            max_features=n_ids,
            embedding_dim=embedding_dim,
            embedding_weights=weights,
            train_embeddings=self.train_embeddings,
            hidden_size=self.hidden_size,
            n_layers=self.n_layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            embedding_dropout=self.embedding_dropout,
            output_dropout=self.output_dropout,
            bigram_buckets=self.bigram_buckets,
            bigram_dim=self.bigram_dim,
            pooling=self.pooling,
            learning_rate=self.learning_rate,
            ema_momentum=self.ema_momentum,
            seed=seed,
        )

    def _forget_fit(self):
        """Back to the unfitted state (after a fit that produced no usable model)."""
        self._release_model()
        for attr in (
            *HISTORY_ATTRIBUTES,
            "tokenizer_",
            "classes_",
            "input_kind_",
            "paths_",
            "combiner_",
            "ngram_coef_",
            "ngram_intercept_",
            "ngram_C_",
        ):
            self.__dict__.pop(attr, None)

    def _train(self, sequences, targets, sample_weight, *, new_model, epochs, rng, validation=None):
        """Up to ``epochs`` epochs of the LSTM, under :class:`skrnn.training.TrainingRun`."""
        km = _keras_model_module(self.verbose)
        model = self.model_
        n_replicas = _num_replicas(model)
        train = km.BucketedBatches(
            sequences,
            targets,
            None if sample_weight is None else sample_weight.astype(np.float32),
            batch_size=self.batch_size,
            shuffle=True,
            seed=int(rng.randint(np.iinfo(np.int32).max)),
            n_replicas=n_replicas,
        )
        validate = None
        if validation is not None:
            val_batch = max(self.batch_size, _PREDICT_BATCH_SIZE)
            if n_replicas > 1:  # a first batch that splits evenly (see BucketedBatches)
                val_batch = min(val_batch, len(validation[0])) // n_replicas * n_replicas
            val_data = km.BucketedBatches(*validation, batch_size=val_batch).dataset()
            validate = partial(km.validation_accuracy, model, val_data)
        run = TrainingRun(
            self,
            new_model=new_model,
            get_weights=model.get_weights,
            set_weights=model.set_weights,
            checkpoint=model.get_weights,
            restore=partial(km.set_weights_repairing_optimizer, model),
            forget=self._forget_fit,
            validate=validate,
            max_iter=epochs,
            early_stopping=self.early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            max_time=self.max_time,
            verbose=self.verbose,
            advice=f"Lower learning_rate (now {self.learning_rate}) and check sample_weight and "
            "class_weight for extreme values.",
        )
        with run, _quiet(self.verbose):
            run.epochs(partial(km.train_epoch, model, train), len(train))

    # ------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Learn the vocabulary (for raw text), train the paths and their combination.

        With ``paths="both"`` (the default), ``validation_fraction`` of the
        data is held out (stratified); the LSTM and the n-gram path train on
        the rest, the n-gram path's ``C`` is chosen on the held-out part
        (``ngram_C="auto"``), and so are the weights that combine the two
        paths' scores.

        ``KeyboardInterrupt`` during training stops it and returns the fitted
        estimator with a warning; a non-finite loss stops it too (see the
        class docstring, "Faults").

        Parameters
        ----------
        X : iterable of str, or iterable of int sequences
            Raw documents (list, NumPy array, pandas Series), or pre-tokenized
            token-id sequences (see the class docstring).
        y : array-like of shape (n_samples,)
            Class labels: ints, strings, bools...
        sample_weight : array-like of shape (n_samples,), default=None
            Per-document weights for the training loss.

        Returns
        -------
        self : LSTMSentimentClassifier
        """
        self._check_params_for_fit()
        use_lstm = self.paths in ("both", "lstm")
        use_ngrams = self.paths in ("both", "ngrams")
        warm = (
            self.warm_start
            and use_lstm
            and getattr(self, "model_", None) is not None
            and (not use_ngrams or getattr(self, "ngram_coef_", None) is not None)
        )
        n_replicas = self._check_replicas(warm) if use_lstm else 1
        rng = check_random_state(self.random_state)
        kind, items = self._validate_X(X)
        y = self._check_y(y, len(items))
        sample_weight = self._check_sample_weight(sample_weight, len(items), y)
        if warm:
            if kind != self.input_kind_:
                raise ValueError(
                    f"warm_start: this estimator was fitted on {self.input_kind_}, got {kind}."
                )
            y_encoded = self._encode_labels(y, "warm_start: the first fit's")
            sequences, X_ngrams = self._read(items, kind, ngrams=use_ngrams)
        else:
            encoder = LabelEncoder().fit(y)
            if len(encoder.classes_) < 2:
                raise ValueError(
                    f"y has a single class ({_to_json_scalar(encoder.classes_[0])!r}): a classifier needs at least "
                    "two classes."
                )
            self._forget_fit()
            self.tokenizer_ = None
            sequences, X_ngrams = self._read(
                items, kind, fit_tokenizer=True, lstm=use_lstm, ngrams=use_ngrams
            )
            self.classes_ = encoder.classes_
            self.input_kind_ = kind
            y_encoded = encoder.transform(y)
        del items
        n_docs = len(y_encoded)

        model_seed = int(rng.randint(np.iinfo(np.int32).max // 1000))
        split_seed = int(rng.randint(np.iinfo(np.int32).max))
        if warm:
            # Same validation split as the first fit, fresh shuffling and dropout.
            rng = np.random.RandomState(
                (int(rng.randint(np.iinfo(np.int32).max)) + self.n_iter_) % 2**31
            )
        train_idx, val_idx = np.arange(n_docs), None
        if self.early_stopping or use_ngrams:
            train_idx, val_idx = self._split(
                y_encoded, split_seed, n_replicas if use_lstm else 1, warm
            )
        sw_train = None if sample_weight is None else sample_weight[train_idx]
        sw_val = None if sample_weight is None or val_idx is None else sample_weight[val_idx]
        targets = self._targets(y_encoded)

        if use_ngrams and not warm:
            self._fit_ngrams(X_ngrams, y_encoded, train_idx, val_idx, sw_train)
        if use_lstm:
            validation = None
            if val_idx is not None:
                validation = ([sequences[i] for i in val_idx], targets[val_idx])
            if not warm:
                self.model_ = self._build_model(model_seed)
            self._train(
                [sequences[i] for i in train_idx],
                targets[train_idx],
                sw_train,
                new_model=not warm,
                epochs=self._n_epochs(len(train_idx)),
                rng=rng,
                validation=validation,
            )
        else:
            self.model_ = None
            self.n_iter_, self.loss_curve_, self.time_curve_ = 0, [], []
            self.validation_scores_ = self.best_validation_score_ = self.best_iter_ = None
            self.fit_time_ = None
        if use_ngrams:
            val_sequences = [sequences[i] for i in val_idx] if use_lstm else None
            features = self._path_features(val_sequences, X_ngrams[val_idx])
            self.combiner_ = self._fit_combiner(features, y_encoded[val_idx], sw_val)
        else:
            self.combiner_ = None
            self.ngram_coef_ = self.ngram_intercept_ = self.ngram_C_ = None
        self.paths_ = self.paths
        return self

    def _n_epochs(self, n_train):
        """``max_iter``, or with ``"auto"`` enough epochs to see about ``_AUTO_EPOCH_DOCUMENTS``
        documents (one epoch on IMDB's 22,500, several on small data sets), at most
        ``_AUTO_MAX_EPOCHS``."""
        if self.max_iter != "auto":
            return self.max_iter
        return int(np.clip(round(_AUTO_EPOCH_DOCUMENTS / max(n_train, 1)), 1, _AUTO_MAX_EPOCHS))

    def _split(self, y_encoded, seed, n_replicas, warm):
        """Stratified train / validation indices (``validation_fraction`` held out)."""
        n_docs = len(y_encoded)
        n_val = int(np.ceil(self.validation_fraction * n_docs))
        if n_val < 1 or n_val >= n_docs:
            if not warm:
                self._forget_fit()
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no training or no validation "
                f"data for {n_docs} documents; use more data, or paths='lstm' with early_stopping=False."
            )
        if n_val < n_replicas:
            if not warm:
                self._forget_fit()
            raise ValueError(
                f"validation_fraction={self.validation_fraction} holds out {n_val} of {n_docs} "
                f"documents, fewer than the {n_replicas} replicas of the tf.distribute strategy: use "
                "more data, a larger validation_fraction or early_stopping=False."
            )
        index = np.arange(n_docs)
        try:
            return train_test_split(index, test_size=n_val, random_state=seed, stratify=y_encoded)
        except ValueError:  # a class too rare to stratify
            return train_test_split(index, test_size=n_val, random_state=seed)

    def _fit_ngrams(self, X, y_encoded, train_idx, val_idx, sample_weight):
        """Fit the NB-LR path on ``train_idx``, choosing ``C`` on ``val_idx`` when ``ngram_C="auto"``.

        ``C`` is chosen by ROC AUC rather than accuracy: the combiner rescales
        the scores anyway, so their ranking is what counts, and AUC is much
        less noisy than accuracy on a small validation split. On IMDB,
        accuracy on 2,500 reviews picked C=0.1, after which the combined
        model reached 0.916 on validation; AUC picks 1-3 (0.921-0.922).
        """
        X_train = _used_columns(X[train_idx])
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        y_train, n_classes = y_encoded[train_idx], len(self.classes_)
        grid = _NGRAM_C_GRID if self.ngram_C == "auto" else (float(self.ngram_C),)
        X_val = X[val_idx] if len(grid) > 1 else None
        best = None
        for C in grid:
            coef, intercept = _fit_nb_lr(X_train, y_train, n_classes, C, sample_weight, seed)
            if X_val is None:
                best = (0.0, C, coef, intercept)
                break
            quality = _ranking_quality(y_encoded[val_idx], _ngram_scores(X_val, coef, intercept))
            if best is None or quality > best[0]:  # ties keep the smaller C
                best = (quality, C, coef, intercept)
        _, self.ngram_C_, self.ngram_coef_, self.ngram_intercept_ = best

    def _path_features(self, sequences, X_ngrams):
        """The scores the combiner reads: the LSTM's log-odds, then the n-gram path's."""
        features = []
        if sequences is not None:
            features.append(_lstm_logits(self._lstm_proba(sequences)))
        if X_ngrams is not None:
            features.append(_ngram_scores(X_ngrams, self.ngram_coef_, self.ngram_intercept_))
        return np.hstack(features)

    def _fit_combiner(self, features, y_val, sample_weight):
        """Logistic regression on the paths' scores, fitted on the validation split.

        When the validation split misses a class (tiny data sets), the
        paths' scores are simply added.
        """
        n_classes = len(self.classes_)
        if len(np.unique(y_val)) == n_classes:
            return LogisticRegression().fit(features, y_val, sample_weight=sample_weight)
        n_out = 1 if n_classes == 2 else n_classes
        combiner = LogisticRegression()
        combiner.classes_ = np.arange(n_classes)
        combiner.coef_ = np.hstack([np.eye(n_out)] * (features.shape[1] // n_out))
        combiner.intercept_ = np.zeros(n_out)
        combiner.n_features_in_ = features.shape[1]
        combiner.n_iter_ = np.zeros(1, dtype=np.int32)
        return combiner

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on ``(X, y)``, without early stopping.

        The first call builds the network and, for raw text, learns the
        vocabulary from this first ``X`` (it stays fixed afterwards). Later
        calls continue training. Only the LSTM path trains this way (the
        n-gram path and the combination need all the data at once): a model
        started with ``partial_fit`` predicts with the LSTM alone
        (``paths_ == "lstm"``); after a ``fit``, ``partial_fit`` continues the
        LSTM and keeps the combination ``fit`` chose.

        Parameters
        ----------
        X : iterable of str, or iterable of int sequences
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All the classes that can ever appear. Required on the first call,
            as in scikit-learn's other ``partial_fit`` estimators; later calls
            may omit it or must pass the same classes.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : LSTMSentimentClassifier
        """
        self._check_params_for_fit()
        first = getattr(self, "model_", None) is None
        self._check_replicas(not first)
        kind, items = self._validate_X(X)
        y = self._check_y(y, len(items))
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            classes = column_or_1d(np.asarray(classes))
            _check_labels(classes, "classes")
            classes = np.unique(classes)
            if len(classes) < 2:
                raise ValueError(
                    f"classes must hold at least two classes, got {classes.tolist()!r}."
                )
            self.classes_ = classes
            try:
                y_encoded = self._encode_labels(y, "the")
            except ValueError:
                self._forget_fit()
                raise
            try:
                sample_weight = self._check_sample_weight(sample_weight, len(items), y)
                sequences = self._sequences(items, kind, fit_tokenizer=True)
            except BaseException:
                self._forget_fit()
                raise
            self.input_kind_ = kind
        else:
            if classes is not None:
                given = np.asarray(classes)
                same = given.ndim == 1 and len(np.unique(given)) == len(self.classes_)
                same = same and set(np.unique(given).tolist()) == set(self.classes_.tolist())
                if not same:
                    raise ValueError(
                        f"classes={np.asarray(classes).tolist()!r} differs from the classes of the first call, "
                        f"{self.classes_.tolist()!r}: the classes cannot change between partial_fit calls."
                    )
            if kind != self.input_kind_:
                raise ValueError(
                    f"partial_fit: this estimator was fitted on {self.input_kind_}, got {kind}; keep the same kind of X."
                )
            y_encoded = self._encode_labels(y, "the first call's")
            sample_weight = self._check_sample_weight(sample_weight, len(items), y)
            sequences = self._sequences(items, kind)
        del items
        rng = check_random_state(self.random_state)
        if first:
            self.model_ = self._build_model(int(rng.randint(np.iinfo(np.int32).max // 1000)))
            # The n-gram path learns from all the data at once: partial_fit trains the LSTM alone.
            self.paths_, self.combiner_ = "lstm", None
            self.ngram_coef_ = self.ngram_intercept_ = self.ngram_C_ = None
        else:
            # A fresh shuffling seed per call, reproducible from random_state.
            rng = np.random.RandomState(rng.randint(np.iinfo(np.int32).max) + self.n_iter_)
        self._train(
            sequences, self._targets(y_encoded), sample_weight, new_model=first, epochs=1, rng=rng
        )
        return self

    # --------------------------------------------------------------- predict
    def predict_proba(self, X):
        """Class probabilities.

        Documents are tokenized and scored in chunks of
        ``_PREDICT_CHUNK`` (65,536) documents, so memory stays bounded by the
        chunk, not by ``len(X)``, apart from the result itself.

        Parameters
        ----------
        X : iterable of str, or iterable of int sequences

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; also two columns for binary problems.
        """
        check_is_fitted(self, "model_")
        kind, items = self._validate_X(X)
        proba = np.empty((len(items), len(self.classes_)), dtype=np.float64)
        for start in range(0, len(items), _PREDICT_CHUNK):
            chunk = items[start : start + _PREDICT_CHUNK]
            token_lists = self._tokenize(chunk) if kind == "text" else None
            sequences = None
            if self.model_ is not None:
                sequences = self._read(chunk, kind, offset=start, token_lists=token_lists)[0]
            if getattr(self, "combiner_", None) is None:
                proba[start : start + len(chunk)] = self._lstm_proba(sequences)
                continue
            features = []
            with ThreadPoolExecutor(max_workers=1) as pool:
                # TensorFlow releases the GIL: the network scores while this thread reads n-grams.
                lstm = None if sequences is None else pool.submit(self._lstm_proba, sequences)
                if self.ngram_coef_ is not None:
                    X_ngrams = self._read(
                        chunk, kind, offset=start, lstm=False, ngrams=True, token_lists=token_lists
                    )[1]
                    features.append(
                        _ngram_scores(X_ngrams, self.ngram_coef_, self.ngram_intercept_)
                    )
                if lstm is not None:
                    features.insert(0, _lstm_logits(lstm.result()))
            proba[start : start + len(chunk)] = self.combiner_.predict_proba(np.hstack(features))
            del sequences, features, token_lists
        return proba

    def _lstm_proba(self, sequences):
        """The network's class probabilities ``(n_samples, n_classes)`` for id sequences."""
        km = _keras_model_module(self.verbose)
        batches = km.BucketedBatches(
            sequences,
            batch_size=_PREDICT_BATCH_SIZE,
            max_tokens=_PREDICT_BATCH_TOKENS,
            length_multiple=_PREDICT_LENGTH_MULTIPLE,
        )
        with _quiet(self.verbose):
            scores = self.model_.predict(batches.dataset(), verbose=1 if self.verbose == 2 else 0)
        scores = np.asarray(scores, dtype=np.float64)
        proba = np.empty((len(sequences), len(self.classes_)), dtype=np.float64)
        if len(self.classes_) == 2:
            proba[batches.order, 1] = scores[:, 0]
            proba[batches.order, 0] = 1.0 - scores[:, 0]
        else:
            proba[batches.order] = scores
        return proba

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : iterable of str, or iterable of int sequences

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # ----------------------------------------------------------- persistence
    # save() and load() (SavedFolderMixin): model.keras holds the Keras network,
    # its weights and optimizer state (absent with paths="ngrams"), ngrams.npz
    # the n-gram path's weights (when used), estimator.json the parameters,
    # classes, the tokenizer's vocabulary, the combination weights and the
    # history. load() reads them with Keras's safe_mode and NumPy without
    # pickle, so loading runs no stored code.
    _fitted_attribute = "model_"

    def __getstate__(self):
        state = super().__getstate__()  # a copy, with the format version
        model = state.pop("model_", None)
        if model is not None:
            state["_keras_model_bytes"] = _model_to_bytes(model)
        elif "model_" in self.__dict__:  # fitted with paths="ngrams": no network
            state["model_"] = None
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_keras_model_bytes", None)
        super().__setstate__(state)
        if data is not None:
            try:
                self.model_ = _model_from_bytes(data, verbose=state.get("verbose", 0))
            except Exception as exc:
                raise IncompatibleFileError(
                    f"The pickled {type(self).__name__}'s Keras model could not be restored "
                    f"({type(exc).__name__}: {exc}); the file is damaged or comes from an incompatible version."
                ) from exc

    def _saved_config(self):
        params = self.get_params(deep=False)
        params["ngram_range"] = list(params["ngram_range"])
        if params["embeddings"] is not None:
            # A path is recorded; vectors in memory are not (the model holds the trained embedding).
            params["embeddings"] = (
                os.fspath(params["embeddings"])
                if isinstance(params["embeddings"], (str, os.PathLike))
                else None
            )
        if isinstance(params["class_weight"], dict):
            params["class_weight"] = {
                "__pairs__": [
                    [_to_json_scalar(k), float(v)] for k, v in params["class_weight"].items()
                ]
            }
        if not (params["random_state"] is None or isinstance(params["random_state"], Integral)):
            params["random_state"] = None
        elif params["random_state"] is not None:
            params["random_state"] = int(params["random_state"])
        return {
            "params": params,
            "classes": [_to_json_scalar(c) for c in self.classes_.tolist()],
            "classes_dtype": self.classes_.dtype.str if self.classes_.dtype != object else "object",
            "input_kind": self.input_kind_,
            "tokenizer": None if self.tokenizer_ is None else self.tokenizer_.to_config(),
            "fitted": {key: getattr(self, key) for key in HISTORY_ATTRIBUTES},
            "paths": self.paths_,
            "ngram_C": self.ngram_C_,
            "combiner": None
            if self.combiner_ is None
            else {
                "coef": self.combiner_.coef_.tolist(),
                "intercept": self.combiner_.intercept_.tolist(),
            },
        }

    def _save_files(self, folder):
        if self.model_ is not None:
            with _quiet(0):
                self.model_.save(folder / _MODEL_FILE)
        if self.ngram_coef_ is not None:
            coef = self.ngram_coef_
            np.savez(
                folder / _NGRAM_FILE,
                data=coef.data,
                indices=coef.indices,
                indptr=coef.indptr,
                shape=np.asarray(coef.shape),
                intercept=self.ngram_intercept_,
            )

    @classmethod
    def _from_saved(cls, path, config):
        path = Path(path)
        config_file = path / CONFIG_FILE
        try:
            params = dict(config["params"])
            if "ngram_range" in params:
                params["ngram_range"] = tuple(params["ngram_range"])
            if (
                isinstance(params.get("class_weight"), dict)
                and "__pairs__" in params["class_weight"]
            ):
                params["class_weight"] = {k: v for k, v in params["class_weight"]["__pairs__"]}
            est = cls(**params)
            est._validate_params()
            est.classes_ = np.asarray(config["classes"], dtype=config["classes_dtype"])
            est.input_kind_ = config["input_kind"]
            has_network = config.get("paths", "lstm") != "ngrams"
            if est.input_kind_ not in ("text", "ids") or (
                has_network and (est.input_kind_ == "text") != (config["tokenizer"] is not None)
            ):
                raise ValueError(
                    f"input_kind {est.input_kind_!r} does not match the tokenizer entry"
                )
            if est.classes_.ndim != 1 or len(est.classes_) < 2:
                raise ValueError(
                    f"classes must list at least two labels, got {config['classes']!r}"
                )
            est.tokenizer_ = (
                None
                if config["tokenizer"] is None
                else WordTokenizer.from_config(config["tokenizer"])
            )
            read_history(est, config)
            # Saves from before the n-gram path hold the LSTM alone.
            est.paths_ = config.get("paths", "lstm")
            if est.paths_ not in PATHS:
                raise ValueError(f"paths {est.paths_!r} is not one of {PATHS}")
            est.ngram_C_ = config.get("ngram_C")
            est.combiner_ = None
            if config.get("combiner") is not None:
                est.combiner_ = LogisticRegression()
                est.combiner_.coef_ = np.asarray(config["combiner"]["coef"], dtype=np.float64)
                est.combiner_.intercept_ = np.asarray(
                    config["combiner"]["intercept"], dtype=np.float64
                )
                est.combiner_.classes_ = np.arange(len(est.classes_))
                est.combiner_.n_features_in_ = est.combiner_.coef_.shape[1]
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise IncompatibleFileError(
                f"{config_file} is damaged or incomplete ({type(exc).__name__}: {exc}); save the estimator again."
            ) from None
        est.ngram_coef_ = est.ngram_intercept_ = None
        if est.paths_ != "lstm":
            ngram_file = path / _NGRAM_FILE
            if not ngram_file.is_file():
                raise IncompatibleFileError(
                    f"{ngram_file} is missing: the save at {path} is incomplete; save it again."
                )
            data = read_arrays(ngram_file)
            try:
                est.ngram_coef_ = sp.csr_matrix(
                    (data["data"], data["indices"], data["indptr"]), shape=tuple(data["shape"])
                )
                est.ngram_intercept_ = np.asarray(data["intercept"], dtype=np.float64)
            except Exception as exc:
                raise IncompatibleFileError(
                    f"{ngram_file} could not be read ({type(exc).__name__}: {exc}); the save is damaged."
                ) from exc
        est.model_ = None
        if est.paths_ == "ngrams":
            return est
        model_file = path / _MODEL_FILE
        if not model_file.is_file():
            raise IncompatibleFileError(
                f"{model_file} is missing: the save at {path} is incomplete; save it again."
            )
        km = _keras_model_module(est.verbose)
        try:
            with _quiet(0):
                est.model_ = km.keras.saving.load_model(model_file, safe_mode=True)
        except Exception as exc:
            raise IncompatibleFileError(
                f"{model_file} could not be loaded as a Keras model ({type(exc).__name__}: {exc}); the save is "
                "damaged or was written by an incompatible Keras version."
            ) from exc
        n_outputs = est.model_.output_shape[-1]
        if n_outputs != (1 if len(est.classes_) == 2 else len(est.classes_)):
            raise IncompatibleFileError(
                f"{model_file} has {n_outputs} outputs, which does not fit the {len(est.classes_)} classes in "
                f"{config_file}; the save is damaged."
            )
        n_ids = est._n_embedding_rows()
        embedding = next(
            (layer for layer in est.model_.layers if isinstance(layer, km.keras.layers.Embedding)),
            None,
        )
        if embedding is None or embedding.input_dim != n_ids:
            found = None if embedding is None else embedding.input_dim
            raise IncompatibleFileError(
                f"{model_file} embeds {found} token ids, but the vocabulary in {config_file} needs {n_ids}: the "
                "two files come from different models; save the estimator again."
            )
        return est


def _check_labels(y, name):
    """Reject missing labels (None, NaN) and labels that mix strings with numbers."""
    if y.dtype.kind == "f":
        missing = np.flatnonzero(np.isnan(y))
    elif y.dtype == object:
        missing = np.flatnonzero([_is_missing(v) for v in y.tolist()])
        if not missing.size:
            has_str = any(isinstance(v, str) for v in y.tolist())
            if has_str and not all(isinstance(v, str) for v in y.tolist()):
                raise TypeError(
                    f"{name} mixes strings with other types ({sorted({type(v).__name__ for v in y.tolist()})}): "
                    "use one type of label, e.g. all strings."
                )
    else:
        return
    if missing.size:
        raise ValueError(
            f"{name} has {missing.size} missing label(s) (None or NaN), first at position(s) "
            f"{missing[:5].tolist()}: drop those documents or fill in their labels."
        )


def _is_missing(value):
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pandas NaT
    except (TypeError, ValueError):
        return True  # pandas.NA: its comparisons are undefined


def _to_json_scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _model_to_bytes(model):
    with tempfile.TemporaryDirectory(prefix="skrnn-") as tmp:
        file = Path(tmp) / _MODEL_FILE
        with _quiet(0):
            model.save(file)
        return file.read_bytes()


def _model_from_bytes(data, verbose=0):
    km = _keras_model_module(verbose)
    with tempfile.TemporaryDirectory(prefix="skrnn-") as tmp:
        file = Path(tmp) / _MODEL_FILE
        file.write_bytes(data)
        with _quiet(0):
            return km.keras.saving.load_model(file, safe_mode=True)
