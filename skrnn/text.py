"""Text handling for both estimators: the one place where strings become ids.

* :func:`check_documents` (defined in :mod:`skrnn.validation`) validates what
  users pass as ``X`` (a string, a list, a NumPy array or a pandas Series of
  strings) and returns a list of ``str``.
* :class:`CharVocabulary` maps characters to small integer ids for the NumPy
  character model. The encoded corpus costs one byte per character for
  vocabularies of up to 256 symbols and two bytes up to 65,536.
* :class:`WordTokenizer` turns raw reviews into word-id sequences for the
  Keras classifier: lower-casing, HTML line breaks (``<br />``) removed, and a
  vocabulary of the most frequent tokens; :func:`read_token_ids` applies the
  same id conventions to sequences that come pre-tokenized.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter

import numpy as np

from .validation import check_documents

__all__ = [
    "OOV_ID",
    "PAD_ID",
    "CharVocabulary",
    "WordTokenizer",
    "check_documents",
    "read_token_ids",
    "truncate",
]


def _smallest_id_dtype(n_symbols):
    if n_symbols <= 256:
        return np.dtype(np.uint8)
    if n_symbols <= 65536:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


def _codepoints(text):
    # UTF-32 gives one fixed-width code point per character, so NumPy can work
    # on the text without a Python-level loop over characters. "surrogatepass"
    # keeps lone surrogates (valid in a Python str, e.g. from
    # os.fsdecode or JSON) as ordinary characters instead of raising.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


class CharVocabulary:
    """Sorted set of characters with vectorised encoding and decoding.

    Characters are sorted by code point, so the same text always gives the same
    ids. Characters that were not seen by :meth:`fit` are dropped by
    :meth:`encode` with a single warning per call that names them: they never
    raise ``KeyError``.

    Parameters
    ----------
    chars : iterable of str, optional
        The characters, e.g. restored from a saved model. Use :meth:`fit` to
        learn them from text.

    Attributes
    ----------
    chars : list of str
        The characters, sorted; ``chars[i]`` has id ``i``.
    dtype : numpy.dtype
        ``uint8`` for up to 256 characters, ``uint16`` up to 65,536.
    """

    # Corpora are encoded in chunks so that a 100 MB text never needs a 4-byte
    # code point copy of itself; many short documents are joined into chunks of
    # this size so that a million of them cost a few NumPy calls, not a million.
    _chunk_chars = 1 << 16
    _chunk_docs = 1 << 16

    def __init__(self, chars=()):
        self.chars = sorted(set(chars))
        self._build()

    def _build(self):
        self._codepoints = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        self.dtype = _smallest_id_dtype(len(self.chars))

    def _chunks(self, documents, lengths):
        """Yield ``(first, lengths, codepoints)`` for consecutive pieces of ``documents``.

        Each piece is either several whole documents, ``first`` being the index
        of the first and ``lengths`` their lengths, or one part of a document
        longer than ``_chunk_chars`` (``lengths`` has one entry). ``lengths``
        holds every document's length; the pieces are found with NumPy, so a
        million short documents cost no Python loop over them.
        """
        i, n, size = 0, len(documents), self._chunk_chars
        while i < n:
            if lengths[i] > size:
                doc = documents[i]
                for start in range(0, len(doc), size):
                    part = doc[start : start + size]
                    yield i, np.array([len(part)]), _codepoints(part)
                i += 1
                continue
            # As many whole documents as fit in the budget (at least document i).
            ends = np.cumsum(lengths[i : i + self._chunk_docs])
            j = i + int(np.searchsorted(ends, size, side="right"))
            yield i, lengths[i:j], _codepoints("".join(documents[i:j]))
            i = j

    @staticmethod
    def _lengths(documents):
        return np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))

    def fit(self, documents):
        """Learn the sorted set of characters in ``documents`` (list of str)."""
        seen = np.zeros(0, dtype=np.uint32)
        for _, _, cps in self._chunks(documents, self._lengths(documents)):
            seen = np.union1d(seen, cps)
        if seen.size == 0:
            raise ValueError(
                "The text is empty (every document is ''): a character vocabulary needs at least "
                "one character. Pass non-empty text."
            )
        self.chars = [chr(c) for c in seen.tolist()]
        self._build()
        return self

    def __len__(self):
        return len(self.chars)

    def __eq__(self, other):
        return isinstance(other, CharVocabulary) and self.chars == other.chars

    def encode_documents(self, documents):
        """Encode many documents at once, dropping unknown characters.

        Parameters
        ----------
        documents : list of str

        Returns
        -------
        ids : ndarray of shape (n_known_chars,), dtype ``self.dtype``
            The ids of all documents, concatenated in order.
        lengths : ndarray of shape (n_documents,), dtype int64
            How many of ``ids`` belong to each document.
        unknown : str
            The characters that were dropped, sorted (empty if none).
        """
        doc_chars = self._lengths(documents)
        lengths = np.zeros(len(documents), dtype=np.int64)
        # Written in place: concatenating per-chunk pieces would briefly hold the ids twice.
        ids = np.empty(int(doc_chars.sum()), dtype=self.dtype)
        n_ids, unknown = 0, set()
        for first, doc_lengths, cps in self._chunks(documents, doc_chars):
            pos = np.searchsorted(self._codepoints, cps)
            pos = np.minimum(pos, max(len(self._codepoints) - 1, 0))
            known = (
                self._codepoints[pos] == cps if len(self._codepoints) else np.zeros(len(cps), bool)
            )
            ends = np.cumsum(doc_lengths)
            if known.all():
                counts = np.diff(ends, prepend=0)
            else:
                unknown.update(chr(c) for c in np.unique(cps[~known]).tolist())
                known_before = np.concatenate(([0], np.cumsum(known)))
                counts = np.diff(known_before[ends], prepend=0)
                pos = pos[known]
            lengths[first : first + len(doc_lengths)] += counts
            ids[n_ids : n_ids + len(pos)] = pos
            n_ids += len(pos)
        if n_ids < len(ids):  # unknown characters were dropped
            ids = ids[:n_ids].copy()
        return ids, lengths, "".join(sorted(unknown))

    def encode(self, text, *, warn=True):
        """Encode one string as an array of ids, dropping unknown characters.

        Parameters
        ----------
        text : str
        warn : bool, default=True
            Emit one ``UserWarning`` naming the unknown characters, if any.

        Returns
        -------
        ids : ndarray of shape (n_known_chars,), dtype ``self.dtype``
        """
        ids, _, unknown = self.encode_documents([text])
        if unknown and warn:
            warnings.warn(
                f"{len(unknown)} character(s) not in the vocabulary were skipped: "
                f"{unknown[:40]!r}.",
                UserWarning,
                stacklevel=2,
            )
        return ids

    def decode(self, ids):
        """Turn an iterable of ids back into a string."""
        ids = np.asarray(ids, dtype=np.intp)
        return self._codepoints[ids].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


# Ids 0 and 1 are reserved, as in keras.datasets.imdb: 0 pads, 1 stands for any
# word outside the vocabulary.
PAD_ID = 0
OOV_ID = 1


def read_token_ids(sequences, max_features):
    """Pre-tokenized id sequences as the classifier reads them: int32, padding dropped.

    ``sequences`` are checked 1-D integer arrays (see
    :func:`skrnn.validation.check_token_ids`). Padding (``PAD_ID``) is
    removed and ids at or above ``max_features`` become ``OOV_ID``, as
    ``keras.datasets.imdb`` does with ``num_words``.
    """
    out = []
    for seq in sequences:
        seq = np.asarray(seq)
        seq = seq[seq != PAD_ID]
        out.append(np.where(seq >= max_features, OOV_ID, seq).astype(np.int32, copy=False))
    return out


def truncate(sequences, maxlen, truncating="post"):
    """Id sequences cut to at most ``maxlen`` ids (``None``: whole), never empty.

    ``truncating="post"`` keeps the beginning, ``"pre"`` the end, as in
    ``keras.utils.pad_sequences``. An empty sequence (a document without
    tokens) becomes one out-of-vocabulary id.
    """
    out = []
    for seq in sequences:
        if maxlen is not None and len(seq) > maxlen:
            seq = seq[:maxlen] if truncating == "post" else seq[-maxlen:]
        out.append(seq if len(seq) else np.array([OOV_ID], dtype=np.int32))
    return out


_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Words (with inner apostrophes: "don't") plus "!" and "?", which carry sentiment.
_TOKEN = re.compile(r"\w+(?:'\w+)*|[!?]")


class WordTokenizer:
    """Word-level tokenizer with a frequency-ranked vocabulary.

    Text is lower-cased (optional), HTML line breaks such as ``<br />`` become
    spaces, and tokens are runs of word characters (keeping inner apostrophes)
    plus ``!`` and ``?``. Ids: ``0`` pads, ``1`` is any out-of-vocabulary word,
    and ``2 ..`` are the vocabulary's words from most to least frequent (ties
    broken alphabetically, so fitting is deterministic).

    Parameters
    ----------
    max_features : int, default=20000
        Size of the id space, reserved ids included: the vocabulary keeps the
        ``max_features - 2`` most frequent tokens. This is the embedding's
        ``input_dim``.
    lowercase : bool, default=True
        Lower-case text before tokenizing.

    Attributes
    ----------
    vocabulary : dict of str to int
        Token to id, for ids ``2 ..``.
    """

    def __init__(self, max_features=20000, lowercase=True):
        self.max_features = max_features
        self.lowercase = lowercase
        self.vocabulary = {}

    def tokenize(self, text):
        """Split one raw document into tokens."""
        text = _HTML_BREAK.sub(" ", text)
        if self.lowercase:
            text = text.lower()
        return _TOKEN.findall(text)

    def fit(self, documents):
        """Learn the vocabulary from raw documents (list of str)."""
        self._fit_tokens([self.tokenize(doc) for doc in documents])
        return self

    def _fit_tokens(self, token_lists):
        counts = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        n_words = max(int(self.max_features) - 2, 0)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n_words]
        self.vocabulary = {word: i + 2 for i, (word, _) in enumerate(ranked)}

    def _encode_tokens(self, token_lists):
        get = self.vocabulary.get
        return [
            np.fromiter((get(t, OOV_ID) for t in tokens), dtype=np.int32, count=len(tokens))
            for tokens in token_lists
        ]

    def encode(self, documents):
        """Encode raw documents as a list of int32 id arrays (unpadded)."""
        return self._encode_tokens([self.tokenize(doc) for doc in documents])

    def fit_encode(self, documents):
        """Fit on ``documents`` and encode them, tokenizing only once."""
        token_lists = [self.tokenize(doc) for doc in documents]
        self._fit_tokens(token_lists)
        return self._encode_tokens(token_lists)

    def to_config(self):
        """A JSON-serialisable description, including the vocabulary."""
        words = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {
            "max_features": int(self.max_features),
            "lowercase": bool(self.lowercase),
            "words": words,
        }

    @classmethod
    def from_config(cls, config):
        """Rebuild a fitted tokenizer from :meth:`to_config`'s output."""
        tokenizer = cls(max_features=config["max_features"], lowercase=config["lowercase"])
        tokenizer.vocabulary = {word: i + 2 for i, word in enumerate(config["words"])}
        return tokenizer
