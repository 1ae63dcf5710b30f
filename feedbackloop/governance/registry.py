"""Where a doc lives: every stage registers its doc-keyed tables (and any index) once, here.

Erasure deletes a person's docs from every registered table and index; retention does the same
for expired docs; lineage shows what each registered table knows about a doc. A stage that
lands later (labels, embeddings, an index backend, actions) adds itself with one call, from its
own package, and erasure, retention and lineage cover it without changes here::

    from feedbackloop.governance.registry import register_table, register_index
    register_table(DocTable("silver", "feedback_labels", role="labels"))
    register_index("vector_index", lambda settings, doc_ids: backend(settings).delete_by_doc_ids(doc_ids))

A registered table that does not exist (its stage never ran) is skipped, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from feedbackloop.settings import Settings

Root = Literal["lake", "vault"]


@dataclass(frozen=True)
class DocTable:
    """A Delta table with rows per doc (or per telemetry event), found by ``key``."""

    layer: str
    name: str
    key: str = "doc_id"
    role: str = "data"  # what lineage calls it: source, silver, redaction, labels, embeddings, gold, actions
    root: Root = "lake"
    key_is_list: bool = False  # e.g. an action row listing the doc_ids that triggered it
    kind: Literal["doc", "event", "quarantine"] = "doc"  # which id list of an erasure plan applies

    @property
    def label(self) -> str:
        return f"{self.layer}.{self.name}"


IndexDeleter = Callable[[Settings, list[str]], int]  # (settings, doc_ids) -> docs deleted

_TABLES: dict[str, DocTable] = {}
_INDEXES: dict[str, IndexDeleter] = {}


def register_table(table: DocTable) -> None:
    _TABLES[table.label] = table


def register_index(name: str, deleter: IndexDeleter) -> None:
    """An index (vector or search) that can delete docs by doc_id; called during erasure/retention."""
    _INDEXES[name] = deleter


def unregister(label_or_name: str) -> None:
    _TABLES.pop(label_or_name, None)
    _INDEXES.pop(label_or_name, None)


def doc_tables(kind: str = "doc") -> list[DocTable]:
    return [t for t in _TABLES.values() if t.kind == kind]


def indexes() -> dict[str, IndexDeleter]:
    return dict(_INDEXES)


def _register_builtin(tables: Iterable[DocTable]) -> None:
    for table in tables:
        register_table(table)


# Order matters for readers only: derived data first, the source of truth (bronze) last, so a
# run interrupted midway never leaves derived rows whose source is already gone unnoticed.
_register_builtin(
    [
        # The monitor stage: complaint clusters and incidents name doc_ids (gold.fct_incident_*).
        DocTable("gold", "fct_incident_members", role="incidents"),
        DocTable("gold", "fct_incident_telemetry", role="incidents"),
        DocTable("gold", "fct_feedback_cluster_members", role="incidents"),
        DocTable("gold", "fct_feedback", role="gold"),
        DocTable("gold", "fct_feedback_near_duplicates", role="gold"),
        # An action lists the feedback behind it; erasing one of those people drops the row, and the
        # next run finds the existing ticket again by its idempotency key (no second ticket).
        DocTable("gold", "fct_actions", key="doc_ids", role="actions", key_is_list=True),
        DocTable("silver", "feedback_near_duplicate_links", role="embeddings"),
        DocTable("silver", "feedback_embedding_rejects", role="embeddings"),
        DocTable("silver", "int_feedback__latest_changes", key="current_doc_id", role="silver"),
        DocTable("silver", "stg_bronze__feedback_changes", role="silver"),
        DocTable("gold", "fct_label_review_queue", role="labels"),
        DocTable("gold", "fct_feedback_labels", role="labels"),
        DocTable("silver", "feedback_review_requests", role="labels"),
        DocTable("silver", "feedback_label_reviews", role="labels"),
        DocTable("silver", "feedback_labels", role="labels"),
        DocTable("silver", "feedback_embeddings", role="embeddings"),
        DocTable("silver", "feedback_redacted", role="redaction"),
        DocTable("silver", "feedback_enrichment", role="enrichment"),
        DocTable("silver", "int_feedback__deduplicated", role="silver"),
        DocTable("silver", "stg_bronze__feedback", role="silver"),
        DocTable("vault", "pii_vault", role="vault", root="vault"),
        DocTable("bronze", "feedback_changes", role="source"),
        DocTable("bronze", "feedback", role="source"),
        DocTable("silver", "stg_bronze__telemetry_events", key="event_id", role="silver", kind="event"),
        DocTable("bronze", "telemetry_events", key="event_id", role="source", kind="event"),
        DocTable("bronze", "quarantine", key="quarantine_id", role="source", kind="quarantine"),
    ]
)


def _delete_from_vector_index(settings: Settings, doc_ids: list[str]) -> int:
    """The configured vector index (local or Elasticsearch): drop the docs from what readers see."""
    from feedbackloop.index import open_index

    index = open_index(settings)
    info = index.info()
    if not info:
        return 0
    index.begin(info["embedding_version"], info["dim"])
    present = sorted(set(index.fingerprints()) & set(doc_ids))
    if present:
        index.delete(present)
        index.commit()
    return len(present)


def _delete_cached_llm_labels(settings: Settings, doc_ids: list[str]) -> int:
    """The LLM label cache keeps answers (evidence quotes included) by text hash, not by doc.

    The docs' text hashes come from their label rows. Index steps run before any table is erased,
    so those rows are still there. Another doc with the very same text only loses its cached
    answer: it keeps its label, and a relabel would ask the LLM again.
    """
    import pyarrow.dataset as ds

    from feedbackloop.governance.purge import erase_rows
    from feedbackloop.lake import Lake

    lake = Lake(settings)
    labels, cache = lake.table("silver", "feedback_labels"), lake.table("silver", "llm_label_cache")
    if labels is None or cache is None or not doc_ids:
        return 0
    found = labels.to_pyarrow_dataset().to_table(columns=["input_hash"], filter=ds.field("doc_id").isin(doc_ids))
    return erase_rows(cache, "input_hash", {h for h in found.column("input_hash").to_pylist() if h})[0]


# The change log's rows for deletes: (layer, table, the column that identifies a row, its doc column).
_RECORD_DELETES = (
    ("silver", "int_feedback__latest_changes", "source_record_key", "current_doc_id"),
    ("silver", "stg_bronze__feedback_changes", "change_id", "doc_id"),
    ("bronze", "feedback_changes", "change_id", "doc_id"),
)


def _delete_record_deletes(settings: Settings, doc_ids: list[str]) -> int:
    """A delete in the change log names its record but no doc_id (no version survives it), and its
    raw event can hold the deleted row (a Debezium before image, her email included).

    It goes with the record's docs. The records come from bronze, which index steps run before.
    """
    import pyarrow.dataset as ds

    from feedbackloop.governance.purge import erase_rows
    from feedbackloop.lake import Lake

    lake = Lake(settings)
    feedback = lake.table("bronze", "feedback")
    if feedback is None or not doc_ids:
        return 0
    found = feedback.to_pyarrow_dataset().to_table(
        columns=["source_system", "source_record_id"], filter=ds.field("doc_id").isin(doc_ids)
    )
    records = set(zip(found["source_system"].to_pylist(), found["source_record_id"].to_pylist(), strict=True))
    deleted = 0
    for layer, name, key, doc_column in _RECORD_DELETES:
        table = lake.table(layer, name)
        if table is None:
            continue
        rows = table.to_pyarrow_dataset().to_table(
            columns=[key, "source_system", "source_record_id"], filter=ds.field(doc_column).is_null()
        )
        pairs = zip(rows["source_system"].to_pylist(), rows["source_record_id"].to_pylist(), strict=True)
        keys = [k for k, pair in zip(rows[key].to_pylist(), pairs, strict=True) if pair in records]
        deleted += erase_rows(table, key, keys)[0]
    return deleted


register_index("vector_index", _delete_from_vector_index)
register_index("llm_label_cache", _delete_cached_llm_labels)
register_index("record_deletes", _delete_record_deletes)
