"""Lineage of one gold row: its source record (file, offset), every run that touched it and the
code version of each run, plus whatever later stages registered (labels with their prompt version
and model ids, embeddings, actions triggered). A stage whose table is absent is reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from feedbackloop.governance import registry
from feedbackloop.governance.registry import DocTable
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

# Columns never shown: text (PII or not, lineage is about provenance) and bulky payloads.
HIDDEN = {
    "raw_payload", "customer_text", "agent_text", "system_notes", "clean_text", "clean_agent_text",
    "clean_system_notes", "redacted_text", "redacted_agent_text", "redacted_system_notes", "vector", "value",
}  # fmt: skip
BUILTIN_ROLES = {"source", "silver", "gold", "enrichment", "redaction", "vault"}


class LineageNotFound(LookupError):
    """No gold row has that id."""


@dataclass
class Lineage:
    doc_id: str
    gold: dict[str, Any]
    source: dict[str, Any]
    copies: list[dict[str, Any]] = field(default_factory=list)  # versions and duplicates folded into this row
    stages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # role -> rows of registered tables
    absent: list[str] = field(default_factory=list)  # registered tables that do not exist (stage not run)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run_id -> flow, code version, start

    def as_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id, "gold": self.gold, "source": self.source, "copies": self.copies,
            "stages": self.stages, "absent": self.absent, "runs": self.runs,
        }  # fmt: skip


def _rows(lake: Lake, table: DocTable, doc_id: str) -> list[dict[str, Any]] | None:
    dt = lake.table(table.layer, table.name)
    if dt is None:
        return None
    dataset = dt.to_pyarrow_dataset()
    columns = [c for c in dataset.schema.names if c not in HIDDEN]
    if table.key_is_list:
        rows = dataset.to_table(columns=columns).to_pylist()
        return [r for r in rows if doc_id in (r.get(table.key) or [])]
    return dataset.to_table(columns=columns, filter=ds.field(table.key) == doc_id).to_pylist()


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items() if k not in HIDDEN}


def lineage(settings: Settings, doc_id: str) -> Lineage:
    lake = Lake(settings)
    gold_rows = _rows(lake, DocTable("gold", "fct_feedback"), doc_id) or []
    if not gold_rows:
        raise LineageNotFound(f"no row with doc_id {doc_id!r} in gold.fct_feedback")
    source_rows = _rows(lake, DocTable("bronze", "feedback"), doc_id) or []
    source = source_rows[0] if source_rows else {}
    result = Lineage(doc_id, _plain(gold_rows[0]), _plain(source))
    dedup = lake.table("silver", "int_feedback__deduplicated")
    if dedup is not None:
        folded = dedup.to_pyarrow_dataset().to_table(
            columns=["doc_id"], filter=(ds.field("kept_doc_id") == doc_id) & (ds.field("doc_id") != doc_id)
        )
        ids = folded.column("doc_id").to_pylist()
        bronze = lake.table("bronze", "feedback")
        if ids and bronze is not None:
            copies = bronze.to_pyarrow_dataset().to_table(
                columns=["doc_id", "source_record_id", "source_file", "source_offset", "ingest_run_id", "ingested_at"],
                filter=ds.field("doc_id").isin(ids),
            )
            result.copies = [_plain(r) for r in copies.to_pylist()]
    for table in registry.doc_tables("doc"):
        if table.role in BUILTIN_ROLES - {"enrichment", "redaction"} or table.root == "vault":
            continue
        rows = _rows(lake, table, doc_id)
        if rows is None:
            result.absent.append(table.label)
            continue
        result.stages.setdefault(table.role, []).extend({"table": table.label, **_plain(r)} for r in rows)
    result.runs = _runs(lake, result)
    return result


def _run_ids(result: Lineage) -> set[str]:
    found: set[str] = set()
    rows = [result.gold, result.source, *result.copies, *(r for rows in result.stages.values() for r in rows)]
    for row in rows:
        found |= {str(v) for k, v in row.items() if k.endswith("run_id") and v}
    return found


def _runs(lake: Lake, result: Lineage) -> dict[str, dict[str, Any]]:
    ids = sorted(_run_ids(result))
    dt = lake.table("governance", "runs")
    if dt is None or not ids:
        return {run_id: {"code_version": None} for run_id in ids}
    table: pa.Table = dt.to_pyarrow_dataset().to_table(filter=ds.field("run_id").isin(ids))
    known = {r["run_id"]: _plain(r) for r in table.to_pylist()}
    return {run_id: known.get(run_id, {"code_version": None}) for run_id in ids}


@dataclass
class AggregateLineage:
    """A gold aggregate row (one day x slice) and the source records counted in it."""

    table: str
    row_id: str
    docs: int
    sources: list[dict[str, Any]]  # up to ``limit`` of them: doc_id, file, offset, ingest run

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "row_id": self.row_id, "docs": self.docs, "sources": self.sources}


# Aggregate gold tables: (key column, the fct_feedback columns they group by).
AGGREGATES = {
    "fct_feedback_daily_volume": (
        "daily_volume_id",
        ["event_date", "source_system", "product", "product_area", "platform", "app_version"],
    ),
}


def aggregate_lineage(settings: Settings, row_id: str, limit: int = 50) -> AggregateLineage:
    """Which source records a gold aggregate row counts, with their files and offsets."""
    from feedbackloop.warehouse import connect

    with connect(settings) as conn:
        present = {r[0] for r in conn.execute("select table_name from information_schema.tables").fetchall()}
        for table, (key, columns) in AGGREGATES.items():
            if table not in present or "feedback" not in present:
                continue
            join = " and ".join(f"fact.{c} is not distinct from agg.{c}" for c in columns)
            sql = f"""
                select fact.doc_id, source.source_file, source.source_offset, source.ingest_run_id,
                       count(*) over () as docs
                from gold.{table} as agg
                inner join gold.fct_feedback as fact on {join}
                left join bronze.feedback as source on source.doc_id = fact.doc_id
                where agg.{key} = ?
                order by source.source_file, source.source_offset
                limit ?
            """
            rows = conn.execute(sql, [row_id, limit]).fetchall()
            if rows:
                sources = [
                    {"doc_id": r[0], "source_file": r[1], "source_offset": r[2], "ingest_run_id": r[3]} for r in rows
                ]
                return AggregateLineage(f"gold.{table}", row_id, int(rows[0][4]), sources)
    raise LineageNotFound(f"no row with id {row_id!r} in gold.fct_feedback or any gold aggregate")
