"""Building the Keras LSTM text classifier used by :class:`~skrnn.LSTMSentimentClassifier`.

This module imports Keras (and so TensorFlow) at the top: the estimator imports
it only when it fits, predicts or loads a model, so ``import skrnn`` stays light.

The network, from token ids to class scores::

    int32 ids (batch, time), 0 = padding
      -> Embedding(max_features, embedding_dim, mask_zero=True)
      -> SpatialDropout1D(embedding_dropout)           (whole embedding channels)
      -> n_layers x [Bidirectional] LSTM(hidden_size, dropout, recurrent_dropout)
      -> MaskedSequencePooling(pooling)               (max / mean over real tokens)
      -> Dense(1, sigmoid) for two classes, Dense(n_classes, softmax) otherwise

Padding is on the right and masked, so the recurrent state and the pooled
features never see pad tokens. Without recurrent dropout the LSTM keeps
Keras's fused implementation (cuDNN on a GPU).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = [
    "POOLING_MODES",
    "EpochProgress",
    "MaskedSequencePooling",
    "NonFiniteLossGuard",
    "TrainingMonitor",
    "build_model",
    "train_epochs",
]

POOLING_MODES = ("last", "max", "mean", "max_mean")


@keras.saving.register_keras_serializable(package="skrnn")
class MaskedSequencePooling(keras.layers.Layer):
    """Pool a masked sequence ``(batch, time, features)`` over time.

    Only unmasked steps count: ``"max"`` takes the per-feature maximum,
    ``"mean"`` the average, ``"max_mean"`` concatenates both (twice the
    features). Without a mask every step counts. A sequence whose steps are
    all masked pools to zeros.

    Parameters
    ----------
    mode : {"max", "mean", "max_mean"}, default="max_mean"
    """

    def __init__(self, mode="max_mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "mean", "max_mean"):
            raise ValueError(f"mode must be 'max', 'mean' or 'max_mean', got {mode!r}.")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        mask = ops.cast(mask, "bool")
        fmask = ops.cast(ops.expand_dims(mask, -1), inputs.dtype)
        pooled = []
        if self.mode in ("max", "max_mean"):
            very_negative = ops.cast(-1e9, inputs.dtype)
            masked = ops.where(ops.expand_dims(mask, -1), inputs, very_negative)
            maximum = ops.max(masked, axis=1)
            any_step = ops.cast(ops.any(mask, axis=1, keepdims=True), inputs.dtype)
            pooled.append(maximum * any_step)
        if self.mode in ("mean", "max_mean"):
            total = ops.sum(inputs * fmask, axis=1)
            count = ops.maximum(ops.sum(fmask, axis=1), 1.0)
            pooled.append(total / count)
        return pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        features = input_shape[-1]
        if self.mode == "max_mean" and features is not None:
            features = 2 * features
        return (input_shape[0], features)

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config


@keras.saving.register_keras_serializable(package="skrnn")
class HashedBigrams(keras.layers.Layer):
    """Map a right-padded id sequence to hashed bigram ids.

    Position ``t`` gets ``1 + hash(ids[t], ids[t + 1]) % (n_buckets - 1)``
    when both ids are real tokens, else 0 (padding), so the output can feed an
    ``Embedding(n_buckets, ..., mask_zero=True)``.

    Parameters
    ----------
    n_buckets : int
        Size of the bigram id space, 0 (padding) included.
    """

    def __init__(self, n_buckets, **kwargs):
        super().__init__(**kwargs)
        self.n_buckets = int(n_buckets)

    def call(self, ids):
        ids = ops.cast(ids, "int64")
        first, second = ids[:, :-1], ids[:, 1:]
        code = ops.mod(first * 1000003 + second * 7919, self.n_buckets - 1) + 1
        valid = ops.logical_and(first > 0, second > 0)
        bigrams = ops.where(valid, code, ops.zeros_like(code))
        bigrams = ops.concatenate([bigrams, ops.zeros_like(ids[:, :1])], axis=1)
        return ops.cast(bigrams, "int32")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["n_buckets"] = self.n_buckets
        return config


def build_model(
    *,
    n_outputs,
    max_features,
    embedding_dim,
    hidden_size,
    n_layers=1,
    bidirectional=False,
    dropout=0.0,
    recurrent_dropout=0.0,
    embedding_dropout=0.0,
    output_dropout=0.0,
    bigram_buckets=0,
    bigram_dim=32,
    pooling="max_mean",
    learning_rate=1e-3,
    ema_momentum=None,
    seed=None,
    jit_compile=False,
    embedding_weights=None,
    train_embeddings=True,
):
    """Build and compile the classifier network.

    Parameters
    ----------
    n_outputs : int
        ``1`` for binary classification (sigmoid, binary cross-entropy), else
        the number of classes (softmax, sparse categorical cross-entropy).
    max_features : int
        Size of the id space (embedding rows), padding and OOV ids included.
    embedding_dim, hidden_size, n_layers : int
        Embedding width, LSTM units per direction, stacked LSTM layers.
    bidirectional : bool
        Wrap each LSTM in ``keras.layers.Bidirectional`` (outputs concatenated).
    dropout, recurrent_dropout : float
        The LSTM's input and recurrent dropout. Recurrent dropout disables the
        fused (cuDNN) kernel.
    embedding_dropout : float
        ``SpatialDropout1D`` rate on the embeddings.
    output_dropout : float
        Dropout on the pooled vector, before the classifier.
    pooling : {"last", "max", "mean", "max_mean"}
        How the last LSTM layer's outputs become one vector: its final state,
        or masked max / mean / both over time.
    learning_rate : float
        Adam's learning rate.
    ema_momentum : float or None
        When set, Adam keeps an exponential moving average of the weights
        with this momentum, and each ``fit`` call ends by replacing the
        weights with their average.
    bigram_buckets, bigram_dim : int
        When ``bigram_buckets`` is non-zero, a second branch hashes each pair
        of consecutive tokens into that many buckets, embeds them in
        ``bigram_dim`` dimensions and mean-pools them over the document; the
        result is concatenated with the LSTM's pooled outputs.
    seed : int or None
        Seeds every initializer and dropout layer (each gets its own derived
        seed), so the same seed builds and trains the same network without
        touching global random state.
    jit_compile : bool
        Passed to ``Model.compile``.
    embedding_weights : ndarray of shape (max_features, embedding_dim) or None
        Initial word embeddings (pretrained vectors), set after the model is
        built so that the model's config does not carry them.
    train_embeddings : bool
        With ``False`` the word embeddings stay as given (frozen).

    Returns
    -------
    model : keras.Model
        Compiled, taking ``int32`` ids of shape ``(batch, time)``.
    """
    counter = [0]

    def next_seed():
        if seed is None:
            return None
        counter[0] += 1
        return int(seed) * 1000 + counter[0]

    def embed(ids, n_rows, width, name):
        """Masked embedding of ``ids``, then spatial dropout when ``embedding_dropout``."""
        x = keras.layers.Embedding(
            n_rows,
            width,
            mask_zero=True,
            embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=next_seed()),
            name=f"{name}_embedding",
        )(ids)
        if embedding_dropout:
            x = keras.layers.SpatialDropout1D(
                embedding_dropout, seed=next_seed(), name=f"{name}_dropout"
            )(x)
        return x

    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = embed(inputs, max_features, embedding_dim, "token")
    for i in range(n_layers):
        last = i == n_layers - 1
        return_sequences = not last or pooling != "last"

        def make_lstm(go_backwards=False, name=None):
            return keras.layers.LSTM(
                hidden_size,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                return_sequences=return_sequences,
                go_backwards=go_backwards,
                kernel_initializer=keras.initializers.GlorotUniform(seed=next_seed()),
                recurrent_initializer=keras.initializers.Orthogonal(seed=next_seed()),
                seed=next_seed(),
                name=name,
            )

        if bidirectional:
            x = keras.layers.Bidirectional(
                make_lstm(name=f"lstm_{i}_forward"),
                backward_layer=make_lstm(go_backwards=True, name=f"lstm_{i}_backward"),
                name=f"bidirectional_lstm_{i}",
            )(x)
        else:
            x = make_lstm(name=f"lstm_{i}")(x)
    if pooling != "last":
        x = MaskedSequencePooling(pooling, name="pooling")(x)
    if bigram_buckets:
        bigram_ids = HashedBigrams(bigram_buckets, name="hashed_bigrams")(inputs)
        bag = embed(bigram_ids, bigram_buckets, bigram_dim, "bigram")
        bag = MaskedSequencePooling("mean", name="bigram_pooling")(bag)
        x = keras.layers.Concatenate(name="features")([x, bag])
    if output_dropout:
        x = keras.layers.Dropout(output_dropout, seed=next_seed(), name="output_dropout")(x)
    if n_outputs == 1:
        activation, loss = "sigmoid", "binary_crossentropy"
    else:
        activation, loss = "softmax", "sparse_categorical_crossentropy"
    outputs = keras.layers.Dense(
        n_outputs,
        activation=activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed=next_seed()),
        name="classifier",
    )(x)
    model = keras.Model(inputs, outputs, name="lstm_sentiment_classifier")
    token_embedding = model.get_layer("token_embedding")
    if embedding_weights is not None:
        token_embedding.set_weights([np.asarray(embedding_weights, dtype="float32")])
    token_embedding.trainable = bool(train_embeddings)
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=learning_rate,
            use_ema=bool(ema_momentum),
            ema_momentum=float(ema_momentum) if ema_momentum else 0.99,
        ),
        loss=loss,
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


class BucketedBatches:
    """Batches of right-padded id sequences of similar length, as a ``tf.data`` pipeline.

    Sequences are grouped by length so that a batch is only as long as its
    longest member, rounded up to a multiple of ``length_multiple`` (few
    distinct shapes, little padding). With ``shuffle``, each pass draws a new
    random permutation, sorts it by length within pools of
    ``pool_batches * batch_size`` sequences and shuffles the batch order, so
    batches stay random while padding stays small. Without ``shuffle`` the
    sequences are sorted by length once; :attr:`order` lists the input index of
    each output row, in batch order.

    Parameters
    ----------
    sequences : list of 1-D int arrays
        Already truncated token ids (no zeros inside: 0 is padding).
    y, sample_weight : ndarray or None
    batch_size : int
    shuffle : bool
    seed : int or None
    length_multiple : int
    pool_batches : int
    max_tokens : int or None
        Only without ``shuffle`` (prediction): instead of ``batch_size`` rows,
        a batch takes as many length-sorted rows as fit in ``max_tokens``
        padded tokens (at least one row, at most ``max_rows``), so thousands of
        short documents share one batch while long ones keep batches small.
    max_rows : int
    n_replicas : int, default=1
        Replicas of the ``tf.distribute`` strategy that trains on these
        batches. With more than one, the first batch of every pass splits
        evenly across them: Keras 3 reduces that batch element-wise across
        replicas before training (``Trainer._maybe_symbolic_build``), which
        fails on uneven shares. With ``shuffle``, the one partial batch is
        then never drawn first; without it, give a ``batch_size`` that is a
        multiple of ``n_replicas``.
    """

    def __init__(
        self,
        sequences,
        y=None,
        sample_weight=None,
        *,
        batch_size=64,
        shuffle=False,
        seed=None,
        length_multiple=32,
        pool_batches=50,
        max_tokens=None,
        max_rows=32768,
        n_replicas=1,
    ):
        self.sequences = sequences
        self.lengths = np.fromiter(
            (len(s) for s in sequences), dtype=np.int64, count=len(sequences)
        )
        self.y = y
        self.sample_weight = sample_weight
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.length_multiple = int(length_multiple)
        self.pool_batches = int(pool_batches)
        self._rng = np.random.default_rng(seed)
        self.order = np.argsort(self.lengths, kind="stable")
        self.max_tokens = None if max_tokens is None or shuffle else int(max_tokens)
        self.max_rows = int(max_rows)
        self.n_replicas = int(n_replicas)
        self._fixed_batches = None
        self._ragged = None  # the documents as one tf.RaggedTensor, built by the first dataset()
        if self.max_tokens is not None:
            self._fixed_batches = self._token_budget_batches()

    def __len__(self):
        if self._fixed_batches is not None:
            return len(self._fixed_batches)
        return -(-len(self.sequences) // self.batch_size)

    def _token_budget_batches(self):
        """Consecutive runs of the length-sorted rows, each within the token budget."""
        m = self.length_multiple
        widths = np.maximum(-(-self.lengths[self.order] // m) * m, m)
        batches, start, n = [], 0, len(self.order)
        while start < n:
            # Sorted ascending, so the last row of a batch sets its width.
            limit = min(start + self.max_rows, n)
            fits = np.arange(start + 1, limit + 1) - start
            ok = fits * widths[start:limit] <= self.max_tokens
            stop = start + (int(np.flatnonzero(ok)[-1]) + 1 if ok.any() else 1)
            batches.append(self.order[start:stop])
            start = stop
        return batches

    def _batch_indices(self):
        n = len(self.sequences)
        if self._fixed_batches is not None:
            return self._fixed_batches
        if not self.shuffle:
            order = self.order
            return [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        perm = self._rng.permutation(n)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, n, pool):
            idx = perm[start : start + pool]
            idx = idx[np.argsort(self.lengths[idx], kind="stable")]
            batches.extend(
                idx[i : i + self.batch_size] for i in range(0, len(idx), self.batch_size)
            )
        batches = [batches[i] for i in self._rng.permutation(len(batches))]
        if self.n_replicas > 1 and len(batches[0]) % self.n_replicas:
            # Only the last pool's final batch can be partial: draw it last.
            batches.append(batches.pop(0))
        return batches

    def _pad(self, idx):
        longest = max(int(self.lengths[idx].max()), 1)
        width = -(-longest // self.length_multiple) * self.length_multiple
        x = np.zeros((len(idx), width), dtype=np.int32)
        lengths = self.lengths[idx]
        if len(idx) > 16:
            flat = np.concatenate([self.sequences[i] for i in idx])
            rows = np.repeat(np.arange(len(idx)), lengths)
            cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            x[rows, cols] = flat
        else:
            for row, i in enumerate(idx):
                seq = self.sequences[i]
                x[row, : len(seq)] = seq
        return x

    def __iter__(self):
        """The batches of one pass as NumPy arrays: ``x`` or ``(x, y[, sample_weight])``."""
        for idx in self._batch_indices():
            x = self._pad(idx)
            if self.y is None:
                yield x
            elif self.sample_weight is None:
                yield x, self.y[idx]
            else:
                yield x, self.y[idx], self.sample_weight[idx]

    def dataset(self):
        """One pass as a ``tf.data.Dataset``; with ``shuffle``, each call draws new batches.

        The pipeline is built from tensors only: ``Dataset.from_generator``
        keeps every pipeline it creates (and the documents it holds) alive
        until ``keras.backend.clear_session()``, which leaked memory at every
        epoch and every ``predict`` call. Here the documents are one ragged
        tensor, and each batch is gathered and padded inside the graph.
        """
        import tensorflow as tf

        if self._ragged is None:
            flat = np.concatenate(
                [np.asarray(s, dtype=np.int32) for s in self.sequences] or [np.zeros(0, np.int32)]
            )
            self._ragged = tf.RaggedTensor.from_row_lengths(flat, self.lengths)
        ragged, multiple = self._ragged, self.length_multiple
        batches = self._batch_indices()
        index = tf.RaggedTensor.from_row_lengths(
            np.concatenate(batches).astype(np.int64),
            np.fromiter(map(len, batches), np.int64, len(batches)),
        )
        targets = [] if self.y is None else [tf.constant(self.y)]
        if self.y is not None and self.sample_weight is not None:
            targets.append(tf.constant(self.sample_weight, dtype=tf.float32))

        def make_batch(idx):
            rows = tf.gather(ragged, idx)
            longest = tf.maximum(tf.reduce_max(rows.row_lengths()), 1)
            width = (longest + multiple - 1) // multiple * multiple
            x = rows.to_tensor(
                default_value=0, shape=tf.stack([tf.size(idx, out_type=tf.int64), width])
            )
            if not targets:
                return x
            return (x, *(tf.gather(t, idx) for t in targets))

        ds = tf.data.Dataset.from_tensor_slices(index).map(make_batch)
        # Nothing to shard by file: under a tf.distribute strategy TensorFlow
        # would log at every fit, evaluate and predict that it falls back to
        # sharding by batch. Ask for that directly.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return ds.with_options(options).prefetch(2)


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Stop ``Model.fit`` at the first batch whose running loss is NaN or infinite.

    Like ``keras.callbacks.TerminateOnNaN``, but it records where it happened
    (:attr:`batch`, :attr:`value`) so that :func:`train_epochs` can restore the
    last good weights.
    """

    def __init__(self):
        super().__init__()
        self.batch = None
        self.value = None

    def reset(self):
        self.batch = None
        self.value = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or self.value is not None:
            return
        loss = float(loss)
        if not np.isfinite(loss):
            self.batch, self.value = batch, loss
            self.model.stop_training = True


