"""Index sync: make the index hold exactly what gold holds, by comparing fingerprints.

The index itself records what it holds (doc_id -> fingerprint), so there is no checkpoint to drift:
a rerun finds nothing to do, a run after a failed one finds what that run missed, deletions in gold
become deletes, and corrections (new text, labels, status) change the fingerprint and become upserts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from feedbackloop.embed.model import embedding_version
from feedbackloop.index.base import VectorIndex
from feedbackloop.index.documents import desired_documents
from feedbackloop.settings import Settings

BATCH = 2000


@dataclass
class SyncStats:
    backend: str
    embedding_version: str
    gold_docs: int = 0
    docs_without_vector: int = 0
    rebuilt: bool = False
    upserted: int = 0
    deleted: int = 0
    unchanged: int = 0
    indexed_docs: int = 0


def sync_index(settings: Settings, index: VectorIndex, progress: Callable[[int, int], None] | None = None) -> SyncStats:
    version = embedding_version(settings)
    stats = SyncStats(backend=index.backend, embedding_version=version)
    desired = desired_documents(settings, version)
    stats.gold_docs, stats.docs_without_vector = desired.gold_docs, desired.docs_without_vector
    dim = desired.vectors.shape[1] if desired.vectors.size else settings.embedding_dim
    stats.rebuilt = index.begin(version, dim)
    have = index.fingerprints()
    want = desired.fingerprints()
    to_upsert = {doc_id for doc_id, fp in want.items() if have.get(doc_id) != fp}
    to_delete = sorted(set(have) - set(want))
    stats.unchanged = len(want) - len(to_upsert)
    total = len(to_upsert) + len(to_delete)
    for docs in desired.docs(to_upsert, BATCH):
        index.upsert(docs)
        stats.upserted += len(docs)
        if progress:
            progress(stats.upserted, total)
    for start in range(0, len(to_delete), BATCH):
        index.delete(to_delete[start : start + BATCH])
        stats.deleted += len(to_delete[start : start + BATCH])
    index.commit()
    stats.indexed_docs = len(want)
    return stats
