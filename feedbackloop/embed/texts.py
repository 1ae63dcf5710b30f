"""What gets embedded: each kept doc's customer text, and its LLM summary when the label stage wrote one."""

from __future__ import annotations

import pyarrow as pa

from feedbackloop.settings import Settings
from feedbackloop.silver.texts import model_inputs
from feedbackloop.warehouse import connect

INPUTS = pa.schema(
    [("doc_id", pa.string()), ("text_kind", pa.string()), ("text", pa.string()), ("input_hash", pa.string())]
)

# The label stage owns silver.feedback_labels; a summary column is optional there, and so is a time
# column telling which label row is the latest for a doc.
_LABEL_TIME_COLUMNS = ("labelled_at", "labeled_at", "created_at")


def embedding_inputs(settings: Settings) -> pa.Table:
    """doc_id, text_kind ('text' | 'summary'), text, input_hash for every kept doc."""
    docs = model_inputs(settings)
    if docs.num_rows == 0:
        return INPUTS.empty_table()
    texts = pa.table(
        {
            "doc_id": docs.column("doc_id"),
            "text_kind": pa.array(["text"] * docs.num_rows, pa.string()),
            "text": docs.column("text"),
            "input_hash": docs.column("input_hash"),
        },
        schema=INPUTS,
    )
    summaries = summary_inputs(settings, docs.select(["doc_id"]))
    return pa.concat_tables([texts, summaries]) if summaries.num_rows else texts


def label_columns(conn: object, table: str = "feedback_labels") -> list[str]:
    """Columns of silver.<table>, or [] when the label stage has not written it (yet)."""
    rows = conn.execute(  # type: ignore[attr-defined]
        "select column_name from information_schema.columns where table_schema = 'silver' and table_name = ?", [table]
    ).fetchall()
    return [name for (name,) in rows]


def latest_label_order(columns: list[str]) -> str:
    """An ORDER BY picking the newest label row per doc when the table says when rows were written."""
    present = [c for c in _LABEL_TIME_COLUMNS if c in columns]
    return f"order by {present[0]} desc" if present else ""


def summary_inputs(settings: Settings, kept: pa.Table) -> pa.Table:
    with connect(settings) as conn:
        columns = label_columns(conn)
        if "summary" not in columns:
            return INPUTS.empty_table()
        conn.register("kept_docs", kept)
        return (
            conn.execute(
                f"""
            with labels as (
                select doc_id, summary,
                    row_number() over (partition by doc_id {latest_label_order(columns)}) as rank
                from silver.feedback_labels
            )
            select labels.doc_id, 'summary' as text_kind, labels.summary as text, md5(labels.summary) as input_hash
            from labels
            inner join kept_docs on kept_docs.doc_id = labels.doc_id
            where labels.rank = 1 and nullif(trim(labels.summary), '') is not null
            """
            )
            .fetch_arrow_table()
            .cast(INPUTS)
        )
