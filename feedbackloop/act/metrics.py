"""Run metrics (``gold.fct_run_metrics``, one row per run) and detection lead time per incident
(``gold.fct_incident_detection``). Every input may be missing (its stage has not run): it counts as empty.

* event-to-insight latency: labels written since the previous run, ``labeled_at`` minus the feedback's
  ``event_at`` (when the customer wrote) and ``ingested_at`` (when it reached bronze); p50 and p95.
* coverage: share of gold feedback labelled (a final label: accepted or reviewed), embedded (has a
  text vector) and routed (member of an incident whose action reached its owner's sink).
* review load: open review queue size, and items queued since the previous run.
* detection lead time: incident ``detected_at`` minus its earliest member's ``event_at``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from feedbackloop.act.tables import INCIDENT_DETECTION, RUN_METRICS
from feedbackloop.lake import Lake

_INPUTS: dict[str, tuple[str, str, list[str]]] = {
    "feedback": ("gold", "fct_feedback", ["doc_id", "event_at", "ingested_at"]),
    "labels": ("gold", "fct_feedback_labels", ["doc_id", "label_status", "recommended_action", "labeled_at"]),
    "embeddings": ("silver", "feedback_embeddings", ["doc_id", "text_kind"]),
    "review_queue": ("gold", "fct_label_review_queue", ["doc_id", "queued_at"]),
    "incidents": ("gold", "dim_incidents", ["incident_id", "status", "first_seen_at", "detected_at"]),
    "members": ("gold", "fct_incident_members", ["incident_id", "doc_id"]),
    "actions": ("gold", "fct_actions", ["source_kind", "source_id", "role", "status", "delivered_at"]),
    "previous": ("gold", "fct_run_metrics", ["computed_at"]),
}
_TS = pa.timestamp("us", tz="UTC")
_EMPTY_TYPES = {
    "event_at": _TS, "ingested_at": _TS, "labeled_at": _TS, "queued_at": _TS, "first_seen_at": _TS,
    "detected_at": _TS, "delivered_at": _TS, "computed_at": _TS,
}  # fmt: skip


def _load(conn: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    for name, (layer, table_name, columns) in _INPUTS.items():
        table = lake.table(layer, table_name)
        present = set(table.to_pyarrow_dataset().schema.names) if table is not None else set()
        if table is not None and set(columns) <= present:
            data = table.to_pyarrow_dataset().to_table(columns=columns)
        else:
            data = pa.table({c: pa.array([], _EMPTY_TYPES.get(c, pa.string())) for c in columns})
        conn.register(f"in_{name}", data)


_DETECTION_SQL = """
with members as (
    select m.incident_id, min(f.event_at) as first_member_event_at, min(f.ingested_at) as first_member_ingested_at
    from in_members m join in_feedback f on f.doc_id = m.doc_id
    group by m.incident_id
),
tickets as (
    select source_id as incident_id, min(delivered_at) as ticket_delivered_at
    from in_actions where source_kind = 'incident' and role = 'primary' group by source_id
)
select
    i.incident_id,
    coalesce(m.first_member_event_at, i.first_seen_at) as first_member_event_at,
    m.first_member_ingested_at,
    i.detected_at,
    epoch(i.detected_at) - epoch(coalesce(m.first_member_event_at, i.first_seen_at)) as lead_time_seconds,
    epoch(i.detected_at) - epoch(m.first_member_ingested_at) as ingest_lead_time_seconds,
    t.ticket_delivered_at
