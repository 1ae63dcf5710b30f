"""The query API: semantic (ES: hybrid) search and "more like this", with results that explain themselves."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from feedbackloop.embed.model import Embedder, VectorError, embedding_version, get_embedder
from feedbackloop.index import open_index
from feedbackloop.index.base import Hit, SearchFilters, VectorIndex, check_k, check_query_words, shared_words
from feedbackloop.index.documents import label_values
from feedbackloop.settings import Settings


@dataclass
class SearchResult:
    doc_id: str
    score: float
    text: str | None
    labels: dict[str, Any]
    fields: dict[str, Any]
    why: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SearchSpaceError(RuntimeError):
    """The index was built from another embedding space than the one queries are embedded in."""


def search(
    settings: Settings,
    text: str,
    filters: SearchFilters | None = None,
    k: int = 10,
    index: VectorIndex | None = None,
    embedder: Embedder | None = None,
) -> list[SearchResult]:
    """The k docs closest in meaning to ``text`` that pass ``filters`` (hybrid lexical + vector on ES)."""
    check_k(k, settings.index_max_k)
    if text is None or not text.strip():
        raise ValueError("search text is empty: give some words to search for, or use more-like-this with a doc_id")
    check_query_words(text)
    filters = filters or SearchFilters()
    index = index or open_index(settings)
    _check_space(settings, index)
    embedder = embedder or get_embedder(settings)
    try:
        vector = embedder.embed([text])[0]
    except VectorError as error:
        raise ValueError(f"the embedder returned an unusable vector for the search text: {error}") from error
    hits = index.search(vector, filters, k, text=text)
    return [_explain(hit, text, filters) for hit in hits]


def more_like_this(
    settings: Settings, doc_id: str, filters: SearchFilters | None = None, k: int = 10, index: VectorIndex | None = None
) -> list[SearchResult]:
    """The k indexed docs closest to ``doc_id`` (itself excluded) that pass ``filters``."""
    check_k(k, settings.index_max_k)
    index = index or open_index(settings)
    _check_space(settings, index)
    vector = index.vector_of(doc_id)
    if vector is None:
        raise LookupError(f"doc_id {doc_id!r} is not in the {index.backend} index (no such doc, or it has no vector)")
    base = filters or SearchFilters()
    filters = SearchFilters(base.terms, base.since, base.until, (*base.exclude_doc_ids, doc_id))
    hits = index.search(np.asarray(vector, np.float32), filters, k)
    return [_explain(hit, None, filters, like=doc_id) for hit in hits]


def _check_space(settings: Settings, index: VectorIndex) -> None:
    info = index.info()
    if not info:
        raise LookupError(f"the {index.backend} index is empty: run `feedbackloop index` after the pipeline")
    expected = embedding_version(settings)
    if info["embedding_version"] != expected:
        raise SearchSpaceError(
            f"the {index.backend} index holds vectors of {info['embedding_version']!r} but queries are embedded "
            f"with {expected!r}; run `feedbackloop embed` and `feedbackloop index` to rebuild it"
        )


def _explain(hit: Hit, text: str | None, filters: SearchFilters, like: str | None = None) -> SearchResult:
    fields = dict(hit.fields)
    doc_text = fields.pop("text", None)
    why = []
    if hit.similarity is not None:
        target = f"doc {like}" if like else "the search text"
        why.append(f"meaning: cosine similarity {hit.similarity:.3f} to {target}")
    words = shared_words(text, doc_text)
    if words:
        why.append(f"words in common: {', '.join(words)}")
    if hit.rank_detail:
        why.append(f"ranked by {hit.rank_detail}")
    described = filters.describe()
    if described:
        why.append(f"passes filters: {', '.join(described)}")
    return SearchResult(
        doc_id=hit.doc_id, score=round(hit.score, 6), text=doc_text, labels=label_values(fields), fields=fields, why=why
    )
