import numpy as np
import pytest

from skrnn.text import OOV_ID, PAD_ID, CharVocabulary, WordTokenizer, check_documents


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
        ],
    )
    def test_bad_input_is_named(self, bad, error, match):
        with pytest.raises(error, match=match):
            check_documents(bad)


class TestCharVocabulary:
    def test_sorted_deterministic_and_round_trip(self):
        text = "hello world, ünïcödé ✓"
        vocab = CharVocabulary().fit([text])
        assert vocab.chars == sorted(set(text))
        ids = vocab.encode(text)
        assert ids.dtype == np.uint8
        assert vocab.decode(ids) == text
        assert CharVocabulary().fit([text[::-1]]) == vocab

    def test_unknown_characters_are_skipped_with_one_warning(self):
        vocab = CharVocabulary().fit(["abc"])
        with pytest.warns(UserWarning, match="2 character") as record:
            ids = vocab.encode("axbyc")
        assert len(record) == 1
        assert vocab.decode(ids) == "abc"

    def test_large_alphabet_uses_two_bytes(self):
        text = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 300))
        vocab = CharVocabulary().fit([text])
        assert vocab.dtype == np.uint16
        assert vocab.decode(vocab.encode(text)) == text

    def test_chunked_encoding_matches(self, monkeypatch):
        monkeypatch.setattr(CharVocabulary, "_chunk_chars", 7)
        text = "the quick brown fox jumps over the lazy dog" * 3
        vocab = CharVocabulary().fit([text])
        assert vocab.decode(vocab.encode(text)) == text

    def test_empty_text_is_an_error(self):
        with pytest.raises(ValueError, match="empty"):
            CharVocabulary().fit([""])


class TestWordTokenizer:
    def test_html_breaks_case_and_punctuation(self):
        tok = WordTokenizer()
        assert tok.tokenize("Great<br /><br />movie! Don't miss it?") == [
            "great", "movie", "!", "don't", "miss", "it", "?",
        ]

    def test_vocabulary_ranked_by_frequency_with_reserved_ids(self):
        docs = ["b a a", "c a b", "d"]
        tok = WordTokenizer(max_features=4).fit(docs)
        # 4 ids: pad, oov, then the two most frequent words.
        assert tok.vocabulary == {"a": 2, "b": 3}
        encoded = tok.encode(["a b c zzz"])
        assert encoded[0].tolist() == [2, 3, OOV_ID, OOV_ID]
        assert PAD_ID not in encoded[0]

    def test_fit_encode_equals_fit_then_encode(self):
        docs = ["the cat sat", "the dog ran", "a cat ran"]
        a = WordTokenizer(max_features=6).fit_encode(docs)
        tok = WordTokenizer(max_features=6).fit(docs)
        b = tok.encode(docs)
        assert all(np.array_equal(x, y) for x, y in zip(a, b))

    def test_config_round_trip(self):
        docs = ["one two two three three three"]
        tok = WordTokenizer(max_features=10).fit(docs)
        again = WordTokenizer.from_config(tok.to_config())
        assert again.vocabulary == tok.vocabulary
        assert again.encode(docs)[0].tolist() == tok.encode(docs)[0].tolist()
