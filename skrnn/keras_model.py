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

from functools import partial

import keras
import numpy as np
from keras import ops

from ._tensorflow import num_replicas
from .training import Diverged

__all__ = [
    "POOLING_MODES",
    "BucketedBatches",
    "MaskedSequencePooling",
    "build_model",
    "predict_proba",
    "set_weights_repairing_optimizer",
    "train_epoch",
    "training_epochs",
    "validation_accuracy",
]

POOLING_MODES = ("last", "max", "mean", "max_mean")
PREDICT_BATCH_SIZE = 256
# predict batches hold up to this many padded tokens: 256 rows of maxlen=600 (rounded to 640)
# tokens, the old fixed batch's worst case; thousands of rows when documents are short.
PREDICT_BATCH_TOKENS = 256 * 640
# Padded lengths at predict time are multiples of this (masked padding does not change the
# outputs; finer steps waste less compute on short documents).
PREDICT_LENGTH_MULTIPLE = 8


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

        def make_lstm(go_backwards=False, name=None, return_sequences=return_sequences):
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


class _BatchReport(keras.callbacks.Callback):
    """Report each batch's running loss to an epoch's progress.

    It stops the epoch at a non-finite loss or when the time budget is spent:
    Keras checks ``model.stop_training`` after every batch, so the epoch ends
    at once. The non-finite loss is kept for :func:`train_epoch` to report.
    """

    def __init__(self, progress):
        super().__init__()
        self.progress = progress
        self.bad = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if not np.isfinite(loss):
            self.bad = (loss, batch + 1)
            self.model.stop_training = True
        elif self.progress.batch_done(loss, batches=batch + 1):
            self.model.stop_training = True


def train_epoch(model, train, progress):
    """One epoch of ``Model.fit`` over ``train`` (a :class:`BucketedBatches`).

    Each batch is reported to ``progress`` (a
    :class:`skrnn.training.EpochProgress`). Raises
    :class:`skrnn.training.Diverged` when the loss is not finite. On
    ``KeyboardInterrupt``, an optimizer's weight moving average is swapped in
    first, as the end of ``Model.fit`` would have done.
    """
    report = _BatchReport(progress)
    try:
        model.fit(train.dataset(), epochs=1, verbose=0, shuffle=False, callbacks=[report])
    except KeyboardInterrupt:
        _finalize_average(model)
        raise
    finally:
        model.stop_training = False
    if report.bad is not None:
        value, batch = report.bad
        raise Diverged(f"the training loss became {value} in batch {batch} of {len(train)}")


def training_epochs(model, sequences, targets, sample_weight, *, batch_size, seed, validation):
    """What a :class:`skrnn.training.TrainingRun` needs to train ``model`` on id sequences.

    Returns ``(epoch, n_batches, validate)``: ``epoch(progress)`` trains one
    shuffled pass of ``batch_size`` batches, and ``validate()`` is the
    accuracy on ``validation`` (``(sequences, targets)``; ``validate`` is
    ``None`` without it).
    """
    n_replicas = num_replicas(model)
    train = BucketedBatches(
        sequences,
        targets,
        None if sample_weight is None else sample_weight.astype(np.float32),
        batch_size=batch_size,
        shuffle=True,
        seed=seed,
        n_replicas=n_replicas,
    )
    validate = None
    if validation is not None:
        val_batch = max(batch_size, PREDICT_BATCH_SIZE)
        if n_replicas > 1:  # a first batch that splits evenly (see BucketedBatches)
            val_batch = min(val_batch, len(validation[0])) // n_replicas * n_replicas
        val_data = BucketedBatches(*validation, batch_size=val_batch).dataset()
        validate = partial(validation_accuracy, model, val_data)
    return partial(train_epoch, model, train), len(train), validate


def predict_proba(model, sequences, n_classes, verbose=0):
    """The network's class probabilities ``(n_samples, n_classes)`` for id sequences.

    Length-sorted batches of at most ``PREDICT_BATCH_TOKENS`` padded tokens;
    the rows come back in the order of ``sequences``.
    """
    batches = BucketedBatches(
        sequences,
        batch_size=PREDICT_BATCH_SIZE,
        max_tokens=PREDICT_BATCH_TOKENS,
        length_multiple=PREDICT_LENGTH_MULTIPLE,
    )
    scores = np.asarray(model.predict(batches.dataset(), verbose=verbose), dtype=np.float64)
    proba = np.empty((len(sequences), n_classes), dtype=np.float64)
    if n_classes == 2:
        proba[batches.order, 1] = scores[:, 0]
        proba[batches.order, 0] = 1.0 - scores[:, 0]
    else:
        proba[batches.order] = scores
    return proba


def validation_accuracy(model, validation):
    """Accuracy on ``validation`` (a dataset with targets); NaN when the loss is not finite."""
    scores = model.evaluate(validation, verbose=0, return_dict=True)
    if not np.isfinite(float(scores["loss"])):
        return float("nan")
    return float(scores.get("accuracy", scores.get("compile_metrics", np.nan)))


def _finalize_average(model):
    """Swap the optimizer's weight moving average in, as the end of ``Model.fit`` does."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "use_ema", False):
        optimizer.finalize_variable_values(model.trainable_weights)


def set_weights_repairing_optimizer(model, weights):
    """Put ``weights`` back after a non-finite step, and clear the optimizer's non-finite state.

    Non-finite slots (Adam's moments) are zeroed; the weight moving average,
    if any, is reset to the restored weights, which is what it held when they
    were copied out (at the end of an epoch).
    """
    model.set_weights(weights)
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
        for var, average in zip(model.trainable_weights, averages, strict=True):
            if average is not None:
                average.assign(var)


def warm_up():
    """Train a two-token network for one step and predict once.

    TensorFlow prints some log lines once per process (device probing, oneDNN
    notices, the generator dataset's memory patch): the estimator calls this
    with standard error silenced so that those lines never reach the user.
    """
    # The first fit may run inside a tf.distribute strategy's scope: then one
    # row per replica, as Keras cannot start training on a batch that leaves
    # a replica without rows.
    n = num_replicas()
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
