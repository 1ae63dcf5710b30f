"""What the index should hold: every gold doc with a vector in the current space, its metadata and labels.

Labels come from ``silver.feedback_labels`` (the label stage). The table may be absent or empty, and may
carry only some label columns: whatever is there is indexed, the rest stays null.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from feedbackloop.embed.texts import label_columns, latest_label_order
from feedbackloop.embed.vectors import to_matrix
from feedbackloop.index.base import LABEL_FIELDS, IndexDoc, fingerprint
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect

GOLD_FIELDS = (
    "source_system", "channel", "product", "product_area", "app_version", "platform", "locale", "country",
    "language", "resolution_status", "rating", "event_at", "redacted_text",
)  # fmt: skip
OPTIONAL_LABEL_FIELDS = ("sentiment_score", "labels")
NEAR_DUP_JOIN = "left join gold.fct_feedback_near_duplicates as near_dups on feedback.doc_id = near_dups.doc_id"


@dataclass
class Desired:
    """The docs the index should hold, aligned by position."""

    table: pa.Table  # doc_id, fingerprint and the stored fields
    vectors: np.ndarray
    gold_docs: int
    docs_without_vector: int

    def fingerprints(self) -> dict[str, str]:
        return dict(
            zip(self.table.column("doc_id").to_pylist(), self.table.column("fingerprint").to_pylist(), strict=True)
        )

    def docs(self, doc_ids: set[str], batch: int) -> Iterator[list[IndexDoc]]:
        ids = self.table.column("doc_id").to_pylist()
        positions = [i for i, doc_id in enumerate(ids) if doc_id in doc_ids]
        for start in range(0, len(positions), batch):
            part = positions[start : start + batch]
            rows = self.table.take(pa.array(part, pa.int64())).to_pylist()
            yield [
                IndexDoc(
                    doc_id=row.pop("doc_id"), fingerprint=row.pop("fingerprint"), vector=self.vectors[i], fields=row
                )
                for i, row in zip(part, rows, strict=True)
            ]


def desired_documents(settings: Settings, version: str) -> Desired:
    with connect(settings) as conn:
        tables = {
            (s, t) for s, t in conn.execute("select table_schema, table_name from information_schema.tables").fetchall()
        }
        if ("gold", "fct_feedback") not in tables or ("silver", "feedback_embeddings") not in tables:
            return Desired(_empty(), np.zeros((0, 0), np.float32), 0, 0)
        labels = label_columns(conn)
        label_select, label_join = _labels_sql(labels)
        near_dup = ("gold", "fct_feedback_near_duplicates") in tables
        rows = conn.execute(
            f"""
            with embeddings as (
                select doc_id, input_hash, dim, vector
                from silver.feedback_embeddings
                where embedding_version = ? and text_kind = 'text'
            )
            {label_join}
            select
                feedback.doc_id,
                embeddings.input_hash,
                embeddings.dim,
                embeddings.vector,
                {", ".join(f"feedback.{name}" for name in GOLD_FIELDS)},
                {label_select},
                {"near_dups.canonical_doc_id" if near_dup else "null::varchar as canonical_doc_id"}
            from gold.fct_feedback as feedback
            left join embeddings on feedback.doc_id = embeddings.doc_id
            left join latest_labels on feedback.doc_id = latest_labels.doc_id
            {NEAR_DUP_JOIN if near_dup else ""}
            order by feedback.doc_id
            """,
            [version],
        ).fetch_arrow_table()
    gold_docs = rows.num_rows
    rows = rows.filter(pc.is_valid(rows.column("vector")))
    vectors = to_matrix(rows.column("vector"), rows.column("dim"), version)
    fields = rows.drop_columns(["input_hash", "dim", "vector"]).rename_columns(
        [
            "text" if name == "redacted_text" else name
            for name in rows.drop_columns(["input_hash", "dim", "vector"]).column_names
        ]
    )
    records = fields.to_pylist()
    prints = [fingerprint(version, h, {k: v for k, v in r.items() if k != "doc_id"})
              for h, r in zip(rows.column("input_hash").to_pylist(), records, strict=True)]  # fmt: skip
    table = fields.append_column("fingerprint", pa.array(prints, pa.string()))
    return Desired(table, vectors, gold_docs, gold_docs - rows.num_rows)


def _labels_sql(columns: list[str]) -> tuple[str, str]:
    """(select list, CTE) for the label columns the label stage wrote; nulls for the ones it did not."""
    wanted = (*LABEL_FIELDS, *OPTIONAL_LABEL_FIELDS)
    present = [name for name in wanted if name in columns] if "doc_id" in columns else []
    if not present:
        cte = ", latest_labels as (select null::varchar as doc_id where false)"
        selects = [_null(name) for name in wanted]
    else:
        cte = f""", latest_labels as (
            select * from (
                select doc_id, {", ".join(present)},
                    row_number() over (partition by doc_id {latest_label_order(columns)}) as label_rank
                from silver.feedback_labels
            ) where label_rank = 1
        )"""
        selects = [f"latest_labels.{name}" if name in present else _null(name) for name in wanted]
    return ", ".join(selects), cte


def _null(name: str) -> str:
    kind = {"sentiment_score": "double", "labels": "varchar[]"}.get(name, "varchar")
    return f"null::{kind} as {name}"


def _empty() -> pa.Table:
    return pa.table({"doc_id": pa.array([], pa.string()), "fingerprint": pa.array([], pa.string())})


def label_values(fields: dict[str, Any]) -> dict[str, Any]:
    """The labels present on a stored doc, for display."""
    return {
        name: fields[name]
        for name in (*LABEL_FIELDS, "sentiment_score", "labels")
        if fields.get(name) not in (None, [])
    }
