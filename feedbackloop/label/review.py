"""Human review: the open queue, accept / correct decisions, and requests from other stages.

A decision is stored with the reviewer, the time and the label before and after; gold applies it
over the model's label (dbt ``fct_feedback_labels``) and drops the item from the queue.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from feedbackloop.label.decision import ACTIONS, SENTIMENTS, SEVERITIES
from feedbackloop.label.tables import FEEDBACK_LABEL_REVIEWS, FEEDBACK_REVIEW_REQUESTS, REVIEW_REASONS
from feedbackloop.label.taxonomy import Taxonomy
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect

REVIEWS = ("silver", "feedback_label_reviews")
REQUESTS = ("silver", "feedback_review_requests")
CORRECTABLE = ("category", "sublabel", "severity", "sentiment_label", "recommended_action")


class ReviewError(ValueError):
    """A review decision that cannot be applied; the message names the doc and the reason."""


@dataclass
class ReviewDecision:
    doc_id: str
    reviewer: str
    action: str  # accept | correct
    changes: dict[str, str | None] = field(default_factory=dict)
    note: str | None = None
    source: str = "cli"
    reviewed_at: datetime | None = None


def open_queue(
    settings: Settings, limit: int | None = None, reason: str | None = None, conn: Any = None
) -> list[dict[str, Any]]:
    """Items in gold's review queue that no review has answered since (including ones made after the build).

    ``conn``: a DuckDB connection from ``warehouse.connect`` to reuse (the console keeps one open).
    """
    if conn is None:
        with connect(settings) as own:
            return open_queue(settings, limit, reason, own)
    tables = {n for (n,) in conn.execute("select table_name from information_schema.tables").fetchall()}
    if "fct_label_review_queue" not in tables:
        return []
    answered = ""
    if "feedback_label_reviews" in tables:
        answered = """and not exists (
            select 1 from silver.feedback_label_reviews as r
            where r.doc_id = q.doc_id and r.reviewed_at >= q.queued_at)"""
    sql = f"""
        select q.* from gold.fct_label_review_queue as q
        where (? is null or q.review_reason = ?) {answered}
        order by q.queued_at, q.doc_id
    """
    if limit:
        sql += f" limit {int(limit)}"
    return conn.execute(sql, [reason, reason]).fetch_arrow_table().to_pylist()


def latest_labels(settings: Settings, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
    lake = Lake(settings)
    if not doc_ids or not lake.exists("silver", "feedback_labels"):
        return {}
    import pyarrow.compute as pc

    rows = lake.read("silver", "feedback_labels", filter_=pc.field("doc_id").isin(doc_ids)).to_pylist()
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["doc_id"] not in latest or row["labeled_at"] > latest[row["doc_id"]]["labeled_at"]:
            latest[row["doc_id"]] = row
    return latest


def _validate(decision: ReviewDecision, taxonomy: Taxonomy, before: dict[str, Any]) -> dict[str, Any]:
    who = f"review of doc {decision.doc_id}"
    if not decision.reviewer.strip():
        raise ReviewError(f"{who}: reviewer is required")
    if decision.action not in ("accept", "correct"):
        raise ReviewError(f"{who}: action must be accept or correct, not {decision.action!r}")
    unknown = set(decision.changes) - set(CORRECTABLE)
    if unknown:
        raise ReviewError(f"{who}: cannot correct {sorted(unknown)}; correctable fields are {list(CORRECTABLE)}")
    changes = {k: v for k, v in decision.changes.items() if v not in (None, "")}
    if decision.action == "correct" and not changes:
        raise ReviewError(f"{who}: a correction needs at least one new value")
    after = {k: before.get(k) for k in CORRECTABLE} | changes
    if after["category"] not in taxonomy.names:
        raise ReviewError(f"{who}: category {after['category']!r} is not in taxonomy {taxonomy.version_id}")
    if "category" in changes and "sublabel" not in changes and changes["category"] != before.get("category"):
        after["sublabel"] = None  # the old sublabel belonged to the old category
    sublabels = taxonomy.category(after["category"]).sublabels
    if after["sublabel"] is not None and after["sublabel"] not in sublabels:
        raise ReviewError(f"{who}: sublabel {after['sublabel']!r} is not one of {after['category']}'s {sublabels}")
    for name, allowed in (("severity", SEVERITIES), ("sentiment_label", SENTIMENTS), ("recommended_action", ACTIONS)):
        if after[name] is not None and after[name] not in allowed:
            raise ReviewError(f"{who}: {name} {after[name]!r} is not one of {list(allowed)}")
    return after


def record_reviews(settings: Settings, taxonomy: Taxonomy, decisions: list[ReviewDecision]) -> tuple[int, list[str]]:
    """Store valid decisions; invalid ones are returned as messages, never half-applied."""
    labels = latest_labels(settings, sorted({d.doc_id for d in decisions}))
    rows, errors = [], []
    for decision in decisions:
        before = labels.get(decision.doc_id)
        if before is None:
            errors.append(f"review of doc {decision.doc_id}: no label exists for this doc")
            continue
        try:
            after = _validate(decision, taxonomy, before)
        except ReviewError as error:
            errors.append(str(error))
            continue
        at = decision.reviewed_at or datetime.now(UTC)
        before_values = {k: before.get(k) for k in CORRECTABLE}
        corrected = {k: (after[k] if after[k] != before_values[k] else None) for k in CORRECTABLE}
        if decision.action == "correct" and after["category"] != before_values["category"]:
            corrected["sublabel"] = after["sublabel"]
        rows.append(
            {
                "review_id": hashlib.sha256(
                    f"{decision.doc_id}|{before['label_id']}|{decision.reviewer}|{at.isoformat()}".encode()
                ).hexdigest()[:32],
                "doc_id": decision.doc_id,
                "label_id": before["label_id"],
                "action": decision.action,
                "reviewer": decision.reviewer.strip(),
                "reviewed_at": at,
                "before_json": json.dumps(before_values, ensure_ascii=False),
                "after_json": json.dumps(after, ensure_ascii=False),
                **(corrected if decision.action == "correct" else dict.fromkeys(CORRECTABLE)),
                "note": decision.note,
                "review_source": decision.source,
            }
        )
    if rows:
        Lake(settings).append(*REVIEWS, pa.Table.from_pylist(rows, schema=FEEDBACK_LABEL_REVIEWS))
    return len(rows), errors


def request_review(
    settings: Settings, doc_ids: list[str], reason: str, requested_by: str, detail: str | None = None
) -> int:
    """Put docs in the review queue on another stage's behalf (e.g. ``new_cluster`` from clustering)."""
    if reason not in REVIEW_REASONS:
        raise ReviewError(f"review reason {reason!r} is not one of {list(REVIEW_REASONS)}")
    now = datetime.now(UTC)
    rows = [
        {
            "request_id": hashlib.sha256(f"{d}|{reason}|{requested_by}|{now.isoformat()}".encode()).hexdigest()[:32],
            "doc_id": d,
            "review_reason": reason,
            "requested_by": requested_by,
            "detail": detail,
            "requested_at": now,
        }
        for d in doc_ids
    ]
    if rows:
        Lake(settings).append(*REQUESTS, pa.Table.from_pylist(rows, schema=FEEDBACK_REVIEW_REQUESTS))
    return len(rows)
