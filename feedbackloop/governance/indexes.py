"""Index deleters for erasure and retention: how a search index forgets doc_ids.

The index stage registers its backend's ``delete_by_doc_ids`` with ``registry.register_index``;
``elasticsearch_deleter`` is that method for any index keyed by a ``doc_id`` keyword field, usable
until (and alongside) the index stage's own backend.
"""

from __future__ import annotations

from typing import Any

from feedbackloop.governance.registry import IndexDeleter
from feedbackloop.settings import Settings

BATCH = 1_000  # terms per delete_by_query: far below Elasticsearch's 65,536 terms limit


def elasticsearch_deleter(client: Any, index: str) -> IndexDeleter:
    def delete(settings: Settings, doc_ids: list[str]) -> int:
        if not client.indices.exists(index=index):
            return 0
        deleted = 0
        for start in range(0, len(doc_ids), BATCH):
            response = client.delete_by_query(
                index=index,
                query={"terms": {"doc_id": doc_ids[start : start + BATCH]}},
                refresh=True,
                conflicts="proceed",
            )
            deleted += int(response.get("deleted") or 0)
        return deleted

    return delete
