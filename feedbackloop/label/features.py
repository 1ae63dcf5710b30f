"""Cheap features beside the embedding: VADER's lexicon scores and the star rating when there is one."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

N_EXTRA = 4 + 6  # vader neg/neu/pos/compound + rating one-hot (1..5, missing)


@cache
def _vader():  # type: ignore[no-untyped-def]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_scores(texts: Sequence[str]) -> np.ndarray:
    """(n, 4): VADER neg, neu, pos, compound; its lexicon ships in the package and covers emoji."""
    analyzer = _vader()
    out = np.zeros((len(texts), 4), dtype=np.float32)
    for i, text in enumerate(texts):
        if text:
            s = analyzer.polarity_scores(text[:5000])
            out[i] = (s["neg"], s["neu"], s["pos"], s["compound"])
    return out


def rating_onehot(ratings: Sequence[float | int | None]) -> np.ndarray:
    out = np.zeros((len(ratings), 6), dtype=np.float32)
    for i, rating in enumerate(ratings):
        if rating is None or rating != rating or not 1 <= round(float(rating)) <= 5:
            out[i, 5] = 1.0
        else:
            out[i, round(float(rating)) - 1] = 1.0
    return out


def extra_features(texts: Sequence[str], ratings: Sequence[float | int | None] | None = None) -> np.ndarray:
    ratings = ratings if ratings is not None else [None] * len(texts)
    return np.hstack([vader_scores(texts), rating_onehot(ratings)])


# -- lexical n-grams ----------------------------------------------------------------------------------
# Sentence embeddings blur negation and rare decisive words ("refund", "crash", "not"); hashed word and
# character n-grams keep them. Hashing needs no vocabulary, so a trained model is just arrays.
WORD_HASH_BITS = 16
CHAR_HASH_BITS = 16
N_LEXICAL = 2**WORD_HASH_BITS + 2**CHAR_HASH_BITS


@cache
def _hashers():  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import HashingVectorizer

    common = {"alternate_sign": False, "norm": None, "lowercase": True}
    return (
        HashingVectorizer(n_features=2**WORD_HASH_BITS, ngram_range=(1, 2), **common),
        HashingVectorizer(n_features=2**CHAR_HASH_BITS, analyzer="char_wb", ngram_range=(2, 5), **common),
    )


def lexical_counts(texts: Sequence[str]):  # type: ignore[no-untyped-def]
    """Sparse (n, N_LEXICAL) sublinear term frequencies of word 1-2-grams and character 2-5-grams."""
    from scipy.sparse import hstack

    words, chars = _hashers()
    clipped = [t[:5000] for t in texts]
    counts = hstack([words.transform(clipped), chars.transform(clipped)]).tocsr().astype(np.float32)
    counts.data = np.log1p(counts.data)
    return counts


def fit_idf(counts) -> np.ndarray:  # type: ignore[no-untyped-def]
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float32)
    n = counts.shape[0]
    return (np.log((1 + n) / (1 + document_frequency)) + 1).astype(np.float32)


def tfidf(counts, idf: np.ndarray):  # type: ignore[no-untyped-def]
    from sklearn.preprocessing import normalize

    weighted = counts.multiply(idf.reshape(1, -1)).tocsr()
    return normalize(weighted, norm="l2", copy=False)
