import numpy as np
import pytest

from skrnn.text import (
    OOV_ID,
    PAD_ID,
    CharVocabulary,
    WordTokenizer,
    check_documents,
    read_token_ids,
    truncate,
)


def test_check_documents_is_reexported_from_validation():
    import skrnn.validation

    assert check_documents is skrnn.validation.check_documents


class TestTokenIds:
    def test_read_token_ids_drops_padding_and_maps_rare_ids_to_oov(self):
        out = read_token_ids([np.array([0, 0, 5, 12, 3], dtype=np.int64), [PAD_ID]], 10)
        assert [seq.tolist() for seq in out] == [[5, OOV_ID, 3], []]
        assert all(seq.dtype == np.int32 for seq in out)

    def test_truncate_keeps_head_or_tail_and_never_returns_empty(self):
        seqs = [np.arange(2, 8, dtype=np.int32), np.zeros(0, np.int32)]
        assert [s.tolist() for s in truncate(seqs, 3, "post")] == [[2, 3, 4], [OOV_ID]]
        assert [s.tolist() for s in truncate(seqs, 3, "pre")] == [[5, 6, 7], [OOV_ID]]
        assert truncate(seqs, None)[0].tolist() == list(range(2, 8))


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
