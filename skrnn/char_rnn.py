"""``CharRNNGenerator``: a character-level recurrent language model with the scikit-learn API.

The math lives in :mod:`skrnn.rnn` (pure NumPy); this module turns text into
ids (:class:`skrnn.text.CharVocabulary`), runs batched truncated
back-propagation through time, keeps the training history, and offers
sampling, next-character prediction and likelihood scoring.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .rnn import OPTIMIZERS, CharRNN, clip_grad_norm_
from .text import CharVocabulary, check_documents

__all__ = ["CharRNNGenerator"]

# Scoring splits long texts into parallel streams; each stream first reads this
# many characters of the text before it (not scored), so that its state is
# warm and the score matches reading the whole text in one pass.
_SCORE_WARMUP = 100
# Documents predicted together in predict_proba.
_PREDICT_BATCH = 256


def _as_generator(random_state):
    """A ``numpy.random.Generator`` from None, an int, a RandomState or a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (Integral, np.integer)):
        return np.random.default_rng(random_state)
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed)


class CharRNNGenerator(BaseEstimator):
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
    naming them; they never raise.

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
        Adam, or Adagrad as in min-char-rnn. min-char-rnn's Adagrad step of
        0.1 diverges on batch-averaged gradients (measured: vanilla RNN 500,
        batch 64, windows of 40); about ``learning_rate=0.01`` trains.
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
        Wall-clock budget of one ``fit`` in seconds, checked between windows
        (the last epoch may then be partial; its validation pass still runs).
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
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the dropout masks: the same seed and
        text give the same weights (and, with the same ``random_state`` given
        to :meth:`sample`, the same samples).
    verbose : int, default=0
        0 is silent; 1 shows a progress bar per epoch with characters per
        second, training and validation loss; 2 also prints a short sample
        after every epoch.

    Attributes
    ----------
    classes_ : ndarray of str, shape (n_classes,)
        The vocabulary: one-character strings, sorted by code point.
    n_classes_ : int
    char_frequencies_ : ndarray of shape (n_classes,)
        Relative frequency of each character in the first training text: the
        next-character distribution for an empty context.
    loss_curve_ : list of float
        Mean training loss of every epoch, in nats per character (with dropout
        active).
    time_curve_ : list of float
        Training seconds (validation included) at the end of every epoch,
        counted like ``loss_curve_``.
    validation_scores_ : list of float or None
        Validation score after every epoch: the mean log-likelihood of the
        held-out tail in nats per character, i.e. the *negative* validation
        loss (higher is better). None without validation.
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
        Seconds spent in the last ``fit`` or ``partial_fit``.

    See Also
    --------
    skrnn.text.CharVocabulary : the character-to-id mapping.
    skrnn.rnn.CharRNN : the NumPy network underneath.

    Notes
    -----
    The defaults (a 2-layer LSTM of 256 units, 0.86M parameters, Adam with a
    decaying step) are sized for Tiny Shakespeare on a small CPU: on 2 cores
    they train 20 epochs in about 12.5 minutes (~28,000 characters per
    second) and reach a validation loss of 1.52 nats per character on the
    last 10% of the text (``benchmarks/char_rnn_quality.py``). Longer
    training of larger models benefits from ``dropout`` (0.2-0.5).

    Training runs on at most 2 BLAS threads (faster than 1 on 2 cores for
    these product sizes); generation on 1.

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

    _parameter_constraints = {
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
        """
        documents = check_documents(X, allow_single_string=True)
        if self.early_stopping and self.validation_fraction == 0:
            raise ValueError(
                "early_stopping=True needs held-out data: set validation_fraction > 0 "
                "(e.g. 0.1) or early_stopping=False."
            )
        start = time.perf_counter()
        continuing = self.warm_start and hasattr(self, "_net")
        if continuing:
            self._check_same_architecture()
        vocab = self._vocab if continuing else CharVocabulary().fit(documents)
        ids = self._encode(documents, "X", vocab)

        n_val = int(len(ids) * self.validation_fraction)
        train, val = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
        if self.validation_fraction > 0 and n_val < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {len(ids)} characters leaves "
                f"{n_val} for validation; at least 2 are needed. Use a longer text, a larger "
                "validation_fraction, or validation_fraction=0 with early_stopping=False."
            )
        streams = self._make_streams(train, "the training text (after the validation split)")
        if not continuing:  # the data is valid: start a new model
            self._vocab = vocab
            self._initialize(ids)
            self.loss_curve_, self.time_curve_ = [], []
        self._sync_optimizer()
        self.n_train_chars_ = len(train)
        self.validation_scores_ = [] if n_val else None
        self.best_validation_score_ = None
        self.best_iter_ = None
        best_params, no_change = None, 0

        with threadpool_limits(limits=self._n_blas_threads()):
            for _ in range(self.max_iter):
                epoch, epoch_start = self.n_iter_ + 1, time.perf_counter()
                bar = self._progress_bar(streams, epoch)
                self._set_epoch_learning_rate()
                loss, finished = self._train_epoch(streams, bar, start)
                self.loss_curve_.append(loss)
                self.n_iter_ = epoch
                if n_val:
                    score = self._mean_log_likelihood(val)
                    self.validation_scores_.append(score)
                    if self.best_validation_score_ is None or score > self.best_validation_score_ + self.tol:
                        no_change = 0
                    else:
                        no_change += 1
                    if self.best_validation_score_ is None or score > self.best_validation_score_:
                        self.best_validation_score_, self.best_iter_ = score, epoch
                        if self.early_stopping:
                            best_params = self._net.params.copy()
                self._record_time(time.perf_counter() - epoch_start)
                if bar is not None:
                    post = {"chars/s": f"{self._epoch_rate:,.0f}", "train_loss": f"{loss:.4f}"}
                    if n_val:
                        post["val_loss"] = f"{-score:.4f}"
                    bar.set_postfix(post, refresh=False)
                    bar.close()
                if self.verbose >= 2:
                    print(repr(self.sample(200, random_state=epoch)), flush=True)
                if not finished:
                    break
                if self.early_stopping and no_change >= self.n_iter_no_change:
                    break
        if best_params is not None:
            self._net.params[...] = best_params  # the best epoch's weights
        self.fit_time_ = time.perf_counter() - start
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train one more epoch on ``X``, keeping vocabulary, weights and optimizer state.

        The first call learns the vocabulary and initialises the model. There
        is no validation split and no early stopping: all of ``X`` is
        training text, and ``max_iter``/``validation_fraction`` are not used.

        Parameters
        ----------
        X : str or iterable of str
        y : None
            Ignored.

        Returns
        -------
        self : CharRNNGenerator
        """
        documents = check_documents(X, allow_single_string=True)
        start = time.perf_counter()
        if not hasattr(self, "_net"):
            vocab = CharVocabulary().fit(documents)
            ids = self._encode(documents, "X", vocab)
            streams = self._make_streams(ids, "X")
            self._vocab = vocab
            self._initialize(ids)
            self.loss_curve_, self.time_curve_ = [], []
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_iter_ = None
        else:
            self._check_same_architecture()
            ids = self._encode(documents, "X")
            streams = self._make_streams(ids, "X")
        self._sync_optimizer()
        self.n_train_chars_ = len(ids)
        with threadpool_limits(limits=self._n_blas_threads()):
            bar = self._progress_bar(streams, self.n_iter_ + 1)
            self._set_epoch_learning_rate()
            loss, _ = self._train_epoch(streams, bar, None)
            if bar is not None:
                bar.set_postfix({"chars/s": f"{self._epoch_rate:,.0f}", "train_loss": f"{loss:.4f}"}, refresh=False)
                bar.close()
        self.loss_curve_.append(loss)
        self._record_time(time.perf_counter() - start)
        self.n_iter_ += 1
        self.fit_time_ = time.perf_counter() - start
        return self

    # -------------------------------------------------------------- internals
    def _initialize(self, ids):
        """Fresh weights, optimizer and counters for the current vocabulary."""
        self.classes_ = np.array(self._vocab.chars, dtype=str)
        self.n_classes_ = len(self.classes_)
        # bincount casts its input to int64: count in chunks so that a 100 MB
        # corpus does not briefly cost 800 MB.
        counts = np.zeros(self.n_classes_, dtype=np.float64)
        for start in range(0, len(ids), 1 << 22):
            counts += np.bincount(ids[start : start + (1 << 22)], minlength=self.n_classes_)
        self.char_frequencies_ = counts / counts.sum()
        self._rng = _as_generator(check_random_state(self.random_state))
        self._net = CharRNN(self.n_classes_, self.hidden_size, self.n_layers, self.cell, self.dropout)
        self._net.init_params(self._rng)
        self._arch = (self.cell, self.hidden_size, self.n_layers)
        self._optimizer = None
        self.n_iter_ = 0
        self.n_chars_seen_ = 0

    def _record_time(self, seconds):
        self.time_curve_.append((self.time_curve_[-1] if self.time_curve_ else 0.0) + seconds)

    def _check_same_architecture(self):
        if (self.cell, self.hidden_size, self.n_layers) != self._arch:
            raise ValueError(
                f"The fitted model has cell, hidden_size, n_layers = {self._arch}; continuing it "
                f"with {(self.cell, self.hidden_size, self.n_layers)} is impossible. Set those back, "
                "or use warm_start=False (fit) to train a new model."
            )

    def _sync_optimizer(self):
        """Create the optimizer (or a new one when ``optimizer`` changed); apply the current dropout."""
        if self._optimizer is None or type(self._optimizer) is not OPTIMIZERS[self.optimizer]:
            self._optimizer = OPTIMIZERS[self.optimizer](self._net.n_params)
        self._net.dropout = float(self.dropout)

    def _set_epoch_learning_rate(self):
        # The schedule depends only on the epochs already run, so partial_fit
        # and warm_start continue it exactly.
        self._optimizer.learning_rate = float(self.learning_rate) * float(self.lr_decay) ** self.n_iter_

    @staticmethod
    def _n_blas_threads():
        # Measured on 2 cores (LSTM 256, batch 64, windows of 100): 2 BLAS
        # threads train at ~65k chars/s, 1 thread at ~46k; both the per-step
        # (64, 256) x (256, 1024) products and the whole-window GEMMs gain.
        # More threads were not measured: the per-step products are small, so
        # many-core machines are capped at 2 rather than oversubscribed.
        return min(2, os.cpu_count() or 1)

    def _encode_each(self, documents, name, vocab=None):
        """Ids of every document, skipping unknown characters with one warning in all."""
        vocab = self._vocab if vocab is None else vocab
        pieces, unknown = [], set()
        for doc in documents:
            ids = vocab.encode(doc, warn=False)
            if len(ids) != len(doc):
                unknown.update(set(doc).difference(vocab.chars))
            pieces.append(ids)
        if unknown:
            shown = "".join(sorted(unknown))[:40]
            warnings.warn(
                f"{len(unknown)} character(s) of {name} are not in the vocabulary learned by fit "
                f"and were skipped: {shown!r}.",
                UserWarning,
                stacklevel=4,
            )
        return pieces

    def _encode(self, documents, name, vocab=None):
        """Ids of the concatenated documents (unknown characters skipped with one warning)."""
        pieces = self._encode_each(documents, name, vocab)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _make_streams(self, ids, what):
        """Cut ``ids`` into parallel streams: inputs and targets of shape ``(B, L)`` (views, no copy)."""
        T = self.seq_length
        n_pred = len(ids) - 1
        if n_pred < T:
            raise ValueError(
                f"{what} has {len(ids)} characters; training needs at least seq_length + 1 = {T + 1}. "
                "Use a longer text or a smaller seq_length (or validation_fraction)."
            )
        B = min(self.batch_size, n_pred // T)
        if B < self.batch_size:
            warnings.warn(
                f"{what} has {len(ids)} characters: too few for batch_size={self.batch_size} streams "
                f"of seq_length={T}; using {B} streams. Lower batch_size to silence this warning.",
                UserWarning,
                stacklevel=3,
            )
        L = n_pred // B
        return ids[: B * L].reshape(B, L), ids[1 : B * L + 1].reshape(B, L)

    def _progress_bar(self, streams, epoch):
        if self.verbose < 1:
            return None
        from tqdm.auto import tqdm

        n_windows = math.ceil(streams[0].shape[1] / self.seq_length)
        return tqdm(total=n_windows, desc=f"epoch {epoch}", unit="win", leave=True)

    def _train_epoch(self, streams, bar, start):
        """One pass over the streams; returns (mean loss, whether the pass finished)."""
        inputs, targets = streams
        B, L = inputs.shape
        T = self.seq_length
        net, opt, rng = self._net, self._optimizer, self._rng
        state = net.zero_state(B)
        total, count = 0.0, 0
        tic = time.perf_counter()
        for s in range(0, L, T):
            x = inputs[:, s : s + T].T.astype(np.intp)  # (T, B), a small copy per window
            y = targets[:, s : s + T].T.astype(np.intp)
            loss = net.loss_and_grads(x, y, state, rng)
            clip_grad_norm_(net.grads, self.clip_norm)
            opt.step(net.params, net.grads)
            total += loss * x.size
            count += x.size
            self.n_chars_seen_ += x.size
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    {"chars/s": f"{count / (time.perf_counter() - tic):,.0f}", "loss": f"{total / count:.4f}"},
                    refresh=False,
                )
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"The training loss became {loss}: lower learning_rate (now {opt.learning_rate:g}) "
                    "or set clip_norm."
                )
            if start is not None and self.max_time is not None and time.perf_counter() - start > self.max_time:
                break
        self._epoch_rate = count / (time.perf_counter() - tic)
        return total / count, s + T >= L

    def _mean_log_likelihood(self, ids):
        """Mean ``log p(c_t | c_<t)`` over ``ids[1:]``, nats per character, as if read in one pass.

        Long texts are read as up to ``batch_size`` parallel streams; every
        stream but the first first reads the ``_SCORE_WARMUP`` characters
        before its part without scoring them.
        """
        total, count = self._log_likelihood_sum(ids)
        if count == 0:
            raise ValueError("The text must have at least 2 known characters to be scored.")
        return total / count

    def _log_likelihood_sum(self, ids):
        n_pred = len(ids) - 1
        if n_pred <= 0:
            return 0.0, 0
        W, T, net = _SCORE_WARMUP, self.seq_length, self._net
        S = max(1, min(self.batch_size, n_pred // (4 * W)))
        R = n_pred if S == 1 else -(-(n_pred + (S - 1) * W) // S)  # steps per stream
        begin = np.arange(S) * (R - W)  # position of each stream's first input
        state = net.zero_state(S)
        last = len(ids) - 1
        total, count = 0.0, 0
        for a in range(0, R, T):
            steps = np.arange(a, min(a + T, R))
            pos = begin[None, :] + steps[:, None]  # (T, S) input positions
            scored = pos < last
            if S > 1:
                scored[:, 1:] &= steps[:, None] >= W
            x = ids[np.minimum(pos, last)].astype(np.intp)
            y = ids[np.minimum(pos + 1, last)].astype(np.intp)
            logp = net.log_likelihood(x, y, state)
            total += float(logp[scored].sum(dtype=np.float64))
            count += int(scored.sum())
        return total, count

    # ------------------------------------------------------------- prediction
    def _final_outputs(self, id_lists):
        """Next-character logits after each id sequence, shape ``(n, n_classes)`` (float64)."""
        net, T = self._net, self.seq_length
        out = np.empty((len(id_lists), self.n_classes_), dtype=np.float64)
        lengths = np.array([len(ids) for ids in id_lists])
        order = np.argsort(lengths, kind="stable")
        empty = order[lengths[order] == 0]
        # An empty context: the training frequencies of the characters.
        with np.errstate(divide="ignore"):
            out[empty] = np.log(self.char_frequencies_)
        order = order[lengths[order] > 0]
        for g in range(0, len(order), _PREDICT_BATCH):
            group = order[g : g + _PREDICT_BATCH]
            lens = lengths[group]
            n_steps = int(lens.max())
            x = np.zeros((n_steps, len(group)), dtype=np.intp)
            for j, i in enumerate(group):
                x[: lens[j], j] = id_lists[i]
            state = net.zero_state(len(group))
            for a in range(0, n_steps, T):
                top = net.forward(x[a : a + T], state)
                ends = (lens - 1 >= a) & (lens - 1 < a + T)
                if ends.any():
                    rows = top[lens[ends] - 1 - a, np.flatnonzero(ends)]
                    out[group[ends]] = net.logits(rows)
        return out

    def predict_proba(self, X):
        """Next-character distribution after each string of ``X``.

        Parameters
        ----------
        X : iterable of str
            Contexts (a list, array or Series of strings). An empty context
            gets ``char_frequencies_``.

        Returns
        -------
        proba : ndarray of shape (n_strings, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        check_is_fitted(self, "_net")
        id_lists = self._encode_each(check_documents(X), "X")
        logits = self._final_outputs(id_lists)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X):
        """The most likely next character after each string of ``X``.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        chars : ndarray of str, shape (n_strings,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

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
        """
        check_is_fitted(self, "_net")
        ids = self._encode(check_documents(X, allow_single_string=True), "X")
        return self._mean_log_likelihood(ids)

    def bits_per_character(self, X):
        """Cross-entropy of ``X`` in bits per character (lower is better): ``-score(X) / ln 2``."""
        return -self.score(X) / math.log(2)

    def perplexity(self, X):
        """Per-character perplexity of ``X`` (lower is better): ``exp(-score(X))``."""
        return math.exp(-self.score(X))

    # ---------------------------------------------------------------- sampling
    def sample(self, n_chars, prime="", temperature=1.0, top_k=None, n_samples=1, random_state=None):
        """Generate text, one character at a time.

        Parameters
        ----------
        n_chars : int
            Characters to generate.
        prime : str, default=""
            Text read first to warm up the state. It is *not* part of the
            returned text (``prime + sample`` reads on). With an empty prime
            the first character is drawn from ``char_frequencies_``.
        temperature : float, default=1.0
            Divides the logits: below 1 is more conservative, above 1 more
            varied; 0 always takes the most likely character (greedy).
        top_k : int or None, default=None
            Draw only among the ``top_k`` most likely characters.
        n_samples : int, default=1
            Independent samples, generated together as one batch.
        random_state : int, RandomState instance, Generator or None, default=None
            The same value gives the same samples.

        Returns
        -------
        text : str, or list of str when ``n_samples > 1``
        """
        check_is_fitted(self, "_net")
        if not isinstance(n_chars, (Integral, np.integer)) or n_chars < 0:
            raise ValueError(f"n_chars must be a non-negative integer, got {n_chars!r}.")
        if not isinstance(n_samples, (Integral, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        if not isinstance(temperature, Real) or not temperature >= 0:
            raise ValueError(f"temperature must be a number >= 0 (0 is greedy), got {temperature!r}.")
        if top_k is not None and (not isinstance(top_k, (Integral, np.integer)) or top_k < 1):
            raise ValueError(f"top_k must be None or a positive integer, got {top_k!r}.")
        if not isinstance(prime, str):
            raise TypeError(f"prime must be a str, got {type(prime).__name__}.")
        rng = _as_generator(random_state)
        ids = self._sample_ids(int(n_chars), self._encode([prime], "prime"), float(temperature), top_k,
                               int(n_samples), rng)
        texts = [self._vocab.decode(row) for row in ids]
        return texts[0] if n_samples == 1 else texts

    def _sample_ids(self, n_chars, prime_ids, temperature, top_k, n_samples, rng):
        net, V = self._net, self.n_classes_
        out = np.empty((n_samples, n_chars), dtype=np.intp)
        if n_chars == 0:
            return out
        uniforms = rng.random((n_chars, n_samples))
        state = net.zero_state(n_samples)
        with threadpool_limits(limits=1):  # vector-sized products: threads only add overhead
            if len(prime_ids):
                x = np.repeat(prime_ids.astype(np.intp)[:, None], n_samples, axis=1)
                for a in range(0, len(x), self.seq_length):
                    top = net.forward(x[a : a + self.seq_length], state)
                logits = net.logits(top[-1])
            else:
                with np.errstate(divide="ignore"):
                    logits = np.repeat(np.log(self.char_frequencies_)[None, :], n_samples, axis=0)
            step_state = net.step_state(state)
            greedy = temperature == 0
            inv_t = 0.0 if greedy else 1.0 / temperature
            filter_k = top_k is not None and top_k < V and not greedy
            for t in range(n_chars):
                if greedy:
                    ids = np.argmax(logits, axis=1)
                else:
                    z = logits.astype(np.float64)
                    z -= z.max(axis=1, keepdims=True)
                    z *= inv_t
                    if filter_k:
                        kth = np.partition(z, V - top_k, axis=1)[:, V - top_k]
                        z[z < kth[:, None]] = -np.inf
                    cdf = np.cumsum(np.exp(z, out=z), axis=1, out=z)
                    # Inverse-CDF draw: the number of cumulative weights <= u * total.
                    u = uniforms[t] * cdf[:, -1]
                    ids = np.minimum((cdf <= u[:, None]).sum(axis=1), V - 1)
                out[:, t] = ids
                if t + 1 < n_chars:
                    logits = net.step(ids, step_state)
        return out
