"""Index: gold docs with their vectors in a searchable index (embedded local, or Elasticsearch 8/9)."""

from __future__ import annotations

from feedbackloop.index.base import VectorIndex
from feedbackloop.settings import Settings


def open_index(settings: Settings) -> VectorIndex:
    """The configured backend; both satisfy the same VectorIndex interface."""
    if settings.index_backend == "elasticsearch":
        from feedbackloop.index.elastic import ElasticIndex

        return ElasticIndex(settings)
    from feedbackloop.index.local import LocalIndex

    return LocalIndex.from_settings(settings)
