"""skrnn.validation: the input checks of both estimators, one function at a time.

No model is fitted here: each test calls a checking function directly.
"""

import numpy as np
import pytest
from sklearn.exceptions import DataConversionWarning

from skrnn.validation import (
    check_classes,
    check_documents,
    check_labels,
    check_ngram_range,
    check_sample_weight,
    check_token_ids,
    check_X,
    check_y,
    encode_labels,
    is_token_ids,
)


# ------------------------------------------------------------------ documents
class TestCheckDocuments:
    def test_list_array_and_series_become_lists_of_str(self):
        pd = pytest.importorskip("pandas")
        docs = ["a b", "c"]
        assert check_documents(docs) == docs
        assert check_documents(np.array(docs)) == docs
        assert check_documents(np.array(docs, dtype=object)) == docs
        assert check_documents(pd.Series(docs, index=[5, 9])) == docs
        assert check_documents(d for d in docs) == docs

    def test_single_string(self):
        assert check_documents("hello", allow_single_string=True) == ["hello"]
        with pytest.raises(ValueError, match="single string"):
            check_documents("hello")

    @pytest.mark.parametrize(
        "bad, error, match",
        [
            (["ok", 3], TypeError, r"X\[1\] is int"),
            ([], ValueError, "empty"),
            (5, TypeError, "iterable"),
            (b"bytes", TypeError, "decode"),
            (np.array([["a", "b"]]), ValueError, "one-dimensional"),
            (["ok", None], TypeError, r"X\[1\] is None \(a missing value\).*replace them with ''"),
            (["ok", float("nan")], TypeError, r"X\[1\] is nan \(a missing value\)"),
            ([b"raw"], TypeError, r"X\[0\] is bytes.*decode bytes first"),
            ([1.5], TypeError, r"X\[0\] is float.*str\(\)"),
        ],
    )
    def test_bad_input_is_named(self, bad, error, match):
        with pytest.raises(error, match=match):
            check_documents(bad)

    def test_name_appears_in_messages(self):
        with pytest.raises(TypeError, match=r"text\[0\] is int"):
            check_documents([1], name="text")


# ------------------------------------------------------------------ token ids
@pytest.mark.parametrize(
    "X, expected",
    [
        ([[3, 4], [5]], True),
        ([np.array([3, 4])], True),
        (np.zeros((2, 3), dtype=np.int64), True),
        ([[1.5, 2.0]], True),  # numbers that are not ids: check_token_ids rejects them
        (["a review"], False),
        ([["a", "b"]], False),
        (np.array(["a", "b"]), False),
        (np.zeros((2, 3)), False),
        ([], False),
        ("a review", False),
    ],
)
def test_is_token_ids(X, expected):
    assert is_token_ids(X) is expected


def test_check_token_ids_keeps_rows_as_integer_arrays():
    rows = check_token_ids([[0, 3, 4], np.array([7], dtype=np.int16), []])
    assert [row.tolist() for row in rows] == [[0, 3, 4], [7], []]
    assert all(np.issubdtype(row.dtype, np.integer) or row.size == 0 for row in rows)


@pytest.mark.parametrize(
    "X, error, match",
    [
        ([[3, -1]], ValueError, r"X\[0\] contains negative token ids \(smallest -1\)"),
        ([[3, 4], "text"], TypeError, r"X\[1\] is a string.*not a mix"),
        ([[3, 4], [1.5]], TypeError, r"X\[1\] is not a 1-D sequence of integer token ids"),
        ([[3, 4], [[1, 2]]], TypeError, r"X\[1\] is not a 1-D sequence"),
        ([[3, 4], [True, False]], TypeError, r"X\[1\] is not a 1-D sequence"),
        ([[3, 4], [1, None]], TypeError, r"X\[1\] is not a 1-D sequence"),
        ([], ValueError, "X is empty"),
    ],
)
def test_check_token_ids_names_the_bad_row(X, error, match):
    with pytest.raises(error, match=match):
        check_token_ids(X)


def test_check_token_ids_offset_numbers_rows_of_a_chunk():
    with pytest.raises(ValueError, match=r"X\[101\]"):
        check_token_ids([[1], [-5]], offset=100)
    assert check_token_ids([], offset=100) == []  # a later chunk may be empty


# ------------------------------------------------------------------------- X
def test_check_X_tells_text_from_ids():
    assert check_X(["a", "b"]) == ("text", ["a", "b"])
    kind, items = check_X([[1, 2], [3]])
    assert kind == "ids" and items == [[1, 2], [3]]
    padded = np.zeros((2, 4), dtype=np.int32)
    kind, items = check_X(padded)
    assert kind == "ids" and items is padded


