"""What every vector index backend offers, and the checks every search goes through first."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import numpy as np

from feedbackloop.embed.model import check_dim, vector_problems

# The fields a search may filter on: the option name users type -> the indexed field it filters.
FILTER_FIELDS: dict[str, str] = {
    "source": "source_system",
    "channel": "channel",
    "locale": "locale",
    "country": "country",
    "language": "language",
    "platform": "platform",
    "app_version": "app_version",
    "product": "product",
    "product_area": "product_area",
    "resolution_status": "resolution_status",
    "severity": "severity",
    "category": "category",
    "sentiment": "sentiment_label",
}
KEYWORD_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(FILTER_FIELDS.values()))
LABEL_FIELDS: tuple[str, ...] = ("category", "severity", "sentiment_label")
# Stored for display and for Kibana; not filterable through the search API.
DISPLAY_FIELDS: tuple[str, ...] = ("text", "rating", "sentiment_score", "labels", "canonical_doc_id", "event_at")


class SearchIndexError(RuntimeError):
    """Base of index failures; the message names the backend and the reason."""


class IndexUnavailableError(SearchIndexError):
    """The backend cannot be reached (or keeps refusing with 429) after the configured retries."""


class IndexRequestError(SearchIndexError):
    """The backend rejected a request or some documents (HTTP 400 and friends); names the doc_ids."""


class UnknownFilterError(ValueError):
    """A filter names a field that cannot be filtered on."""


@dataclass(frozen=True)
class SearchFilters:
    """Keyword filters (indexed field -> accepted values) and an optional event_at window [since, until)."""

    terms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None
    exclude_doc_ids: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        parts = [f"{name}={'|'.join(values)}" for name, values in self.terms.items()]
        if self.since:
            parts.append(f"since {self.since.isoformat()}")
        if self.until:
            parts.append(f"until {self.until.isoformat()}")
        return parts

    @property
    def is_empty(self) -> bool:
        return not self.terms and self.since is None and self.until is None and not self.exclude_doc_ids


def make_filters(
    options: Mapping[str, str | Sequence[str] | None] | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
) -> SearchFilters:
    """Validated filters from user options (``{"platform": "ios", "source": ["app_store", "zendesk"]}``)."""
    terms: dict[str, tuple[str, ...]] = {}
    for name, value in (options or {}).items():
        if name not in FILTER_FIELDS:
            raise UnknownFilterError(
                f"unknown filter field {name!r}; filterable fields: {', '.join(sorted(FILTER_FIELDS))}, since, until"
            )
        if value is None:
            continue
        values = (value,) if isinstance(value, str) else tuple(value)
        values = tuple(v for v in values if v != "")
        if not values:
            raise ValueError(f"filter {name!r} has no value")
        terms[FILTER_FIELDS[name]] = values
    start, end = _as_utc(since, "since"), _as_utc(until, "until")
    if start and end and start >= end:
        raise ValueError(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    return SearchFilters(terms=terms, since=start, until=end)


def _as_utc(value: str | date | datetime | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as error:
            raise ValueError(f"{name} must be an ISO date or timestamp, got {value!r}") from error
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_k(k: int, max_k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool):
        raise ValueError(f"k must be a whole number, got {k!r}")
    if k <= 0:
        raise ValueError(f"k must be at least 1, got {k}")
    if k > max_k:
        raise ValueError(f"k={k} is more than the allowed maximum of {max_k} (FEEDBACKLOOP_INDEX_MAX_K)")
    return k


def check_query_vector(vector: np.ndarray, dim: int) -> np.ndarray:
    """A unit-length float32 query of the index's width, or a ValueError saying what is wrong with it."""
    vector = check_dim(vector, dim, "the query")
    if vector.shape[0] != 1:
        raise ValueError(f"expected one query vector, got {vector.shape[0]}")
    problems = vector_problems(vector)
    if problems:
        raise ValueError(f"the query {problems[0]}")
    return (vector / np.linalg.norm(vector))[0]


@dataclass
class IndexDoc:
    """One searchable doc: its vector, the fields stored with it, and a fingerprint of both."""

    doc_id: str
    vector: np.ndarray
    fields: dict[str, Any]
    fingerprint: str