class EpochProgress(keras.callbacks.Callback):
    """A progress bar for one epoch, titled ``"Epoch n/N"`` (the estimator's ``verbose=2``).

    Keras's own bar estimates the remaining time from the first step, which
    includes tracing the training function, and so shows an ETA of an hour at
    first. This bar starts after that step: its estimate comes from real steps.
    """

    def __init__(self, title, steps):
        super().__init__()
        self.title = title
        self.steps = int(steps)
        self._bar = None

    def on_train_begin(self, logs=None):
        print(self.title, flush=True)
        self._bar = None

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is None:
            self._bar = keras.utils.Progbar(self.steps, stateful_metrics=["loss", "accuracy"])
        values = [(k, float(v)) for k, v in (logs or {}).items() if k in ("loss", "accuracy")]
        self._bar.update(batch + 1, values=values)


class TrainingMonitor:
    """Record per-epoch metrics, print one line per epoch, stop early.

    Driven by :func:`train_epochs` (one ``Model.fit`` call per epoch).

    Parameters
    ----------
    history : dict of str to list
        Appended to in place (``loss``, ``accuracy`` and, with validation data,
        ``val_loss`` and ``val_accuracy``), one entry per *completed* epoch:
        an epoch cut short by ``KeyboardInterrupt`` or a non-finite loss is
        not recorded.
    early_stopping : bool
        Stop when ``val_loss`` has not improved for ``patience`` epochs and, at
        the end of training, restore the weights of the epoch with the lowest
        ``val_loss``.
    patience : int
    print_epochs : bool
        Print one line per epoch (the estimator's ``verbose=1``).
    first_epoch : int
        Number of epochs already trained (warm start), for the printed count.
    total_epochs : int or None

    Attributes
    ----------
    epochs_run : int
        Completed epochs.
    interrupted : bool
        Training was stopped by ``KeyboardInterrupt``.
    diverged : dict or None
        When the loss became NaN or infinite: ``{"epoch": 0-based epoch,
        "batch": batch index or None, "metric": "loss" or "val_loss",
        "value": float}``. The weights were reset to those at the end of the
        last completed epoch.
    """

    def __init__(
        self,
        history,
        *,
        early_stopping=False,
        patience=2,
        print_epochs=False,
        first_epoch=0,
        total_epochs=None,
    ):
        self.history = history
        self.early_stopping = early_stopping
        self.patience = int(patience)
        self.print_epochs = print_epochs
        self.first_epoch = int(first_epoch)
        self.total_epochs = total_epochs
        self.best_loss = np.inf
        self.best_epoch = None
        self.best_weights = None
        self.epochs_run = 0
        self.stop_training = False
        self.interrupted = False
        self.diverged = None
        self._wait = 0

    def end_epoch(self, model, epoch, logs, seconds=0.0):
        """Record ``logs`` for ``epoch`` (0-based); returns whether to stop."""
        self.epochs_run += 1
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in logs:
                self.history.setdefault(key, []).append(float(logs[key]))
        if self.print_epochs:
            n = self.first_epoch + epoch + 1
            total = f"/{self.first_epoch + self.total_epochs}" if self.total_epochs else ""
            parts = [f"Epoch {n}{total}", f"{seconds:.1f}s"]
            parts += [
                f"{k}: {logs[k]:.4f}"
                for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                if k in logs
            ]
            print(" - ".join(parts), flush=True)
        if self.early_stopping and "val_loss" in logs:
            val_loss = float(logs["val_loss"])
            if val_loss < self.best_loss:
                self.best_loss = val_loss
                self.best_epoch = epoch
                self.best_weights = model.get_weights()
                self._wait = 0
            else:
                self._wait += 1
                if self._wait >= self.patience:
                    self.stop_training = True
        return self.stop_training

    def finish(self, model):
        """Restore the best epoch's weights if the current ones are not that epoch's."""
        if (
            self.early_stopping
            and self.best_weights is not None
            and (self.best_epoch != self.epochs_run - 1 or self.interrupted)
        ):
            model.set_weights(self.best_weights)
        self.best_weights = None


