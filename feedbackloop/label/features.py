"""Cheap features beside the embedding: VADER's lexicon scores, clause-level polarity and the star rating."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cache

import numpy as np

# vader neg/neu/pos/compound + rating one-hot (1..5, missing) + clause features. New columns are only
# ever appended, so a model trained on the first n_extra columns keeps working (it reads extra[:, :n]).
N_CLAUSE = 7
N_EXTRA = 4 + 6 + N_CLAUSE
# Version of the hand-made features (clause columns, negation marking). Models record the one they
# were trained with; 1 = before clause features and negation marking.
FEATURES_VERSION = 2


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


# A sentence-level score averages "great screen, but the battery died in a day"; the clause that
# follows a contrastive word usually carries the verdict, and a question is seldom an opinion.
_CLAUSE_BREAK = re.compile(r"[.;!?]+(?:\s|$)|\b(?:but|however|although|though|except|yet)\b", re.IGNORECASE)


def clause_features(texts: Sequence[str]) -> np.ndarray:
    """(n, N_CLAUSE): min, max, first and last clause compound; has "?"; "!" count (/3, capped); log length."""
    analyzer = _vader()
    out = np.zeros((len(texts), N_CLAUSE), dtype=np.float32)
    for i, text in enumerate(texts):
        text = (text or "")[:5000]
        if not text.strip():
            continue
        clauses = [c for c in _CLAUSE_BREAK.split(text) if c and c.strip()] or [text]
        compound = [analyzer.polarity_scores(c)["compound"] for c in clauses]
        out[i] = (
            min(compound),
            max(compound),
            compound[0],
            compound[-1],
            float("?" in text),
            min(text.count("!"), 3) / 3,
            math.log1p(len(text.split())) / 4,
        )
    return out


def extra_features(texts: Sequence[str], ratings: Sequence[float | int | None] | None = None) -> np.ndarray:
    """(n, N_EXTRA): VADER scores, rating one-hot, clause features (in that order; see N_EXTRA)."""
    ratings = ratings if ratings is not None else [None] * len(texts)
    return np.hstack([vader_scores(texts), rating_onehot(ratings), clause_features(texts)])


# -- lexical n-grams ----------------------------------------------------------------------------------
# Sentence embeddings blur negation and rare decisive words ("refund", "crash", "not"); hashed word and
# character n-grams keep them. Hashing needs no vocabulary, so a trained model is just arrays.
WORD_HASH_BITS = 16
CHAR_HASH_BITS = 16
N_LEXICAL = 2**WORD_HASH_BITS + 2**CHAR_HASH_BITS


@cache
def _hashers(version: int = FEATURES_VERSION):  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import HashingVectorizer

    common = {"alternate_sign": False, "norm": None, "lowercase": True}
    # Since version 2 the word tokens are those of mark_negation: single characters and "!"/"?" count.
    pattern = {} if version < 2 else {"token_pattern": r"(?u)\b\w+\b|[!?]"}
    return (
        HashingVectorizer(n_features=2**WORD_HASH_BITS, ngram_range=(1, 2), **pattern, **common),
        HashingVectorizer(n_features=2**CHAR_HASH_BITS, analyzer="char_wb", ngram_range=(2, 5), **common),
    )


# Negation scope (Das & Chen 2001; Pang et al. 2002): words after a negator, up to the next punctuation
# mark or contrastive word, become distinct tokens, so "no problem" stops counting as "problem".
_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\s\w]")  # Unicode words: "schön" stays one token
_NEGATORS = frozenset(
    {"not", "no", "never", "cannot", "cant", "without", "nothing", "none", "nobody", "neither", "nor"}
    | {"hardly", "barely", "nt", "aint"}
)
_SCOPE_END = frozenset(".,;:!?()-") | {"but", "however", "although", "though", "yet", "except"}


def mark_negation(text: str) -> str:
    """Lower-cased tokens joined by spaces, with "neg_" before each token inside a negation's scope."""
    out: list[str] = []
    negated = False
    for token in _TOKEN.findall(text.lower().replace("\u2019", "'")):
        if token in _SCOPE_END:
            negated = False
            out.append(token)
            continue
        out.append("neg_" + token if negated else token)
        if token in _NEGATORS or token.endswith("n't"):
            negated = True
    return " ".join(out)


def lexical_counts(texts: Sequence[str], version: int = FEATURES_VERSION):  # type: ignore[no-untyped-def]
    """Sparse (n, N_LEXICAL) sublinear term frequencies of word 1-2-grams (negation-marked since
    version 2) and character 2-5-grams."""
    from scipy.sparse import hstack

    words, chars = _hashers(version)
    clipped = [t[:5000] for t in texts]
    marked = clipped if version < 2 else [mark_negation(t) for t in clipped]
    counts = hstack([words.transform(marked), chars.transform(clipped)]).tocsr().astype(np.float32)
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