@dataclass
class Hit:
    doc_id: str
    score: float
    fields: dict[str, Any]
    similarity: float | None = None  # cosine to the query vector, when the backend knows it
    rank_detail: str | None = None  # how the backend ranked it (e.g. RRF of lexical + vector)


class VectorIndex(Protocol):
    """A vector index keyed by doc_id. Writes go to the version being built; readers see the committed one."""

    backend: str

    def begin(self, embedding_version: str, dim: int) -> bool:
        """Prepare to write vectors of this space; True when that means building a new index from scratch."""
        ...

    def fingerprints(self) -> dict[str, str]:
        """doc_id -> fingerprint of everything in the index being written."""
        ...

    def upsert(self, docs: Sequence[IndexDoc]) -> None: ...

    def delete(self, doc_ids: Sequence[str]) -> None: ...

    def commit(self) -> None:
        """Make the writes visible to readers (a new version replaces the old one atomically)."""
        ...

    def info(self) -> dict[str, Any]:
        """embedding_version, dim and doc count of what readers see; {} when nothing is committed."""
        ...

    def vector_of(self, doc_id: str) -> np.ndarray | None: ...

    def search(self, vector: np.ndarray, filters: SearchFilters, k: int, text: str | None = None) -> list[Hit]: ...


def fingerprint(version: str, input_hash: str, fields: Mapping[str, Any]) -> str:
    """Changes whenever the vector's text, its space, or any stored field changes (a correction in gold)."""
    import hashlib
    import json

    payload = json.dumps([version, input_hash, _jsonable(dict(fields))], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "was",
        "are",
        "but",
        "not",
        "you",
        "have",
        "has",
        "had",
        "when",
        "from",
        "they",
        "them",
        "then",
        "than",
        "just",
        "very",
        "can",
        "cant",
        "dont",
        "its",
        "into",
        "your",
        "our",
        "out",
        "all",
        "any",
        "get",
        "got",
        "after",
        "about",
        "after",
        "again",
    ]
)


# Short function words too: a query made only of these (or of _STOPWORDS) carries no meaning to search for.
_SHORT_STOPWORDS = [
    "a", "an", "i", "me", "my", "we", "us", "it", "is", "am", "be", "do", "did", "does", "of", "to", "in", "on",
    "at", "by", "or", "as", "so", "if", "up", "he", "she", "him", "her", "his", "what", "which", "who", "whom",
    "why", "how", "where", "there", "here", "these", "those", "were", "will", "would", "should", "could", "been",
    "being", "some", "such", "only", "own", "same", "too", "also", "more", "most", "other", "each", "both", "few",
    "nor", "off", "over", "under", "again", "once",
]  # fmt: skip
_QUERY_STOPWORDS = _STOPWORDS | frozenset(_SHORT_STOPWORDS)
_ANY_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class StopWordsOnlyError(ValueError):
    """The search text has no word that carries meaning (only stop words, or no words at all)."""


def check_query_words(text: str) -> None:
    """Raise StopWordsOnlyError unless ``text`` has at least one word that is not a stop word."""
    words = [w.lower() for w in _ANY_WORD.findall(text)]
    if not words:
        raise StopWordsOnlyError(f"search text {text!r} has no words: type what the feedback is about")
    if all(w in _QUERY_STOPWORDS for w in words):
        raise StopWordsOnlyError(
            f"search text {text!r} has only common words ({', '.join(dict.fromkeys(words))}): "
            "add a word that carries meaning, e.g. 'checkout' or 'refund'"
        )


def shared_words(query: str | None, text: str | None, limit: int = 6) -> list[str]:
    """Words of the query that also occur in the text: the lexical half of "why it matched"."""
    if not query or not text:
        return []
    in_text = {w.lower() for w in _WORD.findall(text)}
    words = [w for w in dict.fromkeys(w.lower() for w in _WORD.findall(query)) if w not in _STOPWORDS]
    return [w for w in words if w in in_text][:limit]


def version_slug(version: str) -> str:
    """A name-safe, collision-safe form of an embedding version (index names, folder names)."""
    import hashlib

    readable = re.sub(r"[^a-z0-9]+", "-", version.lower()).strip("-")[:40]
    return f"{readable}-{hashlib.sha256(version.encode()).hexdigest()[:8]}"
