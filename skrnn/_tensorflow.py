"""TensorFlow and Keras at run time, for :class:`~skrnn.LSTMSentimentClassifier`.

Importing this module imports neither: :func:`keras_model_module` loads
:mod:`skrnn.keras_model` (and so TensorFlow) on first use, quietly. The other
helpers keep TensorFlow's logging out of the user's way, count the replicas
of a ``tf.distribute`` strategy, and move a Keras model to and from bytes or
a saved file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

from ._persistence import IncompatibleFileError

__all__ = [
    "keras_model_module",
    "load_model_file",
    "model_from_bytes",
    "model_to_bytes",
    "num_replicas",
    "quiet",
    "stderr_to_devnull",
]

_keras_ready = False


def keras_model_module(verbose=0):
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
    with stderr_to_devnull(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from . import keras_model

        keras_model.warm_up()
    _keras_ready = True
    return keras_model


@contextlib.contextmanager
def stderr_to_devnull():
    """Point file descriptor 2 at ``/dev/null`` in the block.

    C++ libraries (TensorFlow's) write there directly, past Python's ``sys.stderr``.
    """
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
def quiet(verbose):
    """Hide TensorFlow's Python log messages below errors (e.g. its
    tf.function retracing notices, which say nothing the user can act on)
    and, with ``verbose=0``, Python warnings, for the duration of a Keras
    call; both are restored afterwards. Also a decorator (a fresh context per
    call)."""
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


def num_replicas(model=None):
    """Replicas that train ``model``, or a model built now: those of the
    ``tf.distribute`` strategy in scope, 1 outside any."""
    if model is not None:
        return int(model.distribute_strategy.num_replicas_in_sync)
    if "tensorflow" not in sys.modules:  # no strategy can exist without TensorFlow
        return 1
    import tensorflow as tf

    return int(tf.distribute.get_strategy().num_replicas_in_sync)


def model_to_bytes(model):
    """The ``.keras`` file of ``model``, as bytes (for pickling)."""
    with tempfile.TemporaryDirectory(prefix="skrnn-") as tmp:
        file = Path(tmp) / "model.keras"
        with quiet(0):
            model.save(file)
        return file.read_bytes()


def model_from_bytes(data, owner, verbose=0):
    """The model of :func:`model_to_bytes`'s bytes, loaded with Keras's ``safe_mode``.

    Raises :class:`~skrnn._persistence.IncompatibleFileError` naming the
    ``owner`` (the unpickled estimator's class) when the bytes do not load.
    """
    try:
        km = keras_model_module(verbose)
        with tempfile.TemporaryDirectory(prefix="skrnn-") as tmp:
            file = Path(tmp) / "model.keras"
            file.write_bytes(data)
            with quiet(0):
                return km.keras.saving.load_model(file, safe_mode=True)
    except Exception as exc:
        raise IncompatibleFileError(
            f"The pickled {owner}'s Keras model could not be restored ({type(exc).__name__}: "
            f"{exc}); the file is damaged or comes from an incompatible version."
        ) from exc


def load_model_file(model_file, config_file, *, n_classes, n_ids, verbose=0):
    """Load a saved ``.keras`` file with ``safe_mode`` and check that it fits its config.

    The model must have the outputs of ``n_classes`` classes and embed
    ``n_ids`` token ids (the vocabulary in ``config_file``). Raises
    :class:`~skrnn._persistence.IncompatibleFileError` otherwise, or when the
    file is missing or unreadable.
    """
    if not model_file.is_file():
        raise IncompatibleFileError(
            f"{model_file} is missing: the save at {model_file.parent} is incomplete; save it "
            "again."
        )
    km = keras_model_module(verbose)
    try:
        with quiet(0):
            model = km.keras.saving.load_model(model_file, safe_mode=True)
    except Exception as exc:
        raise IncompatibleFileError(
            f"{model_file} could not be loaded as a Keras model ({type(exc).__name__}: {exc}); "
            "the save is damaged or was written by an incompatible Keras version."
        ) from exc
    n_outputs = model.output_shape[-1]
    if n_outputs != (1 if n_classes == 2 else n_classes):
        raise IncompatibleFileError(
            f"{model_file} has {n_outputs} outputs, which does not fit the {n_classes} classes "
            f"in {config_file}; the save is damaged."
        )
    embedding = next(
        (layer for layer in model.layers if isinstance(layer, km.keras.layers.Embedding)), None
    )
    if embedding is None or embedding.input_dim != n_ids:
        found = None if embedding is None else embedding.input_dim
        raise IncompatibleFileError(
            f"{model_file} embeds {found} token ids, but the vocabulary in {config_file} needs "
            f"{n_ids}: the two files come from different models; save the estimator again."
        )
    return model