def _finalize_average(model):
    """Swap the optimizer's weight moving average in, as the end of ``Model.fit`` does."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "use_ema", False):
        optimizer.finalize_variable_values(model.trainable_weights)


def _repair_optimizer(model):
    """After the weights were reset to good values, clear non-finite optimizer state.

    Non-finite slots (Adam's moments) are zeroed; the weight moving average,
    if any, is reset to the (restored) weights, which is what it held at the
    end of the last good epoch.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return
    averages = getattr(optimizer, "_model_variables_moving_average", None) or []
    average_ids = {id(v) for v in averages if v is not None}
    for var in optimizer.variables:
        if id(var) in average_ids:
            continue
        value = np.asarray(var.numpy())
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            var.assign(np.zeros_like(value))
    if getattr(optimizer, "use_ema", False) and averages:
        for var, average in zip(model.trainable_weights, averages):
            if average is not None:
                average.assign(var)


def train_epochs(
    model, train, *, epochs, monitor, validation=None, keras_verbose=0, callbacks=None
):
    """Train ``model`` epoch by epoch on ``train`` (a :class:`BucketedBatches`).

    With ``keras_verbose``, each epoch shows an :class:`EpochProgress` bar
    titled with the epoch's number (counted as ``monitor`` counts).

    Each epoch is one ``Model.fit`` call, so that an optimizer with a weight
    moving average swaps the average in before the validation loss is
    measured (on ``validation``, a :class:`BucketedBatches` with targets).
    Returns ``monitor``.

    Faults are handled here, never propagated half-way:

    * ``KeyboardInterrupt`` stops training at once; ``monitor.interrupted`` is
      set, the weight moving average (if any) is swapped in, and then, as at
      any end of training, :meth:`TrainingMonitor.finish` restores the best
      validation epoch's weights (with early stopping); otherwise the current
      weights are kept.
    * A NaN or infinite ``loss`` (checked after every batch by
      :class:`NonFiniteLossGuard` and at the end of the epoch) or
      ``val_loss`` stops training; the weights and optimizer state go back
      to those at the end of the last completed epoch (the starting weights
      when it is the first) and ``monitor.diverged`` describes what happened.
    """
    import time

    guard = NonFiniteLossGuard()
    callbacks = [guard, *(callbacks or [])]
    try:
        val_ds = None if validation is None else validation.dataset()
        for epoch in range(epochs):
            t0 = time.perf_counter()
            train_ds = train.dataset()  # a new shuffle every epoch
            last_good = model.get_weights()
            guard.reset()
            epoch_callbacks = callbacks
            if keras_verbose:
                n = monitor.first_epoch + epoch + 1
                total = (
                    f"/{monitor.first_epoch + monitor.total_epochs}" if monitor.total_epochs else ""
                )
                epoch_callbacks = [*callbacks, EpochProgress(f"Epoch {n}{total}", len(train))]
            history = model.fit(
                train_ds, epochs=1, verbose=0, shuffle=False, callbacks=epoch_callbacks
            )
            logs = {k: v[-1] for k, v in history.history.items()}
            bad = None
            if guard.value is not None:
                bad = {"epoch": epoch, "batch": guard.batch, "metric": "loss", "value": guard.value}
            elif "loss" in logs and not np.isfinite(float(logs["loss"])):
                bad = {
                    "epoch": epoch,
                    "batch": None,
                    "metric": "loss",
                    "value": float(logs["loss"]),
                }
            elif val_ds is not None:
                val = model.evaluate(val_ds, verbose=0, return_dict=True)
                logs["val_loss"] = val["loss"]
                logs["val_accuracy"] = val.get("accuracy", val.get("compile_metrics", np.nan))
                if not np.isfinite(float(logs["val_loss"])):
                    bad = {
                        "epoch": epoch,
                        "batch": None,
                        "metric": "val_loss",
                        "value": float(logs["val_loss"]),
                    }
            if bad is not None:
                model.set_weights(last_good)
                _repair_optimizer(model)
                monitor.diverged = bad
                break
            del last_good
            if monitor.end_epoch(model, epoch, logs, time.perf_counter() - t0):
                break
    except KeyboardInterrupt:
        monitor.interrupted = True
        _finalize_average(model)
    model.stop_training = False
    monitor.finish(model)
    return monitor


def warm_up():
    """Train a two-token network for one step and predict once.

    TensorFlow prints some log lines once per process (device probing, oneDNN
    notices, the generator dataset's memory patch): the estimator calls this
    with standard error silenced so that those lines never reach the user.
    """
    import tensorflow as tf

    # The first fit may run inside a tf.distribute strategy's scope: then one
    # row per replica, as Keras cannot start training on a batch that leaves
    # a replica without rows.
    n = tf.distribute.get_strategy().num_replicas_in_sync
    model = build_model(n_outputs=1, max_features=4, embedding_dim=2, hidden_size=2, seed=0)
    batches = BucketedBatches(
        [np.array([2, 3], dtype=np.int32)] * n,
        np.ones(n, dtype=np.float32),
        batch_size=n,
        n_replicas=n,
    )
    model.fit(batches.dataset(), verbose=0)
    model.predict(
        BucketedBatches([np.array([2], dtype=np.int32)] * n, batch_size=n).dataset(), verbose=0
    )
    del model
