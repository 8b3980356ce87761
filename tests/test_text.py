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
            (["ok", None], TypeError, r"X\[1\] is None \(a missing value\).*replace them with ''"),
            (["ok", float("nan")], TypeError, r"X\[1\] is nan \(a missing value\)"),
            ([b"raw"], TypeError, r"X\[0\] is bytes.*decode bytes first"),
            ([1.5], TypeError, r"X\[0\] is float.*str\(\)"),
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

    def test_encode_documents_lengths_and_unknown(self):
        vocab = CharVocabulary().fit(["abc"])
        ids, lengths, unknown = vocab.encode_documents(["ab", "", "xc", "zzz", "cab"])
        assert vocab.decode(ids) == "abccab"
        assert lengths.tolist() == [2, 0, 1, 0, 3] and unknown == "xz"
        assert vocab.encode_documents(["ab"])[2] == ""

    def test_encode_documents_chunking_matches(self, monkeypatch):
        docs = ["the quick", "", "brown fox jumps over", "a", "the lazy dog" * 3, "", "?!"]
        vocab = CharVocabulary().fit(docs[:-1])
        expected = vocab.encode_documents(docs)
        monkeypatch.setattr(CharVocabulary, "_chunk_chars", 4)
        monkeypatch.setattr(CharVocabulary, "_chunk_docs", 2)
        assert CharVocabulary().fit(docs[:-1]) == vocab
        got = vocab.encode_documents(docs)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        assert got[2] == expected[2] == "!?"

    def test_surrogates_nul_and_astral_characters_round_trip(self):
        text = "\x00a\ud800😀\U0010ffff\r\n"
        vocab = CharVocabulary().fit([text])
        assert len(vocab) == 7
        assert vocab.decode(vocab.encode(text)) == text

    def test_empty_text_is_an_error(self):
        with pytest.raises(ValueError, match="empty"):
            CharVocabulary().fit([""])


class TestWordTokenizer:
    def test_html_breaks_case_and_punctuation(self):
        tok = WordTokenizer()
        assert tok.tokenize("Great<br /><br />movie! Don't miss it?") == [
            "great",
            "movie",
            "!",
            "don't",
            "miss",
            "it",
            "?",
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
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))

    def test_config_round_trip(self):
        docs = ["one two two three three three"]
        tok = WordTokenizer(max_features=10).fit(docs)
        again = WordTokenizer.from_config(tok.to_config())
        assert again.vocabulary == tok.vocabulary
        assert again.encode(docs)[0].tolist() == tok.encode(docs)[0].tolist()