def test_check_X_reads_a_one_shot_iterator_once():
    assert check_X(iter(["a", "b"])) == ("text", ["a", "b"])
    kind, items = check_X(iter([[1, 2], [3]]))
    assert kind == "ids" and items == [[1, 2], [3]]


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros((3, 4)), TypeError, "2-D float64 array of shape \\(3, 4\\)"),
        (np.zeros((3, 4), dtype=bool), TypeError, "2-D bool array"),
        (None, TypeError, "X is None"),
        ("one review", ValueError, "single string"),
        ([], ValueError, "empty"),
        (np.zeros((0, 4), dtype=np.int64), ValueError, "X is empty"),
    ],
)
def test_check_X_rejects(X, error, match):
    with pytest.raises(error, match=match):
        check_X(X)


# -------------------------------------------------------------------- labels
def test_check_y_returns_a_1d_array():
    with pytest.warns(DataConversionWarning, match="column-vector"):
        y = check_y([[0], [1], [1]], 3)
    assert y.shape == (3,) and y.tolist() == [0, 1, 1]
    assert check_y(np.array(["a", "b"]), 2).tolist() == ["a", "b"]


@pytest.mark.parametrize(
    "y, n, error, match",
    [
        (None, 2, ValueError, "y is required"),
        ("ab", 2, ValueError, "single str"),
        ([0, 1, 0], 2, ValueError, "inconsistent lengths: 2 documents but 3 labels"),
        ([0.0, np.nan], 2, ValueError, r"1 missing label\(s\).*position\(s\) \[1\]"),
        ([None, "pos"], 2, ValueError, "missing label"),
        ([1, "pos"], 2, TypeError, "mixes strings with other types"),
        (np.linspace(0, 1, 4), 4, ValueError, "Unknown label type"),
    ],
)
def test_check_y_rejects(y, n, error, match):
    with pytest.raises(error, match=match):
        check_y(y, n)


def test_check_labels_finds_pandas_missing_values():
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match=r"position\(s\) \[2\]"):
        check_labels(np.array(["a", "b", pd.NA], dtype=object), "y")
    check_labels(np.array(["a", "b"], dtype=object), "y")  # no error
    check_labels(np.array([1, 2]), "y")  # integers cannot be missing


def test_check_classes_first_call_and_later_calls():
    np.testing.assert_array_equal(check_classes(["b", "a", "b"]), ["a", "b"])
    with pytest.raises(ValueError, match="first call to partial_fit"):
        check_classes(None)
    with pytest.raises(ValueError, match="at least two classes"):
        check_classes([1, 1])
    known = np.array([0, 1])
    assert check_classes(None, known) is known
    assert check_classes([1, 0], known) is known
    with pytest.raises(ValueError, match="differs from the classes of the first call"):
        check_classes([0, 1, 2], known)


def test_encode_labels():
    classes = np.array(["neg", "pos"])
    assert encode_labels(np.array(["pos", "neg", "pos"]), classes, "the").tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match=r"not in classes: \['meh'\] \(the first call's classes"):
        encode_labels(np.array(["pos", "meh"]), classes, "the first call's")


# ------------------------------------------------------------ sample weights
def test_check_sample_weight_values():
    assert check_sample_weight(None, 3) is None
    np.testing.assert_array_equal(check_sample_weight(2, 3), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(check_sample_weight([1, 0, 3], 3), [1.0, 0.0, 3.0])
    y = np.array([0, 0, 0, 1])
    np.testing.assert_allclose(
        check_sample_weight(None, 4, y, "balanced"), [2 / 3, 2 / 3, 2 / 3, 2.0]
    )
    np.testing.assert_allclose(
        check_sample_weight([1, 2, 1, 1], 4, y, {0: 1.0, 1: 5.0}), [1.0, 2.0, 1.0, 5.0]
    )
    assert check_sample_weight(None, 4, None, "balanced") is None  # class_weight needs y


@pytest.mark.parametrize(
    "sample_weight, class_weight, error, match",
    [
        (np.ones(3), None, ValueError, r"one weight per document \(4\), got shape \(3,\)"),
        ([1, -1, 1, 1], None, ValueError, "finite and non-negative"),
        ([1, np.nan, 1, 1], None, ValueError, "finite and non-negative"),
        (["a", "b", "c", "d"], None, TypeError, "must hold numbers"),
        (np.zeros(4), None, ValueError, "zero for every document"),
        (None, {0: 0.0, 1: 0.0}, ValueError, "zero for every document"),
        (None, {0: -1.0, 1: 1.0}, ValueError, "class_weight must map classes"),
    ],
)
def test_check_sample_weight_rejects(sample_weight, class_weight, error, match):
    with pytest.raises(error, match=match):
        check_sample_weight(sample_weight, 4, np.array([0, 1, 0, 1]), class_weight)


@pytest.mark.parametrize("ngram_range", [(1, 3), [2, 2], (np.int64(1), 1)])
def test_check_ngram_range_accepts(ngram_range):
    check_ngram_range(ngram_range)


@pytest.mark.parametrize("ngram_range", [(0, 2), (3, 1), (1,), (1, 2, 3), (1.0, 2), (True, 2)])
def test_check_ngram_range_rejects(ngram_range):
    with pytest.raises(ValueError, match="ngram_range must be a pair of integers"):
        check_ngram_range(ngram_range)
