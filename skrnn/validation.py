"""Input checks for both estimators: documents, token ids, labels and sample weights.

Every function raises ``TypeError`` or ``ValueError`` with a message that names
the offending argument (and entry), and returns the input in the form the
estimators use. Nothing here imports TensorFlow or another skrnn module.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

__all__ = [
    "check_X",
    "check_classes",
    "check_documents",
    "check_labels",
    "check_ngram_range",
    "check_sample_weight",
    "check_token_ids",
    "check_y",
    "encode_labels",
    "is_token_ids",
    "split_for_validation",
]


# ------------------------------------------------------------------ documents
def is_int(value):
    """Whether ``value`` is an integer (Python or NumPy), booleans excluded."""
    return isinstance(value, (Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_documents(X, *, allow_single_string=False, name="X"):
    """Validate text input and return it as a list of ``str``.

    Parameters
    ----------
    X : str or iterable of str
        A list, tuple, NumPy array (``str`` or ``object`` dtype) or pandas
        Series of documents. A single string is accepted only when
        ``allow_single_string`` is true, and becomes a one-document list.
    allow_single_string : bool, default=False
        Whether a lone string is one document (character models) or an error
        (classifiers, where it is almost always a mistake).
    name : str, default="X"
        The argument's name, for error messages.

    Returns
    -------
    documents : list of str

    Raises
    ------
    TypeError
        If ``X`` is not iterable, is ``bytes``, or an element is not a string
        (``None``/NaN missing values, numbers, ``bytes``...).
    ValueError
        If ``X`` is a lone string where documents are expected, is empty, or is
        a 2-D array.
    """
    if isinstance(X, (str, np.str_)):
        if allow_single_string:
            return [str(X)]
        raise ValueError(
            f"{name} must be an iterable of documents (e.g. a list of strings), got a "
            f"single string. Wrap it in a list: [{name}]."
        )
    if isinstance(X, (bytes, bytearray)):
        raise TypeError(
            f"{name} must contain str, got bytes; decode it first, e.g. X.decode('utf-8')."
        )
    if hasattr(X, "ndim") and X.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional (one document per entry), got shape "
            f"{getattr(X, 'shape', '?')}. Pass a list of strings, or one column of a table "
            "(e.g. df['text'])."
        )
    if not isinstance(X, Iterable):
        raise TypeError(
            f"{name} must be a string or an iterable of strings, got {type(X).__name__}."
        )
    documents = list(X.tolist() if hasattr(X, "tolist") else X)
    if not documents:
        raise ValueError(f"{name} is empty: at least one document is required.")
    for i, doc in enumerate(documents):
        if not isinstance(doc, str):
            raise TypeError(
                f"{name}[{i}] is {_describe_non_string(doc)}, not str: every document must be a "
                f"string{_non_string_advice(doc)}."
            )
    return documents


def _describe_non_string(value):
    if value is None or (isinstance(value, float) and value != value):
        return f"{value!r} (a missing value)"
    return type(value).__name__


def _non_string_advice(value):
    if isinstance(value, (bytes, bytearray)):
        return "; decode bytes first, e.g. [d.decode('utf-8') for d in X]"
    if value is None or (isinstance(value, float) and value != value):
        return "; drop missing entries or replace them with ''"
    return "; convert the entries with str() if they are meant as text"


# ------------------------------------------------------------------ token ids
def is_token_ids(X):
    """Whether ``X`` holds pre-tokenized numeric sequences rather than strings.

    Sequences of non-integer numbers count too, so that :func:`check_token_ids`
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


