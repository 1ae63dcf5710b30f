"""The current and reference windows, and the labelled feedback (with its stored vectors) inside each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from feedbackloop.drift.config import Windows
from feedbackloop.embed.model import embedding_version
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect

EMBEDDINGS = ("silver", "feedback_embeddings")
WINDOW_SQL = """
select
    labels.doc_id,
    labels.event_at,
    labels.category,
    labels.sentiment_label,
    labels.severity,
    cast(labels.sentiment_score as double) as sentiment_score,
    cast(labels.confidence as double) as confidence,
    cast(labels.rating as double) as rating,
    coalesce(feedback.redacted_text, '') as text
from gold.fct_feedback_labels as labels
left join gold.fct_feedback as feedback
    on labels.doc_id = feedback.doc_id
where labels.event_at > ? and labels.event_at <= ?
"""


@dataclass(frozen=True)
class WindowBounds:
    """Both windows are (start, end]: the newest event belongs to the current window."""

    reference_start: datetime
    reference_end: datetime
    current_start: datetime
    current_end: datetime


def _tables(settings: Settings) -> set[str]:
    with connect(settings) as conn:
        rows = conn.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    return {name for (name,) in rows}


def latest_event_at(settings: Settings) -> datetime | None:
    if "gold.fct_feedback_labels" not in _tables(settings):
        return None
    with connect(settings) as conn:
        (value,) = conn.execute("select max(event_at) from gold.fct_feedback_labels").fetchone() or (None,)
    return value.astimezone(UTC) if value is not None else None


def window_bounds(windows: Windows, anchor: datetime) -> WindowBounds:
    current_start = anchor - timedelta(days=windows.current_days)
    if windows.reference_mode == "fixed":
        assert windows.reference_start is not None and windows.reference_end is not None
        return WindowBounds(_utc(windows.reference_start), _utc(windows.reference_end), current_start, anchor)
    reference_start = current_start - timedelta(days=windows.reference_days)
    return WindowBounds(reference_start, current_start, current_start, anchor)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_window(settings: Settings, start: datetime, end: datetime) -> pd.DataFrame:
    """Labelled docs with start < event_at <= end (gold labels, redacted text); empty when gold has none."""
    if not {"gold.fct_feedback_labels", "gold.fct_feedback"} <= _tables(settings):
        return pd.DataFrame(columns=["doc_id", "event_at", "category", "text"])
    with connect(settings) as conn:
        return conn.execute(WINDOW_SQL, [start, end]).fetch_arrow_table().to_pandas()


def stored_vectors(settings: Settings, doc_ids: list[str]) -> dict[str, np.ndarray]:
    """doc_id -> the embed stage's vector of the customer's text, in the configured embedding space."""
    lake = Lake(settings)
    if not doc_ids or not lake.exists(*EMBEDDINGS):
        return {}
    expr = (
        (pc.field("text_kind") == "text")
        & (pc.field("embedding_version") == embedding_version(settings))
        & pc.field("doc_id").isin(doc_ids)
    )
    table = lake.read(*EMBEDDINGS, columns=["doc_id", "vector", "embedded_at"], filter_=expr)
    if table.num_rows == 0:
        return {}
    table = table.sort_by("embedded_at")  # a re-embedded doc: the newest vector wins
    ids = table.column("doc_id").to_pylist()
    flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    matrix = np.asarray(flat, dtype=np.float32).reshape(len(ids), -1)
    return {doc_id: matrix[i] for i, doc_id in enumerate(ids)}