from in_incidents i
left join members m on m.incident_id = i.incident_id
left join tickets t on t.incident_id = i.incident_id
where i.detected_at is not null
order by i.incident_id
"""


def _one(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
    row = conn.execute(sql, params or []).fetchone()
    assert row is not None
    return row


def compute_metrics(lake: Lake, run_id: str, now: datetime, delivered_this_run: int = 0) -> dict[str, Any]:
    """Write one fct_run_metrics row and refresh fct_incident_detection; returns the metrics row."""
    conn = duckdb.connect()
    conn.execute("set TimeZone = 'UTC'")
    _load(conn, lake)
    previous = _one(conn, "select max(computed_at) from in_previous")[0]
    since = previous or datetime(1970, 1, 1, tzinfo=now.tzinfo)

    feedback_count = _one(conn, "select count(distinct doc_id) from in_feedback")[0]
    labeled, actionable = _one(conn, """
        select count(distinct l.doc_id) filter (where l.label_status <> 'needs_review'),
               count(distinct l.doc_id) filter (where coalesce(l.recommended_action, 'no_action') <> 'no_action')
        from in_labels l join in_feedback f using (doc_id)""")  # fmt: skip
    embedded = _one(conn, """select count(distinct e.doc_id) from in_embeddings e join in_feedback f using (doc_id)
                             where e.text_kind = 'text'""")[0]  # fmt: skip
    routed = _one(conn, """
        select count(distinct m.doc_id) from in_members m
        join in_feedback f on f.doc_id = m.doc_id
        join in_actions a on a.source_kind = 'incident' and a.source_id = m.incident_id
        where a.role = 'primary' and a.delivered_at is not null""")[0]  # fmt: skip
    latency = _one(conn, """
        select count(*),
               quantile_cont(epoch(l.labeled_at) - epoch(f.event_at), 0.5),
               quantile_cont(epoch(l.labeled_at) - epoch(f.event_at), 0.95),
               quantile_cont(epoch(l.labeled_at) - epoch(f.ingested_at), 0.5),
               quantile_cont(epoch(l.labeled_at) - epoch(f.ingested_at), 0.95)
        from in_labels l join in_feedback f using (doc_id) where l.labeled_at > ?""", [since])  # fmt: skip
    queue_open, queue_added = _one(
        conn, "select count(*), count(*) filter (where queued_at > ?) from in_review_queue", [since]
    )
    open_incidents = _one(conn, "select count(*) from in_incidents where status = 'open'")[0]
    statuses = dict(conn.execute("select status, count(*) from in_actions group by status").fetchall())

    cursor = conn.execute(_DETECTION_SQL)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    ticket_lags = [
        (r["ticket_delivered_at"] - r["first_member_event_at"]).total_seconds()
        for r in rows if r["ticket_delivered_at"] and r["first_member_event_at"]
    ]  # fmt: skip
    lead_times = {r["incident_id"]: r["lead_time_seconds"] for r in rows}
    leads = sorted(v for v in lead_times.values() if v is not None)

    def share(count: int) -> float | None:
        return round(count / feedback_count, 6) if feedback_count else None

    metrics = {
        "run_id": run_id, "computed_at": now, "feedback_count": feedback_count,
        "labeled_count": labeled, "labeled_share": share(labeled),
        "embedded_count": embedded, "embedded_share": share(embedded),
        "actionable_count": actionable, "routed_count": routed, "routed_share": share(routed),
        "routed_actionable_share": round(routed / actionable, 6) if actionable else None,
        "labeled_this_run": latency[0],
        "event_to_label_p50_seconds": latency[1], "event_to_label_p95_seconds": latency[2],
        "ingest_to_label_p50_seconds": latency[3], "ingest_to_label_p95_seconds": latency[4],
        "event_to_incident_p50_seconds": _median(leads), "event_to_ticket_p50_seconds": _median(sorted(ticket_lags)),
        "review_queue_open": queue_open, "review_queue_added": queue_added, "open_incidents": open_incidents,
        "actions_pending": statuses.get("pending", 0), "actions_sent": statuses.get("sent", 0),
        "actions_failed": statuses.get("failed", 0), "actions_delivered_this_run": delivered_this_run,
        "detection_lead_times": json.dumps(lead_times, sort_keys=True),
    }  # fmt: skip
    lake.append("gold", "fct_run_metrics", pa.Table.from_pylist([metrics], schema=RUN_METRICS))
    detection_rows = [{**r, "run_id": run_id, "computed_at": now} for r in rows]
    lake.overwrite("gold", "fct_incident_detection", pa.Table.from_pylist(detection_rows, schema=INCIDENT_DETECTION))
    return metrics


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
