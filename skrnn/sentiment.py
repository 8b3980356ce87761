"""``LSTMSentimentClassifier``: a Keras 3 LSTM text classifier that takes raw text.

The estimator holds the parameters and orchestrates; each job lives in its own
module: input checks in :mod:`skrnn.validation`, tokenizing in
:mod:`skrnn.text`, the n-gram path and the blending rule in :mod:`skrnn.ngrams`,
pretrained vectors in :mod:`skrnn.embeddings`, the network in
:mod:`skrnn.keras_model`, TensorFlow at run time in :mod:`skrnn._tensorflow`,
the training loop's rules in :mod:`skrnn.training` and saving in
:mod:`skrnn._persistence`.

TensorFlow and Keras are imported on first use (``fit``, ``predict``,
``load``, unpickling a fitted estimator), never when this module is imported.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from numbers import Integral, Real
from pathlib import Path
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import ngrams as ngrams_module
from ._persistence import CONFIG_FILE, IncompatibleFileError, SavedFolderMixin
from ._tensorflow import (
    keras_model_module,
    load_model_file,
    model_from_bytes,
    model_to_bytes,
    num_replicas,
    quiet,
)
from .embeddings import embedding_matrix
from .text import WordTokenizer, read_token_ids, truncate
from .training import HISTORY_ATTRIBUTES, TrainingRun, read_history, reset_history
from .validation import (
    check_classes,
    check_ngram_range,
    check_sample_weight,
    check_token_ids,
    check_X,
    check_y,
    encode_labels,
    split_for_validation,
)

__all__ = ["LSTMSentimentClassifier"]

_MODEL_FILE = "model.keras"
_NGRAM_FILE = "ngrams.npz"
PATHS = ("both", "lstm", "ngrams")
# max_iter="auto": enough epochs to see about this many documents, at most _AUTO_MAX_EPOCHS.
_AUTO_EPOCH_DOCUMENTS = 20000
_AUTO_MAX_EPOCHS = 10
# predict_proba tokenizes and scores this many documents at a time (bounded memory).
_PREDICT_CHUNK = 65536


def _keras_model_module(verbose=0):
    """:func:`skrnn._tensorflow.keras_model_module`, under the name benchmarks and tests use."""
    return keras_model_module(verbose)


class LSTMSentimentClassifier(SavedFolderMixin, ClassifierMixin, BaseEstimator):
    """LSTM text classifier (Keras 3, TensorFlow backend) that takes raw text.

    By default (``paths="both"``) two paths read each document and their
    scores are blended:

    * **the n-gram path** reads the whole document: its binarized, hashed
      word n-grams are weighted by their naive-Bayes log-count ratios
      (smoothing 2), the weighted vector is scaled to unit length, and a
      logistic regression (``C=ngram_C``) scores it (an L2-normalised NB-LR;
      compare :func:`skrnn.make_nb_baseline`). It trains on all the data;
    * **the LSTM** reads the first ``maxlen`` tokens: a word vocabulary is
      learnt from the documents (:class:`skrnn.text.WordTokenizer`), then
      ``Embedding -> SpatialDropout1D -> [Bidirectional] LSTM (x n_layers) ->
      masked pooling over time -> Dropout -> Dense`` is trained with Adam.
      With ``early_stopping`` it holds out ``validation_fraction`` of the data
      to score each epoch.

    A fixed rule blends them: for two classes, ``predict_proba`` is
    ``sigmoid(s + lstm_weight * logit(p))``, where ``s`` is the n-gram
    score and ``p`` the LSTM's probability; for more classes (one-vs-rest
    n-gram scores ``s_k``), ``softmax(s_k + lstm_weight * log(p_k))``.

    ``X`` is a list, array or pandas Series of strings, or token ids: a list
    of integer sequences (as ``keras.datasets.imdb.load_data()`` returns) or a
    2-D integer array, with 0 as padding and ids ``>= max_features`` read as
    the out-of-vocabulary id 1. An estimator fitted on ids predicts from ids.
    TensorFlow is imported on first use; with ``verbose=0`` nothing is
    printed.

    Parameters
    ----------
    max_features : int, default=20000
        Size of the token-id space, padding and out-of-vocabulary ids
        included: the most embedding rows there can be (raw text gets one per
        word found, when fewer).
    maxlen : int or None, default=256
        Tokens the LSTM reads per document at most (``None``: all); the
        n-gram path reads whole documents.
    truncating : {"pre", "post"}, default="post"
        Where to cut longer documents, as in ``keras.utils.pad_sequences``:
        ``"post"`` keeps the beginning, ``"pre"`` the end.
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
        mean over time, concatenated, one of them, or the final state.
    dropout : float, default=0.0
        Dropout on the LSTM inputs (Keras ``LSTM(dropout=...)``).
    recurrent_dropout : float, default=0.0
        Dropout on the recurrent state. Any non-zero value disables the fused
        LSTM kernel (cuDNN on a GPU).
    embedding_dropout : float, default=0.4
        Rate of ``SpatialDropout1D`` on the embeddings (whole channels),
        bigram embeddings included.
    output_dropout : float, default=0.5
        Dropout on the pooled document vector, before the output layer.
    bigram_buckets : int, default=0
        0 (none) or the number of buckets of a hashed bigram branch inside the
        network: consecutive token pairs are hashed, embedded in
        ``bigram_dim`` dimensions, averaged over the document and
        concatenated with the LSTM's pooled outputs.
    bigram_dim : int, default=64
        Width of the bigram embeddings.
    batch_size : int, default=32
        Documents per training batch; under a ``tf.distribute`` strategy, the
        global batch, a multiple of the number of replicas.
    max_iter : int or "auto", default="auto"
        Maximum number of epochs of the LSTM. ``"auto"``: enough to see about
        20,000 documents, at least 1 and at most 10.
    learning_rate : float, default=0.002
        Adam's learning rate.
    ema_momentum : float or None, default=None
        Keep an exponential moving average of the weights (Adam's ``use_ema``)
        and use it from the end of every epoch on: validation, early stopping
        and prediction see the averaged weights.
    validation_fraction : float, default=0.1
        Fraction of the training data held out (stratified) when
        ``early_stopping`` validates the LSTM after every epoch, or to choose
        ``ngram_C="auto"``; otherwise nothing is held out.
    early_stopping : bool, default=True
        Stop training the LSTM once its validation accuracy has not improved
        by more than ``tol`` for ``n_iter_no_change`` epochs in a row, and
        restore the best epoch's weights. The LSTM then trains on the data
        not held out; the n-gram path still trains on all of it.
    n_iter_no_change : int, default=3
        Epochs without improvement before early stopping ends training.
    tol : float, default=1e-4
        The least increase of the validation accuracy that is an improvement.
    max_time : float or None, default=None
        Seconds of LSTM training allowed per ``fit`` or ``partial_fit`` call;
        training stops after the batch that exceeds them. ``None``: no limit.
    class_weight : dict, "balanced" or None, default=None
        Weights per class (keys are the original labels), multiplied into
        ``sample_weight``.
    lowercase : bool, default=True
        Lower-case documents before tokenizing.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, shuffling and the validation
        split; an int gives identical predictions from identical data on CPU.
        Global random state is left untouched.
    verbose : {0, 1, 2}, default=0
        0 prints nothing; 1 and 2 show a progress bar per epoch (``Epoch
        n/N``, training loss, validation score); 2 also while predicting.
    warm_start : bool, default=False
        When fitted already, ``fit`` trains the existing network and
        vocabulary for ``max_iter`` more epochs and keeps the n-gram path.
    paths : {"both", "lstm", "ngrams"}, default="both"
        The LSTM and the n-gram path blended, or one of them alone.
    lstm_weight : float, default=0.2
        Weight of the LSTM's log-odds (log-probabilities for more than two
        classes) added to the n-gram path's score with ``paths="both"``; 0
        predicts with the n-gram path alone. Read at prediction time: no
        refit is needed after changing it.
    ngram_range : tuple (min_n, max_n), default=(1, 3)
        Word n-grams of the n-gram path.
    ngram_C : float or "auto", default=30.0
        Inverse regularisation strength of the n-gram path's logistic
        regression; ``"auto"`` picks it from 1, 3, 10, 30 and 100 by ROC AUC
        on the held-out part (a random split), then keeps the path fitted on
        the rest: prefer a fixed value when documents come in related groups
        (the user guide explains).
    embeddings : str, path, mapping, KeyedVectors or None, default=None
        Pretrained word vectors for the LSTM's embedding (raw text only): a
        GloVe or word2vec text file, a mapping from words to vectors, or a
        gensim ``KeyedVectors``. Words without a vector start random; the
        vectors' width replaces ``embedding_dim``. ``save`` records a path,
        not vectors in memory.
    train_embeddings : bool, default=True
        Fine-tune the word embeddings; ``False`` keeps them frozen.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    tokenizer_ : WordTokenizer or None
        The fitted tokenizer; ``None`` when fitted on token ids.
    model_ : keras.Model or None
        The trained network, taking right-padded ``int32`` ids ``(batch,
        time)``; ``None`` with ``paths="ngrams"``.
    paths_ : str
        The paths the fitted model uses (``"lstm"`` after ``partial_fit``).
    ngram_coef_ : scipy.sparse.csr_matrix or None
        The n-gram path's weights over the hashed n-grams, one row (two
        classes) or one per class, naive-Bayes ratios folded in (``v * r``);
        ``None`` without the path.
    ngram_norms_ : scipy.sparse.csr_matrix or None
        The squared naive-Bayes ratios ``r ** 2``, same shape: a document
        ``x`` scores ``(x . ngram_coef_[k]) / sqrt(x . ngram_norms_[k]) +
        ngram_intercept_[k]``.
    ngram_intercept_ : ndarray or None
    ngram_C_ : float or None
        The ``C`` the n-gram path was fitted with.
    n_iter_ : int
        Epochs of the LSTM in all, over warm starts and ``partial_fit`` calls;
        an epoch counts once one batch of it trained.
    loss_curve_ : list of float
        The training loss of each of those epochs.
    time_curve_ : list of float
        Cumulated seconds of training at the end of each of those epochs.
    validation_scores_ : list of float or None
        The LSTM's accuracy on the held-out part after each epoch of the last
        call; ``None`` when nothing was held out.
    best_validation_score_ : float or None
        The best of ``validation_scores_``.
    best_iter_ : int or None
        Its epoch, counted as ``n_iter_``; early stopping keeps its weights.
    fit_time_ : float or None
        Seconds the last call spent training the LSTM.
    input_kind_ : {"text", "ids"}
        What ``fit`` was given: raw documents or token-id sequences.

    See Also
    --------
    skrnn.make_tfidf_baseline : TF-IDF + LogisticRegression on the same input.
    skrnn.make_nb_baseline : the NB-weighted n-gram model alone, as a pipeline.

    Notes
    -----
    The user guide (``docs/user_guide/sentiment.md``) details the accepted
    input, faults during training, and saving and loading safely.

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

    _parameter_constraints: ClassVar[dict] = {
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
        "lstm_weight": [Interval(Real, 0, None, closed="left")],
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
        lstm_weight=0.2,
        ngram_range=(1, 3),
        ngram_C=30.0,
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
        self.lstm_weight = lstm_weight
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

    # --------------------------------------------------------------- reading
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
        """What each path reads from ``items`` (checked by :func:`~skrnn.validation.check_X`).

        Returns ``(sequences, X_ngrams)``: the LSTM's truncated int32 id arrays
        (never empty; ``None`` without ``lstm``) and the n-gram path's binary
        hashed n-grams of the whole documents (``None`` without ``ngrams``).
        With ``fit_tokenizer`` (and ``lstm``), the vocabulary is learnt first.
        ``token_lists`` (raw text only) are the documents already tokenized;
        raw text is tokenized once for both paths.
        """
        sequences = None
        if kind == "ids":
            sequences = read_token_ids(check_token_ids(items, offset=offset), self.max_features)
            if fit_tokenizer:
                self.tokenizer_ = None
                if not any(len(seq) for seq in sequences):
                    raise ValueError(
                        f"Every sequence in X is empty or only padding (id 0): all "
                        f"{len(sequences)} sequences have no token to learn from. Pass sequences "
                        "with ids >= 1."
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
                        f"No document in X has a token: all {len(items)} documents are empty or "
                        "hold no words (tokens are runs of letters or digits, plus '!' and '?'). "
                        "Pass documents with text."
                    )
            sequences = self.tokenizer_._encode_tokens(token_lists)
        elif token_lists is None:
            token_lists = self._tokenize(items)
        X_ngrams = None
        if ngrams:
            X_ngrams = ngrams_module.ngram_features(
                self.ngram_range,
                sequences=sequences,
                token_lists=None if kind == "ids" else token_lists,
            )
        if not lstm:
            return None, X_ngrams
        return truncate(sequences, self.maxlen, self.truncating), X_ngrams

    def _tokenize(self, documents):
        """Raw documents as token lists, by the tokenizer's rule (no vocabulary needed)."""
        tokenizer = getattr(self, "tokenizer_", None) or WordTokenizer(lowercase=self.lowercase)
        return [tokenizer.tokenize(doc) for doc in documents]

    def _targets(self, y_encoded):
        return y_encoded.astype(np.float32 if len(self.classes_) == 2 else np.int32)

    # ---------------------------------------------------------------- checks
    def _check_params_for_fit(self):
        """Checks that ``_parameter_constraints`` cannot express."""
        if self.bigram_buckets == 1:
            raise ValueError("bigram_buckets must be 0 (no bigram branch) or at least 2, got 1.")
        check_ngram_range(self.ngram_range)

    def _check_replicas(self, reuse_model):
        """The number of replicas that will train (1 outside a ``tf.distribute``
        strategy's scope), checked against ``batch_size``."""
        n = num_replicas(self.model_ if reuse_model else None)
        if self.batch_size % n:
            raise ValueError(
                f"batch_size={self.batch_size} is not a multiple of the {n} replicas of the "
                "tf.distribute strategy that trains this model: batch_size is the global batch, "
                f"split evenly across the replicas. Use a multiple of {n}, e.g. "
                f"batch_size={-(-self.batch_size // n) * n}."
            )
        return n

    # ----------------------------------------------------------------- model
    def _release_model(self):
        """Drop this estimator's Keras model so its memory can be freed."""
        if getattr(self, "model_", None) is not None:
            del self.model_
            gc.collect()

    def _forget_fit(self):
        """Back to the unfitted state (after a fit that produced no usable model)."""
        self._release_model()
        for attr in (
            *HISTORY_ATTRIBUTES,
            "tokenizer_",
            "classes_",
            "input_kind_",
            "paths_",
            "ngram_coef_",
            "ngram_norms_",
            "ngram_intercept_",
            "ngram_C_",
        ):
            self.__dict__.pop(attr, None)

    def _n_embedding_rows(self):
        """Rows of the embedding: one per id in use (padding and unknown words included), at
        most ``max_features``, so that a small vocabulary gets a small table."""
        n_ids = (
            self.max_features if self.tokenizer_ is None else len(self.tokenizer_.vocabulary) + 2
        )
        return min(n_ids, self.max_features)

    def _build_model(self, seed):
        km = keras_model_module(self.verbose)
        n_classes, n_ids = len(self.classes_), self._n_embedding_rows()
        embedding_dim, weights = self.embedding_dim, None
        if self.embeddings is not None:
            weights, embedding_dim = embedding_matrix(self.embeddings, self.tokenizer_, n_ids, seed)
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

    def _train(self, sequences, targets, sample_weight, *, new_model, epochs, rng, validation=None):
        """Up to ``epochs`` epochs of the LSTM, under :class:`skrnn.training.TrainingRun`."""
        km = keras_model_module(self.verbose)
        model = self.model_
        epoch, n_batches, validate = km.training_epochs(
            model,
            sequences,
            targets,
            sample_weight,
            batch_size=self.batch_size,
            seed=int(rng.randint(np.iinfo(np.int32).max)),
            validation=validation,
        )
        run = TrainingRun(
            self,
            new_model=new_model,
            get_weights=model.get_weights,
            set_weights=model.set_weights,
            checkpoint=model.get_weights,
            restore=partial(km.set_weights_repairing_optimizer, model),
            forget=self._forget_fit,
            # Keras's and TensorFlow's own messages are quietened; the run's warnings are not.
            validate=None if validate is None else quiet(self.verbose)(validate),
            max_iter=epochs,
            early_stopping=self.early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            max_time=self.max_time,
            verbose=self.verbose,
            advice=f"Lower learning_rate (now {self.learning_rate}) and check sample_weight and "
            "class_weight for extreme values.",
        )
        with run:
            run.epochs(quiet(self.verbose)(epoch), n_batches)

    # ------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Learn the vocabulary (for raw text) and train the paths.

        The n-gram path trains on all the data. With ``early_stopping`` (the
        default), ``validation_fraction`` of the data is held out
        (stratified) and the LSTM trains on the rest, validated on it after
        each epoch; ``ngram_C="auto"`` holds out the same part to choose
        ``C``, and then fits the n-gram path on the rest.

        ``KeyboardInterrupt`` during training stops it and returns the fitted
        estimator with a warning; a non-finite loss stops it too (see the
        user guide).

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
        kind, items = check_X(X)
        y = check_y(y, len(items))
        sample_weight = check_sample_weight(sample_weight, len(items), y, self.class_weight)
        if warm:
            if kind != self.input_kind_:
                raise ValueError(
                    f"warm_start: this estimator was fitted on {self.input_kind_}, got {kind}."
                )
            y_encoded = encode_labels(y, self.classes_, "warm_start: the first fit's")
            sequences, X_ngrams = self._read(items, kind)  # the n-gram path is kept
        else:
            encoder = LabelEncoder().fit(y)
            if len(encoder.classes_) < 2:
                raise ValueError(
                    f"y has a single class ({_to_json_scalar(encoder.classes_[0])!r}): a "
                    "classifier needs at least two classes."
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

        model_seed = int(rng.randint(np.iinfo(np.int32).max // 1000))
        split_seed = int(rng.randint(np.iinfo(np.int32).max))
        if warm:
            # Same validation split as the first fit, fresh shuffling and dropout.
            rng = np.random.RandomState(
                (int(rng.randint(np.iinfo(np.int32).max)) + self.n_iter_) % 2**31
            )
        all_idx = train_idx = np.arange(len(y_encoded))
        val_idx = None
        if (use_lstm and self.early_stopping) or (use_ngrams and self.ngram_C == "auto"):
            try:
                train_idx, val_idx = split_for_validation(
                    y_encoded, self.validation_fraction, split_seed, n_replicas if use_lstm else 1
                )
            except ValueError:
                if not warm:
                    self._forget_fit()
                raise
        targets = self._targets(y_encoded)

        if use_ngrams and not warm:
            ngram_idx = train_idx if self.ngram_C == "auto" else all_idx
            sw = None if sample_weight is None else sample_weight[ngram_idx]
            self._fit_ngrams(X_ngrams, y_encoded, ngram_idx, val_idx, sw)
        del X_ngrams
        if use_lstm:
            validation = None
            if not self.early_stopping:
                train_idx = all_idx
            elif val_idx is not None:
                validation = ([sequences[i] for i in val_idx], targets[val_idx])
            sw_train = None if sample_weight is None else sample_weight[train_idx]
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
            reset_history(self)
        if not use_ngrams:
            self.ngram_coef_ = self.ngram_norms_ = self.ngram_intercept_ = self.ngram_C_ = None
        self.paths_ = self.paths
        return self

    def _n_epochs(self, n_train):
        """``max_iter``, or with ``"auto"`` enough epochs to see about ``_AUTO_EPOCH_DOCUMENTS``
        documents, at least 1 and at most ``_AUTO_MAX_EPOCHS``."""
        if self.max_iter != "auto":
            return self.max_iter
        return int(np.clip(round(_AUTO_EPOCH_DOCUMENTS / max(n_train, 1)), 1, _AUTO_MAX_EPOCHS))

    def _fit_ngrams(self, X, y_encoded, train_idx, val_idx, sample_weight):
        """Fit the n-gram path on ``train_idx``, choosing ``C`` on ``val_idx`` with ``"auto"``."""
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        (
            self.ngram_C_,
            self.ngram_coef_,
            self.ngram_norms_,
            self.ngram_intercept_,
        ) = ngrams_module.fit_ngram_path(
            X, y_encoded, len(self.classes_), train_idx, val_idx, self.ngram_C, sample_weight, seed
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on ``(X, y)``, without early stopping.

        The first call builds the network and, for raw text, learns the
        vocabulary from this first ``X`` (it stays fixed afterwards). Later
        calls continue training. Only the LSTM path trains this way (the
        n-gram path needs all the data at once): a model started with
        ``partial_fit`` predicts with the LSTM alone (``paths_ == "lstm"``);
        after a ``fit``, ``partial_fit`` continues the LSTM and keeps the
        n-gram path ``fit`` trained.

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
        if getattr(self, "paths_", None) == "ngrams" and self.model_ is None:
            raise ValueError(
                "partial_fit trains the LSTM, and this estimator was fitted with paths='ngrams' "
                "(no network; its n-gram path learns from all the data at once). Call fit again, "
                "or fit with paths='both' or 'lstm' before partial_fit."
            )
        first = getattr(self, "model_", None) is None
        self._check_replicas(not first)
        kind, items = check_X(X)
        y = check_y(y, len(items))
        self.classes_ = check_classes(classes, None if first else self.classes_)
        if not first and kind != self.input_kind_:
            raise ValueError(
                f"partial_fit: this estimator was fitted on {self.input_kind_}, got {kind}; keep "
                "the same kind of X."
            )
        try:
            y_encoded = encode_labels(y, self.classes_, "the" if first else "the first call's")
            sample_weight = check_sample_weight(sample_weight, len(items), y, self.class_weight)
            sequences = self._read(items, kind, fit_tokenizer=first)[0]
        except BaseException:
            if first:
                self._forget_fit()
            raise
        del items
        rng = check_random_state(self.random_state)
        if first:
            self.input_kind_ = kind
            self.model_ = self._build_model(int(rng.randint(np.iinfo(np.int32).max // 1000)))
            # The n-gram path learns from all the data at once: partial_fit trains the LSTM alone.
            self.paths_ = "lstm"
            self.ngram_coef_ = self.ngram_norms_ = self.ngram_intercept_ = self.ngram_C_ = None
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

        Documents are tokenized and scored in chunks of ``_PREDICT_CHUNK``
        (65,536) documents, so memory stays bounded by the chunk, not by
        ``len(X)``, apart from the result itself.

        Parameters
        ----------
        X : iterable of str, or iterable of int sequences

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; also two columns for binary problems.
        """
        check_is_fitted(self, "model_")
        kind, items = check_X(X)
        proba = np.empty((len(items), len(self.classes_)), dtype=np.float64)
        for start in range(0, len(items), _PREDICT_CHUNK):
            chunk = items[start : start + _PREDICT_CHUNK]
            token_lists = self._tokenize(chunk) if kind == "text" else None
            sequences = None
            if self.model_ is not None:
                sequences = self._read(chunk, kind, offset=start, token_lists=token_lists)[0]
            if getattr(self, "ngram_coef_", None) is None:
                proba[start : start + len(chunk)] = self._lstm_proba(sequences)
                continue
            with ThreadPoolExecutor(max_workers=1) as pool:
                # TensorFlow releases the GIL: the network scores while this thread reads n-grams.
                lstm = None if sequences is None else pool.submit(self._lstm_proba, sequences)
                ngram = self._ngram_scores(chunk, kind, start, token_lists)
                lstm = None if lstm is None else lstm.result()
            proba[start : start + len(chunk)] = ngrams_module.blend_proba(
                ngram, lstm, self.lstm_weight
            )
            del sequences, token_lists, ngram, lstm
        return proba

    def _ngram_scores(self, chunk, kind, offset, token_lists):
        """The n-gram path's decision values ``(n_samples, n_outputs)`` for documents ``chunk``."""
        X_ngrams = self._read(
            chunk, kind, offset=offset, lstm=False, ngrams=True, token_lists=token_lists
        )[1]
        return ngrams_module.ngram_scores(
            X_ngrams, self.ngram_coef_, self.ngram_norms_, self.ngram_intercept_
        )

    def _lstm_proba(self, sequences):
        """The network's class probabilities ``(n_samples, n_classes)`` for id sequences."""
        km = keras_model_module(self.verbose)
        with quiet(self.verbose):
            verbose = 1 if self.verbose == 2 else 0
            return km.predict_proba(self.model_, sequences, len(self.classes_), verbose)

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
    # the n-gram path's weights and norms, sparse (when used), estimator.json
    # the parameters (lstm_weight among them), classes, the tokenizer's
    # vocabulary and the history. load() reads them with Keras's safe_mode and NumPy without
    # pickle, so loading runs no stored code.
    _fitted_attribute = "model_"

    def __getstate__(self):
        state = super().__getstate__()  # a copy, with the format version
        model = state.pop("model_", None)
        if model is not None:
            state["_keras_model_bytes"] = model_to_bytes(model)
        elif "model_" in self.__dict__:  # fitted with paths="ngrams": no network
            state["model_"] = None
        return state

    def __setstate__(self, state):
        state = dict(state)
        if state.get("combiner_") is not None:
            raise IncompatibleFileError(
                "This pickle was written by a development version of skrnn whose n-gram path and "
                "combiner this version no longer reads: fit the estimator and save it again."
            )
        data = state.pop("_keras_model_bytes", None)
        super().__setstate__(state)
        if data is not None:
            self.model_ = model_from_bytes(data, type(self).__name__, state.get("verbose", 0))

    def _saved_config(self):
        return {
            "params": _params_to_json(self.get_params(deep=False)),
            "classes": [_to_json_scalar(c) for c in self.classes_.tolist()],
            "classes_dtype": self.classes_.dtype.str if self.classes_.dtype != object else "object",
            "input_kind": self.input_kind_,
            "tokenizer": None if self.tokenizer_ is None else self.tokenizer_.to_config(),
            "fitted": {key: getattr(self, key) for key in HISTORY_ATTRIBUTES},
            "paths": self.paths_,
            "ngram_C": self.ngram_C_,
        }

    def _save_files(self, folder):
        if self.model_ is not None:
            with quiet(0):
                self.model_.save(folder / _MODEL_FILE)
        if self.ngram_coef_ is not None:
            ngrams_module.save_ngram_weights(
                folder / _NGRAM_FILE, self.ngram_coef_, self.ngram_norms_, self.ngram_intercept_
            )

    @classmethod
    def _from_saved(cls, path, config):
        path = Path(path)
        config_file = path / CONFIG_FILE
        if config.get("combiner") is not None:
            raise IncompatibleFileError(
                f"{path} was saved by a development version of skrnn whose n-gram path and "
                "combiner this version no longer reads: fit the estimator and save it again."
            )
        try:
            est = cls(**_params_from_json(config["params"]))
            est._validate_params()
            est.classes_ = np.asarray(config["classes"], dtype=config["classes_dtype"])
            est.input_kind_ = config["input_kind"]
            # Saves from before the n-gram path hold the LSTM alone.
            est.paths_ = config.get("paths", "lstm")
            has_tokenizer = config["tokenizer"] is not None
            if est.input_kind_ not in ("text", "ids") or (
                est.paths_ != "ngrams" and (est.input_kind_ == "text") != has_tokenizer
            ):
                raise ValueError(
                    f"input_kind {est.input_kind_!r} does not match the tokenizer entry"
                )
            if est.classes_.ndim != 1 or len(est.classes_) < 2:
                raise ValueError(
                    f"classes must list at least two labels, got {config['classes']!r}"
                )
            est.tokenizer_ = (
                WordTokenizer.from_config(config["tokenizer"]) if has_tokenizer else None
            )
            read_history(est, config)
            if est.paths_ not in PATHS:
                raise ValueError(f"paths {est.paths_!r} is not one of {PATHS}")
            est.ngram_C_ = config.get("ngram_C")
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise IncompatibleFileError(
                f"{config_file} is damaged or incomplete ({type(exc).__name__}: {exc}); save the "
                "estimator again."
            ) from None
        est.ngram_coef_ = est.ngram_norms_ = est.ngram_intercept_ = est.model_ = None
        if est.paths_ != "lstm":
            est.ngram_coef_, est.ngram_norms_, est.ngram_intercept_ = (
                ngrams_module.read_ngram_weights(path / _NGRAM_FILE, path)
            )
            if est.ngram_coef_.shape[0] != (1 if len(est.classes_) == 2 else len(est.classes_)):
                raise IncompatibleFileError(
                    f"{path / _NGRAM_FILE} holds {est.ngram_coef_.shape[0]} n-gram outputs for "
                    f"{len(est.classes_)} classes; the save is damaged."
                )
        if est.paths_ != "ngrams":
            est.model_ = load_model_file(
                path / _MODEL_FILE,
                config_file,
                n_classes=len(est.classes_),
                n_ids=est._n_embedding_rows(),
                verbose=est.verbose,
            )
        return est


def _to_json_scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _params_to_json(params):
    """The parameters as ``estimator.json`` records them (see :func:`_params_from_json`)."""
    params = dict(params, ngram_range=list(params["ngram_range"]))
    if params["embeddings"] is not None:
        # A path is recorded; vectors in memory are not (the model holds the trained embedding).
        embeddings = params["embeddings"]
        params["embeddings"] = (
            os.fspath(embeddings) if isinstance(embeddings, (str, os.PathLike)) else None
        )
    if isinstance(params["class_weight"], dict):  # keys may be ints or bools: stored as pairs
        pairs = [[_to_json_scalar(k), float(v)] for k, v in params["class_weight"].items()]
        params["class_weight"] = {"__pairs__": pairs}
    random_state = params["random_state"]
    params["random_state"] = int(random_state) if isinstance(random_state, Integral) else None
    return params


def _params_from_json(params):
    params = dict(params)
    if "ngram_range" in params:
        params["ngram_range"] = tuple(params["ngram_range"])
    class_weight = params.get("class_weight")
    if isinstance(class_weight, dict) and "__pairs__" in class_weight:
        params["class_weight"] = {k: v for k, v in class_weight["__pairs__"]}
    return params
