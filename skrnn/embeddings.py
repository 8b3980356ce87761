"""Pretrained word vectors for the embedding of :class:`~skrnn.LSTMSentimentClassifier`.

:func:`pretrained_vectors` reads the vectors of the vocabulary's words from a
GloVe or word2vec text file, a mapping or a gensim ``KeyedVectors``;
:func:`embedding_matrix` turns them into the embedding's initial table.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .text import OOV_ID, PAD_ID

__all__ = ["embedding_matrix", "pretrained_vectors"]


def pretrained_vectors(embeddings, words):
    """The vectors of ``words`` found in ``embeddings``, as ``(found, dim)``.

    ``embeddings`` is a path to a GloVe or word2vec text file (``word v1 v2
    ...`` per line; a word2vec ``n_words dim`` header line is skipped), a
    mapping from words to vectors, or an object with ``key_to_index`` and
    ``vectors`` (gensim's ``KeyedVectors``). Only the words asked for are kept.
    """
    wanted = set(words)
    found = {}
    if isinstance(embeddings, (str, os.PathLike)):
        path = Path(embeddings)
        if not path.is_file():
            raise FileNotFoundError(
                f"embeddings={str(embeddings)!r}: no such file; pass a GloVe or word2vec text file."
            )
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                parts = line.rstrip().split(" ")
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # word2vec's header: vocabulary size and dimension
                if parts[0] in wanted:
                    try:
                        found[parts[0]] = np.asarray(parts[1:], dtype=np.float32)
                    except ValueError:
                        raise ValueError(
                            f"{path}, line {number}: expected a word then numbers separated by "
                            "spaces (GloVe or word2vec text format)."
                        ) from None
    elif hasattr(embeddings, "key_to_index") and hasattr(embeddings, "vectors"):
        index = embeddings.key_to_index
        found = {
            w: np.asarray(embeddings.vectors[index[w]], dtype=np.float32)
            for w in wanted
            if w in index
        }
    elif isinstance(embeddings, Mapping):
        found = {w: np.asarray(embeddings[w], dtype=np.float32) for w in wanted if w in embeddings}
    else:
        raise TypeError(
            "embeddings must be a path to a GloVe/word2vec text file, a mapping from words to "
            f"vectors or a gensim KeyedVectors, got {type(embeddings).__name__}."
        )
    dims = {v.shape for v in found.values()}
    if not found:
        raise ValueError(
            "None of the vocabulary's words has a vector in embeddings: check that the vectors "
            "are for the same language and casing (the tokenizer lower-cases unless "
            "lowercase=False)."
        )
    if len(dims) != 1 or len(next(iter(dims))) != 1:
        raise ValueError(
            f"embeddings' vectors must all be 1-D and of one length, got shapes {sorted(dims)}."
        )
    return found, next(iter(dims))[0]


def embedding_matrix(embeddings, tokenizer, n_rows, seed):
    """The embedding's initial table ``(n_rows, dim)`` from pretrained vectors, and ``dim``.

    ``tokenizer`` is the fitted :class:`~skrnn.text.WordTokenizer` (``None``
    for token ids, which have no words: ``ValueError``). Rows of words with a
    vector get it; the other words start small and random, as without
    pretrained vectors; the padding and out-of-vocabulary rows are zeros.
    """
    if tokenizer is None:
        raise ValueError(
            "embeddings need words: pass raw documents (strings), not token ids, or "
            "embeddings=None."
        )
    vocabulary = tokenizer.vocabulary
    words = sorted(vocabulary, key=vocabulary.get)
    found, dim = pretrained_vectors(embeddings, words)
    rng = np.random.default_rng(seed)
    weights = rng.uniform(-0.05, 0.05, size=(n_rows, dim)).astype(np.float32)
    weights[[PAD_ID, OOV_ID]] = 0.0
    for word, i in vocabulary.items():
        if word in found:
            weights[i] = found[word]
    return weights, dim
