"""``CharRNNGenerator``: a character-level recurrent language model with the scikit-learn API.

The math lives in :mod:`skrnn.rnn` (pure NumPy); this module turns text into
ids (:class:`skrnn.text.CharVocabulary`), runs batched truncated
back-propagation through time, keeps the training history, and offers
sampling, next-character prediction and likelihood scoring.
"""

from __future__ import annotations

import copy
import math
import warnings
from functools import partial
from numbers import Integral, Real
from pathlib import Path
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._persistence import SavedFolderMixin, read_arrays
from .rnn import OPTIMIZERS, CharRNN, parallel, tbptt
from .rnn.inference import log_likelihood_sum, next_symbol_logits
from .rnn.sampling import check_sampling_args, sample_ids, two_processes_pay
from .rnn.saving import copy_checked, network_arrays, network_config, read_network
from .text import CharVocabulary, check_documents
from .training import HISTORY_ATTRIBUTES, TrainingRun, read_history
from .validation import is_int

__all__ = ["CharRNNGenerator"]

_WEIGHTS_FILE = "weights.npz"


def _as_generator(random_state):
    """A ``numpy.random.Generator`` from None, an int, a RandomState or a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (Integral, np.integer)):
        return np.random.default_rng(random_state)
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed)


class CharRNNGenerator(SavedFolderMixin, BaseEstimator):
    """Character-level recurrent language model (RNN, LSTM or GRU) written in NumPy.

    It learns ``p(next character | previous characters)`` from text by batched
    truncated back-propagation through time: the training text is cut into
    ``batch_size`` contiguous streams read side by side, ``seq_length``
    characters at a time, with the recurrent state carried from one window to
    the next. The model then :meth:`sample`\\ s new text, predicts the next
    character (:meth:`predict`, :meth:`predict_proba`) and scores text by its
    log-likelihood (:meth:`score`), so that ``GridSearchCV`` and
    ``cross_val_score`` can tune it without labels.

    Text handling: the vocabulary ``classes_`` is the sorted set of characters
    seen by the first ``fit``. Several documents are concatenated in order,
    with nothing inserted between them. Characters outside the vocabulary
    (in ``prime``, or in text given to ``score``, ``predict``, ``partial_fit``
    or a warm-started ``fit``) are skipped, with one ``UserWarning`` per call
    naming them; they never raise. Any Unicode text works, one code point per
    character: astral-plane emoji, CJK, right-to-left scripts, combining marks
    (a letter and its accent are two characters), ``"\\r\\n"`` (two
    characters) and even lone surrogates round-trip exactly.

    Training follows the rules it shares with
    :class:`~skrnn.LSTMSentimentClassifier` (:mod:`skrnn.training`; the user
    guide's "Training" section): Ctrl-C stops it with a warning and leaves a
    fitted model, a non-finite value undoes the epoch with a
    :class:`~sklearn.exceptions.ConvergenceWarning` (the model never holds
    NaN weights), and a partly trained epoch counts.

    Saving: :meth:`save` writes a folder that :meth:`load` reads back with
    JSON and ``numpy.load(allow_pickle=False)``, so loading executes no stored
    code; it includes the optimizer state, so a loaded model resumes
    ``partial_fit`` exactly. ``pickle`` and ``joblib`` work too, but
    unpickling can run arbitrary code chosen by whoever wrote the file: load
    pickles and joblib files only from a trusted source.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        Recurrent cell: LSTM, GRU, or the tanh RNN of the original min-char-rnn.
    hidden_size : int, default=256
        Units per recurrent layer.
    n_layers : int, default=2
        Stacked recurrent layers.
    seq_length : int, default=50
        Characters per window of truncated back-propagation through time.
    batch_size : int, default=64
        Parallel streams. Clipped, with a warning, when the training text is
        too short to give every stream a full window.
    optimizer : {"adam", "adagrad"}, default="adam"
        Adam, or Adagrad as in min-char-rnn. With Adagrad use a step of about
        ``learning_rate=0.01``: min-char-rnn's 0.1 can diverge on
        batch-averaged gradients.
    learning_rate : float, default=2e-3
        Step size of the first epoch.
    lr_decay : float, default=0.9
        Epoch ``k`` (counting from 0, over ``partial_fit`` and warm-started
        ``fit`` calls too) uses ``learning_rate * lr_decay ** k``; 1.0 keeps
        the step size constant.
    clip_norm : float or None, default=5.0
        Rescale the gradient of every window to at most this global L2 norm.
    dropout : float, default=0.0
        Inverted-dropout rate on the output of every recurrent layer (the
        input of the next layer and of the softmax), in training only.
    max_iter : int, default=20
        Maximum number of epochs (passes over the training text).
    max_time : float or None, default=None
        Training budget of one ``fit`` or ``partial_fit`` in seconds, checked
        after every window (the last epoch may then be partial; its validation
        pass still runs).
    validation_fraction : float, default=0.1
        Fraction of the text held out as validation data: the contiguous
        *tail* of the concatenated documents. 0 disables validation.
    early_stopping : bool, default=True
        Stop when the validation score has not improved by at least ``tol``
        for ``n_iter_no_change`` epochs, and keep the weights of the best
        epoch (the optimizer state, used by ``partial_fit`` and
        ``warm_start``, stays that of the last epoch). Needs
        ``validation_fraction > 0``.
    n_iter_no_change : int, default=3
        Patience of early stopping, in epochs.
    tol : float, default=1e-4
        Minimum improvement of the validation score (nats per character).
    warm_start : bool, default=False
        When true, ``fit`` continues from the fitted weights, vocabulary and
        optimizer state instead of starting afresh.
    n_jobs : int or None, default=None
        Processes for :meth:`fit`, :meth:`partial_fit` and :meth:`sample`.
        None means 1 unless in a ``joblib.parallel_config`` context; -1 means
        every CPU this process may use (affinity and cgroup quota). One job
        is this process alone, whose BLAS uses up to 2 threads; it starts no
        other process. From 2, a second, forked process shares the work of
        large enough models (see Notes); more than 2 are not used.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the dropout masks: the same seed and
        text give the same weights on the same machine (and, with the same
        ``random_state`` given to :meth:`sample`, the same samples). The
        dropout masks do not depend on ``n_jobs``; the weights trained on one
        or two processes are equal to rounding, not bit for bit (the halves'
        gradients are summed in another order). Sampling gives the same text
        for every ``n_jobs``.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar per epoch with characters per
        second, training and validation loss; 2 also prints a short sample
        after every epoch.

    Attributes
    ----------
    classes_ : ndarray of str, shape (n_classes,)
        The vocabulary: one-character strings, sorted by code point. The
        dtype is ``<U1``, or ``object`` if the text holds the NUL character
        (which ``<U1`` arrays cannot hold).
    n_classes_ : int
    char_frequencies_ : ndarray of shape (n_classes,)
        Relative frequency of each character in the first training text: the
        next-character distribution for an empty context.
    loss_curve_ : list of float
        Mean training loss of every epoch, in nats per character (with dropout
        active).
    time_curve_ : list of float
        Cumulative training seconds at the end of every epoch, counted like
        ``loss_curve_``.
    validation_scores_ : list of float or None
        Validation score after every epoch of the last ``fit``: the mean
        log-likelihood of the held-out tail in nats per character, i.e. the
        *negative* validation loss (higher is better). None without
        validation. An interrupted epoch has none.
    best_validation_score_ : float or None
        The highest of ``validation_scores_``.
    best_iter_ : int or None
        The epoch (1-based, counted like ``n_iter_``) that reached it.
    n_iter_ : int
        Epochs run, over all ``fit`` / ``partial_fit`` calls since the weights
        were initialised.
    n_chars_seen_ : int
        Training characters processed so far.
    n_train_chars_ : int
        Characters of the last training text (after the validation split).
    fit_time_ : float
        Seconds of training (validation included) in the last ``fit`` or
        ``partial_fit``.

    See Also
    --------
    skrnn.text.CharVocabulary : the character-to-id mapping.
    skrnn.rnn.CharRNN : the NumPy network underneath.

    Notes
    -----
    The defaults (a 2-layer LSTM of 256 units, 0.87M parameters, Adam with a
    decaying step) are sized for Tiny Shakespeare on a small CPU
    (``benchmarks/char_rnn_quality.py``; figures in the benchmarks page).
    Longer training of larger models benefits from ``dropout`` (0.2-0.5).

    Threads and processes: ``fit`` uses up to 2 BLAS threads, never more
    than the limit in force when it starts. With ``n_jobs=2`` a second,
    forked process shares the work of large enough models; it lives only as
    long as the call, dies with its parent, and is dropped when it stops
    paying. A second process that dies, fails or stops answering raises
    :class:`skrnn.rnn.SecondProcessError` (a ``RuntimeError``); the estimator
    keeps the weights of its last completed window. The user guide's
    "n_jobs" section has the details and the measured gains.

    Inference (``predict``, ``predict_proba``, ``score``,
    ``bits_per_character``, ``perplexity``, ``sample``) keeps its work
    arrays per call: one fitted model can serve many threads at once, with
    the same results as one call at a time.

    Examples
    --------
    >>> from skrnn import CharRNNGenerator
    >>> text = "hello world " * 100
    >>> model = CharRNNGenerator(hidden_size=32, n_layers=1, seq_length=12, batch_size=8,
    ...                          learning_rate=1e-2, lr_decay=1.0, dropout=0.0, max_iter=40,
    ...                          validation_fraction=0.0, early_stopping=False,
    ...                          random_state=0).fit(text)
    >>> model.sample(11, prime="hello ", temperature=0)
    'world hello'
    >>> model.predict(["hello worl"])
    array(['d'], dtype='<U1')
    >>> model.score("hello world hello world") > -0.5
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "cell": [StrOptions({"rnn", "lstm", "gru"})],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "seq_length": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions({"adam", "adagrad"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "lr_decay": [Interval(Real, 0, 1, closed="right")],
        "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "n_jobs": [
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        cell="lstm",
        hidden_size=256,
        n_layers=2,
        seq_length=50,
        batch_size=64,
        optimizer="adam",
        learning_rate=2e-3,
        lr_decay=0.9,
        clip_norm=5.0,
        dropout=0.0,
        max_iter=20,
        max_time=None,
        validation_fraction=0.1,
        early_stopping=True,
        n_iter_no_change=3,
        tol=1e-4,
        warm_start=False,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.seq_length = seq_length
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.clip_norm = clip_norm
        self.dropout = dropout
        self.max_iter = max_iter
        self.max_time = max_time
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = False
        return tags

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary and train for up to ``max_iter`` epochs.

        Training follows the rules of :mod:`skrnn.training` (history, early
        stopping, ``max_time``, interruption, divergence), which the user
        guide states for both estimators.

        Parameters
        ----------
        X : str or iterable of str
            The training text: one string, or documents that are concatenated
            in order. Its last ``validation_fraction`` is held out.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : CharRNNGenerator

        Raises
        ------
        TypeError
            If ``X`` is not text (numbers, ``None``, ``bytes``...).
        ValueError
            If a parameter is invalid, ``X`` is empty, or the text is too short
            for ``seq_length`` or for the validation split (the estimator is
            then left as it was); or if training diverges before a new model
            trained one epoch (the estimator is then unfitted).

        Warns
        -----
        UserWarning
            When training is interrupted (``KeyboardInterrupt``).
        ConvergenceWarning
            When training diverges (a non-finite loss).
        """
        documents = check_documents(X, allow_single_string=True)
        if self.early_stopping and self.validation_fraction == 0:
            raise ValueError(
                "early_stopping=True needs held-out data: set validation_fraction > 0 "
                "(e.g. 0.1) or early_stopping=False."
            )
        continuing = self.warm_start and hasattr(self, "_net")
        if continuing:
            self._check_same_architecture()
        vocab = self._vocab if continuing else CharVocabulary().fit(documents)
        ids, _ = self._encode(documents, "X", vocab)

        n_val = int(len(ids) * self.validation_fraction)
        train, val = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
        if self.validation_fraction > 0 and n_val < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {len(ids)} characters leaves "
                f"{n_val} for validation; at least 2 are needed. Use a longer text, a larger "
                "validation_fraction, or validation_fraction=0 with early_stopping=False."
            )
        streams = self._make_streams(
            train, "the training text (after the validation split)" if n_val else "X"
        )
        if not continuing:  # the data is valid: start a new model
            self._vocab = vocab
            self._initialize(ids)
        self.n_train_chars_ = len(train)
        self._train(
            streams,
            new_model=not continuing,
            max_iter=self.max_iter,
            validation=val if n_val else None,
        )
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train one more epoch on ``X``, keeping vocabulary, weights and optimizer state.

        The first call learns the vocabulary and initialises the model. There
        is no validation split and no early stopping: all of ``X`` is
        training text, and ``max_iter``/``validation_fraction`` are not used.
        ``max_time``, interruption and divergence are handled as in :meth:`fit`.

        Parameters
        ----------
        X : str or iterable of str
        y : None
            Ignored.

        Returns
        -------
        self : CharRNNGenerator

        Raises
        ------
        TypeError, ValueError
            As :meth:`fit`.
        """
        documents = check_documents(X, allow_single_string=True)
        new_model = not hasattr(self, "_net")
        if new_model:
            vocab = CharVocabulary().fit(documents)
            ids, _ = self._encode(documents, "X", vocab)
            streams = self._make_streams(ids, "X")
            self._vocab = vocab
            self._initialize(ids)
        else:
            self._check_same_architecture()
            ids, _ = self._encode(documents, "X")
            streams = self._make_streams(ids, "X")
        self.n_train_chars_ = len(ids)
        self._train(streams, new_model=new_model, max_iter=1, validation=None)
        return self

    # -------------------------------------------------------------- internals
    def _initialize(self, ids):
        """Fresh weights and optimizer for the current vocabulary."""
        self.classes_ = _classes_array(self._vocab.chars)
        self.n_classes_ = len(self.classes_)
        # bincount casts its input to int64: count in chunks of 256k ids (2 MB)
        # so that a 100 MB corpus does not briefly cost 800 MB.
        counts = np.zeros(self.n_classes_, dtype=np.float64)
        for start in range(0, len(ids), 1 << 18):
            counts += np.bincount(ids[start : start + (1 << 18)], minlength=self.n_classes_)
        self.char_frequencies_ = counts / counts.sum()
        self._rng = _as_generator(check_random_state(self.random_state))
        self._net = CharRNN(
            self.n_classes_, self.hidden_size, self.n_layers, self.cell, self.dropout
        )
        self._net.init_params(self._rng)
        self._optimizer = None
        self.n_chars_seen_ = 0

    def _forget_fit(self):
        """Back to unfitted: a new model diverged before it trained an epoch."""
        for name in [*_FITTED_ATTRIBUTES, *_SAVED_ATTRIBUTES]:
            self.__dict__.pop(name, None)

    def _train(self, streams, *, new_model, max_iter, validation):
        """Up to ``max_iter`` epochs over ``streams``, under :class:`skrnn.training.TrainingRun`."""
        if self._optimizer is None or type(self._optimizer) is not OPTIMIZERS[self.optimizer]:
            self._optimizer = OPTIMIZERS[self.optimizer](self._net.n_params)
        self._net.dropout = float(self.dropout)
        net = self._net
        run = TrainingRun(
            self,
            new_model=new_model,
            get_weights=lambda: net.params.copy(),  # params may move to shared memory
            set_weights=lambda params: np.copyto(net.params, params),
            checkpoint=lambda: (
                net.params.copy(),
                copy.deepcopy(self._optimizer),
                self.n_chars_seen_,
            ),
            restore=self._restore,
            forget=self._forget_fit,
            validate=None if validation is None else partial(self._mean_log_likelihood, validation),
            max_iter=max_iter,
            early_stopping=self.early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            max_time=self.max_time,
            verbose=self.verbose,
            advice=f"Lower learning_rate (now {self.learning_rate:g}) or set clip_norm (now "
            f"{self.clip_norm}).",
            on_epoch_end=self._print_sample if self.verbose >= 2 else None,
            unit="window",
        )
        n_windows = math.ceil(streams[0].shape[1] / self.seq_length)
        with run, parallel.window_trainer(net, self.seq_length, len(streams[0]), self.n_jobs) as tw:
            # The schedule depends only on the epochs already run, so partial_fit
            # and warm_start continue it exactly.
            run.epochs(
                lambda progress: tbptt.train_epoch(
                    net,
                    self._optimizer,
                    streams,
                    tw,
                    progress,
                    learning_rate=self.learning_rate * self.lr_decay**self.n_iter_,
                    seq_length=self.seq_length,
                    clip_norm=self.clip_norm,
                    rng=self._rng,
                    on_window=self._count_chars,
                ),
                n_windows,
            )

    def _count_chars(self, n_chars):
        self.n_chars_seen_ += n_chars

    def _restore(self, checkpoint):
        params, self._optimizer, self.n_chars_seen_ = checkpoint
        np.copyto(self._net.params, params)

    def _print_sample(self, epoch):
        print(repr(self.sample(200, random_state=epoch)), flush=True)

    def _check_same_architecture(self):
        fitted = (self._net.cell, self._net.hidden_size, self._net.n_layers)
        if (self.cell, self.hidden_size, self.n_layers) != fitted:
            raise ValueError(
                f"The fitted model has cell, hidden_size, n_layers = {fitted}; continuing it "
                f"with {(self.cell, self.hidden_size, self.n_layers)} is impossible. Set those "
                "back, "
                "or use warm_start=False (fit) to train a new model."
            )

    def _encode(self, documents, name, vocab=None):
        """Ids of the concatenated documents and the number of ids of each.

        Unknown characters are skipped with one warning for the whole call.
        """
        vocab = self._vocab if vocab is None else vocab
        ids, lengths, unknown = vocab.encode_documents(documents)
        if unknown:
            warnings.warn(
                f"{len(unknown)} character(s) of {name} are not in the vocabulary learned by fit "
                f"and were skipped: {unknown[:40]!r}.",
                UserWarning,
                stacklevel=3,
            )
        return ids, lengths

    def _make_streams(self, ids, what):
        return tbptt.make_streams(ids, self.seq_length, self.batch_size, what)

    def _mean_log_likelihood(self, ids):
        """Mean ``log p(c_t | c_<t)`` over ``ids[1:]`` in nats per character, read in one pass."""
        total, count = log_likelihood_sum(
            self._net, ids, window=self.seq_length, max_streams=self.batch_size
        )
        if count == 0:
            raise ValueError(
                f"The text has {len(ids)} character(s) in the vocabulary; at least 2 are needed "
                "to be scored "
                "(unknown characters are skipped). Score a longer text."
            )
        return total / count

    # ------------------------------------------------------------- prediction
    def _contexts(self, X):
        """Validate and encode prediction contexts: ``(ids, starts, lengths)`` of all documents."""
        check_is_fitted(self, "_net")
        ids, lengths = self._encode(check_documents(X), "X")
        return ids, np.cumsum(lengths) - lengths, lengths

    def _logit_chunks(self, ids, starts, lengths):
        """Yield ``(rows, logits)``: the next-character logits after each document, by chunks."""
        with np.errstate(divide="ignore"):
            start_logprobs = np.log(
                self.char_frequencies_
            )  # an empty context: the training frequencies
        return next_symbol_logits(
            self._net, ids, starts, lengths, start_logprobs, window=self.seq_length
        )

    def predict_proba(self, X):
        """Next-character distribution after each string of ``X``.

        Parameters
        ----------
        X : iterable of str
            Contexts (a list, array or Series of strings). An empty context
            gets ``char_frequencies_``; unknown characters are skipped with a
            warning.

        Returns
        -------
        proba : ndarray of shape (n_strings, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        TypeError, ValueError
            If ``X`` is not an iterable of strings (a lone string included).
        """
        ids, starts, lengths = self._contexts(X)
        proba = np.empty((len(lengths), self.n_classes_), dtype=np.float64)
        for rows, logits in self._logit_chunks(ids, starts, lengths):
            out = proba[rows]
            np.subtract(logits, logits.max(axis=1, keepdims=True), out=out)
            np.exp(out, out=out)
            out /= out.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X):
        """The most likely next character after each string of ``X``.

        Memory stays bounded by chunks of documents, not by ``len(X)`` times
        the vocabulary size.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        chars : ndarray of str, shape (n_strings,)

        Raises
        ------
        NotFittedError, TypeError, ValueError
            As :meth:`predict_proba`.
        """
        ids, starts, lengths = self._contexts(X)
        best = np.empty(len(lengths), dtype=np.intp)
        for rows, logits in self._logit_chunks(ids, starts, lengths):
            np.argmax(logits, axis=1, out=best[rows])
        return self.classes_[best]

    def score(self, X, y=None):
        """Mean log-likelihood per character of ``X``, in nats (higher is better).

        The documents are concatenated, as in :meth:`fit`, and every character
        after the first is predicted from all the characters before it. The
        negative of this is the usual cross-entropy loss.

        Parameters
        ----------
        X : str or iterable of str
        y : None
            Ignored.

        Returns
        -------
        score : float

        Raises
        ------
        NotFittedError
            Before ``fit``.
        TypeError, ValueError
            If ``X`` is not text, or has fewer than 2 characters in the
            vocabulary.
        """
        check_is_fitted(self, "_net")
        ids, _ = self._encode(check_documents(X, allow_single_string=True), "X")
        return self._mean_log_likelihood(ids)

    def bits_per_character(self, X):
        """Cross-entropy of ``X`` in bits per character (lower is better): ``-score(X) / ln 2``."""
        return -self.score(X) / math.log(2)

    def perplexity(self, X):
        """Per-character perplexity of ``X`` (lower is better): ``exp(-score(X))``."""
        return math.exp(-self.score(X))

    # ---------------------------------------------------------------- sampling
    def sample(
        self, n_chars, prime="", temperature=1.0, top_k=None, n_samples=1, random_state=None
    ):
        """Generate text, one character at a time.

        Parameters
        ----------
        n_chars : int
            Characters to generate; 0 gives ``""`` (or a list of ``""``).
        prime : str, default=""
            Text read first to warm up the state. It is *not* part of the
            returned text (``prime + sample`` reads on). Characters outside
            the vocabulary are skipped with a ``UserWarning``; when nothing
            known is left (or the prime is empty) the first character is
            drawn from ``char_frequencies_``.
        temperature : float, default=1.0
            Divides the logits: below 1 is more conservative, above 1 more
            varied; 0 always takes the most likely character (greedy). Must be
            finite and >= 0.
        top_k : int or None, default=None
            Draw only among the ``top_k`` most likely characters (ties with
            the ``top_k``-th included). A ``top_k`` of ``n_classes_`` or more
            keeps every character, the same as None. Ignored when greedy.
        n_samples : int, default=1
            Independent samples, generated together as one batch.
        random_state : int, RandomState instance, Generator or None, default=None
            The same value gives the same samples.

        Returns
        -------
        text : str, or list of str when ``n_samples > 1``

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            If ``n_chars`` is negative or not an integer, ``n_samples`` < 1,
            ``temperature`` negative, NaN or infinite, or ``top_k`` < 1.
        TypeError
            If ``prime`` is not a string.
        """
        check_is_fitted(self, "_net")
        check_sampling_args(n_chars, prime, temperature, top_k, n_samples, self.n_classes_)
        rng = _as_generator(random_state)
        prime_ids, _ = self._encode([prime], "prime")
        ids = self._sample_ids(
            int(n_chars), prime_ids, float(temperature), top_k, int(n_samples), rng
        )
        texts = [self._vocab.decode(row) for row in ids]
        return texts[0] if n_samples == 1 else texts

    def _sample_ids(self, n_chars, prime_ids, temperature, top_k, n_samples, rng):
        with np.errstate(divide="ignore"):
            start_logprobs = np.log(self.char_frequencies_)
        two_processes = two_processes_pay(self._net, n_chars, self.n_jobs)
        with parallel.blas_limit(1):  # vector-sized products: BLAS threads only add overhead
            return sample_ids(
                self._net.inference_copy(),
                n_chars,
                prime_ids,
                start_logprobs,
                temperature=temperature,
                top_k=top_k,
                n_samples=n_samples,
                rng=rng,
                window=self.seq_length,
                two_processes=two_processes,
                out_dtype=self._vocab.dtype,
            )

    # ------------------------------------------------------------- persistence
    # save() and load() (SavedFolderMixin): estimator.json holds the parameters,
    # the vocabulary, the network's shape, the optimizer's scalars, the dropout
    # generator's state and the history; weights.npz the weights, the
    # optimizer's moment vectors and char_frequencies_. A loaded model resumes
    # partial_fit exactly. A random_state that is a RandomState instance is
    # saved as None.
    _fitted_attribute = "_net"

    def _saved_config(self):
        params = self.get_params(deep=False)
        rs = params["random_state"]
        params["random_state"] = int(rs) if is_int(rs) else None
        return {
            "params": params,
            "vocabulary": list(self._vocab.chars),
            **network_config(self._net, self._optimizer),
            "rng_state": self._rng.bit_generator.state,
            "fitted": {key: getattr(self, key) for key in _SAVED_ATTRIBUTES},
        }

    def _save_files(self, folder):
        arrays = network_arrays(self._net, self._optimizer)
        np.savez(folder / _WEIGHTS_FILE, char_frequencies=self.char_frequencies_, **arrays)

    @classmethod
    def _from_saved(cls, path, config):
        arrays = read_arrays(Path(path) / _WEIGHTS_FILE)
        return cls(**config["params"])._restore_saved(config, arrays)

    def _restore_saved(self, config, arrays):
        """Set the fitted state from :meth:`save`'s ``config`` and ``arrays``; returns self."""
        vocab = CharVocabulary(config["vocabulary"])
        self._net, self._optimizer = read_network(config, arrays, len(vocab), self.dropout)
        self._vocab = vocab
        self.classes_ = _classes_array(vocab.chars)
        self.n_classes_ = len(self.classes_)
        self.char_frequencies_ = np.empty(self.n_classes_, dtype=np.float64)
        copy_checked(self.char_frequencies_, arrays["char_frequencies"], "char_frequencies")
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = config["rng_state"]
        read_history(self, config)
        self.n_chars_seen_ = config["fitted"]["n_chars_seen_"]
        self.n_train_chars_ = config["fitted"]["n_train_chars_"]
        return self


# Fitted state that save() writes to weights.npz or rebuilds at load.
_FITTED_ATTRIBUTES = (
    "_vocab",
    "_net",
    "_optimizer",
    "_rng",
    "classes_",
    "n_classes_",
    "char_frequencies_",
)

# Fitted attributes that JSON holds exactly (Python floats round-trip through repr).
_SAVED_ATTRIBUTES = (*HISTORY_ATTRIBUTES, "n_chars_seen_", "n_train_chars_")


def _classes_array(chars):
    """``classes_``: a ``<U1`` array, or ``object`` when NUL is a character.

    NumPy's fixed-width strings drop trailing NULs, so ``"\\x00"`` would come
    back as ``""`` from a ``<U1`` array.
    """
    return np.array(chars, dtype=object if "\x00" in chars else str)