def check_token_ids(X, name="X", offset=0):
    """Validate pre-tokenized input: a list of 1-D arrays of non-negative integer ids.

    The rows keep their integer dtype and their padding (see
    :func:`skrnn.text.read_token_ids`). ``offset`` is added to the row numbers
    in error messages (for chunked input).
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
                f"{name}[{i}] is not a 1-D sequence of integer token ids (got "
                f"{type(row).__name__} with dtype {arr.dtype}, shape {arr.shape}). Pass raw "
                "documents as strings, or token ids as lists or arrays of ints (floats, NaN, "
                "None and nested lists are not ids)."
            )
        if arr.size and arr.min() < 0:
            raise ValueError(
                f"{name}[{i}] contains negative token ids (smallest {arr.min()}); ids must be "
                ">= 0 (0 is padding, 1 is out-of-vocabulary)."
            )
        sequences.append(arr)
    return sequences


def _check_X_shape(X, name="X"):
    """Reject array shapes and dtypes that are neither documents nor token ids."""
    if (
        isinstance(X, np.ndarray)
        and X.ndim == 2
        and not np.issubdtype(X.dtype, np.integer)
        and (np.issubdtype(X.dtype, np.number) or X.dtype == bool)
    ):
        raise TypeError(
            f"{name} is a 2-D {X.dtype} array of shape {X.shape}: pass raw documents as a "
            "1-D list of strings, or token ids as a 2-D integer array (not floats or features)."
        )
    if X is None:
        raise TypeError(
            f"{name} is None: pass a list of documents (strings) or of token-id sequences."
        )


def check_X(X):
    """Check a classifier's ``X`` and return ``(kind, items)``.

    ``kind`` is ``"text"`` (``items``: a list of ``str``) or ``"ids"``
    (``items``: the rows, not yet checked one by one; see
    :func:`check_token_ids`). A one-shot iterator is read once.
    """
    _check_X_shape(X)
    try:
        if iter(X) is X:  # a one-shot iterator: read it once
            X = list(X)
    except TypeError:
        pass  # not iterable: check_documents says so
    if is_token_ids(X):
        items = X if isinstance(X, np.ndarray) and X.ndim == 2 else list(X)
        if len(items) == 0:
            raise ValueError("X is empty: at least one sequence is required.")
        return "ids", items
    return "text", check_documents(X)


def check_ngram_range(ngram_range):
    """Reject anything but a pair of integers ``(min_n, max_n)`` with ``1 <= min_n <= max_n``."""
    if not (
        len(ngram_range) == 2
        and all(isinstance(n, Integral) and not isinstance(n, bool) for n in ngram_range)
        and 1 <= ngram_range[0] <= ngram_range[1]
    ):
        raise ValueError(
            f"ngram_range must be a pair of integers (min_n, max_n) with 1 <= min_n <= max_n, "
            f"got {ngram_range!r}; e.g. (1, 3) for word uni-, bi- and trigrams."
        )


# --------------------------------------------------------------------- labels
def check_labels(y, name):
    """Reject missing labels (None, NaN) and labels that mix strings with numbers."""
    if y.dtype.kind == "f":
        missing = np.flatnonzero(np.isnan(y))
    elif y.dtype == object:
        missing = np.flatnonzero([_is_missing(v) for v in y.tolist()])
        if not missing.size:
            has_str = any(isinstance(v, str) for v in y.tolist())
            if has_str and not all(isinstance(v, str) for v in y.tolist()):
                types = sorted({type(v).__name__ for v in y.tolist()})
                raise TypeError(
                    f"{name} mixes strings with other types ({types}): "
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


def check_y(y, n_samples):
    """Validate classification labels for ``n_samples`` documents; returns a 1-D array."""
    if y is None:
        raise ValueError("y is required: pass one label per document.")
    if isinstance(y, (str, bytes)):
        raise ValueError(
            f"y is a single {type(y).__name__}: pass one label per document (a list or array)."
        )
    if not hasattr(y, "dtype"):
        as_objects = np.asarray(y, dtype=object)
        if as_objects.ndim == 1:  # before NumPy turns [1, "a"] into ["1", "a"]
            check_labels(as_objects, "y")
        y = np.asarray(y)
    y = column_or_1d(y, warn=True)
    if len(y) != n_samples:
        raise ValueError(
            f"X and y have inconsistent lengths: {n_samples} documents but {len(y)} labels."
        )
    check_labels(y, "y")
    check_classification_targets(y)
    return y


def check_classes(classes, known=None):
    """The sorted classes of a first ``partial_fit`` call, or check a later call's.

    ``known`` is ``classes_`` after the first call: a later call may omit
    ``classes`` (``None``) or pass the same set.
    """
    if known is not None:
        if classes is not None:
            given = np.asarray(classes)
            same = given.ndim == 1 and len(np.unique(given)) == len(known)
            same = same and set(np.unique(given).tolist()) == set(known.tolist())
            if not same:
                raise ValueError(
                    f"classes={given.tolist()!r} differs from the classes of the first call, "
                    f"{known.tolist()!r}: the classes cannot change between partial_fit calls."
                )
        return known
    if classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    classes = column_or_1d(np.asarray(classes))
    check_labels(classes, "classes")
    classes = np.unique(classes)
    if len(classes) < 2:
        raise ValueError(f"classes must hold at least two classes, got {classes.tolist()!r}.")
    return classes


def encode_labels(y, classes, context):
    """Map labels to indices into ``classes``; every label must be one of them.

    ``context`` names whose classes they are in the error message (e.g.
    ``"the first call's"``).
    """
    index = {c: i for i, c in enumerate(classes.tolist())}
    unseen = {v for v in y.tolist() if v not in index}
    if unseen:
        raise ValueError(
            f"y has labels that are not in classes: {sorted(unseen, key=repr)[:10]!r} "
            f"({context} classes are {classes.tolist()!r})."
        )
    return np.fromiter((index[v] for v in y.tolist()), dtype=np.int64, count=len(y))


# ------------------------------------------------------------- sample weights
def check_sample_weight(sample_weight, n_samples, y=None, class_weight=None):
    """Validate ``sample_weight`` and multiply ``class_weight`` in.

    Returns ``None`` (all ones) when neither is given, else a float64 array
    of ``n_samples`` finite, non-negative weights, not all zero. A scalar
    weight applies to every document; ``class_weight`` needs ``y``.
    """
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
                f"sample_weight must be 1-D with one weight per document ({n_samples}), got "
                f"shape {sw.shape}."
            )
        if not np.all(np.isfinite(sw)) or np.any(sw < 0):
            raise ValueError(
                "sample_weight must be finite and non-negative (no NaN, inf or negative weights)."
            )
    if class_weight is not None and y is not None:
        cw = compute_sample_weight(class_weight, y)
        if not np.all(np.isfinite(cw)) or np.any(cw < 0):
            raise ValueError(
                "class_weight must map classes to finite non-negative weights, got "
                f"{class_weight!r}."
            )
        sw = cw if sw is None else sw * cw
    if sw is not None and not np.any(sw > 0):
        raise ValueError(
            "sample_weight (times class_weight) is zero for every document: at least one weight "
            "must be positive."
        )
    return sw


# ----------------------------------------------------------- validation split
def split_for_validation(y, validation_fraction, seed, n_replicas=1):
    """Stratified ``(train, validation)`` indices, ``validation_fraction`` held out.

    Raises ``ValueError`` when the fraction leaves either part empty, or
    holds out fewer documents than the ``n_replicas`` of a ``tf.distribute``
    strategy. Classes too rare to stratify give a plain random split.
    """
    n_docs = len(y)
    n_val = int(np.ceil(validation_fraction * n_docs))
    if n_val < 1 or n_val >= n_docs:
        raise ValueError(
            f"validation_fraction={validation_fraction} leaves no training or no validation "
            f"data for {n_docs} documents; use more data, or paths='lstm' with "
            "early_stopping=False."
        )
    if n_val < n_replicas:
        raise ValueError(
            f"validation_fraction={validation_fraction} holds out {n_val} of {n_docs} "
            f"documents, fewer than the {n_replicas} replicas of the tf.distribute strategy: use "
            "more data, a larger validation_fraction or early_stopping=False."
        )
    index = np.arange(n_docs)
    try:
        return train_test_split(index, test_size=n_val, random_state=seed, stratify=y)
    except ValueError:  # a class too rare to stratify
        return train_test_split(index, test_size=n_val, random_state=seed)
