"""What the console reads from gold: one function per view, every value bound as a parameter.

A table that does not exist yet (its stage has not run: a first run, or incidents and actions before
the monitor and act stages land) reads as empty, never as an error.
"""

from __future__ import annotations

import json
import statistics
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect, lake_tables

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
ERROR_EVENT_TYPES = ("api_error", "crash", "checkout_failed", "login_failed")
TREND_DAYS = 28


class Warehouse:
    """One DuckDB connection over the lake, rebuilt when a Delta table appears or disappears.

    Views re-read the Delta log on every query, so data is always current; only the set of views is
    cached (building it costs a delta_scan bind per table). Each request gets its own cursor.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._tables: frozenset[tuple[str, str]] = frozenset()
        self._views: set[str] = set()

    @contextmanager
    def cursor(self) -> Iterator[Reader]:
        tables = frozenset(lake_tables(self.settings))
        with self._lock:
            if self._conn is None or tables != self._tables:
                if self._conn is not None:
                    self._conn.close()
                self._conn, self._tables = connect(self.settings), tables
                self._views = {
                    f"{schema}.{name}"
                    for schema, name in self._conn.execute(
                        "select table_schema, table_name from information_schema.tables"
                    ).fetchall()
                }
            cur = self._conn.cursor()
            views = self._views
        try:
            yield Reader(cur, views)
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class Reader:
    """A cursor plus the set of ``layer.table`` views present."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, present: set[str]) -> None:
        self.cur = cur
        self.present = present

    def has(self, *tables: str) -> bool:
        return all(t in self.present for t in tables)

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        result = self.cur.execute(sql, params or [])
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def one(self, sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
        """The first row of an aggregate query (which always returns one)."""
        row = self.cur.execute(sql, params or []).fetchone()
        assert row is not None, sql
        return row

    def value(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.one(sql, params)[0]

    def columns(self, table: str) -> set[str]:
        schema, name = table.split(".")
        found = self.cur.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()
        return {c for (c,) in found}


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _series(rows: list[dict[str, Any]], key: str, days: list[date]) -> dict[str, list[float]]:
    index = {d: i for i, d in enumerate(days)}
    out: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(days))
    for row in rows:
        if row["day"] in index:
            out[str(row[key] if row[key] is not None else "unknown")][index[row["day"]]] += row["n"]
    return dict(out)


def loads(value: Any, default: Any) -> Any:
    """A contract JSON column as Python; a malformed value shows as the raw string, never a 500."""
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


# -- overview --------------------------------------------------------------------------------------
def overview(r: Reader, window_days: int = 60) -> dict[str, Any]:
    out: dict[str, Any] = {
        "total": 0,
        "by_source": [],
        "days": [],
        "volume": {},
        "sentiment": {},
        "by_category": [],
        "labelled": 0,
        "negative_share_7d": None,
        "window": None,
    }
    if not r.has("gold.fct_feedback"):
        return out
    (total, first_seen, last_day) = r.one("select count(*), min(event_date), max(event_date) from gold.fct_feedback")
    out["total"] = total
    if not total or last_day is None:
        return out
    first_day = max(first_seen, last_day - timedelta(days=window_days - 1))
    days = _days(first_day, last_day)
    out["days"] = days
    out["window"] = (first_day, last_day)
    out["by_source"] = [
        (row["source_system"] or "unknown", row["n"])
        for row in r.rows(
            "select source_system, count(*) as n from gold.fct_feedback group by all order by n desc, source_system"
        )
    ]
    volume = r.rows(
        "select event_date as day, source_system, count(*) as n from gold.fct_feedback "
        "where event_date >= ? group by all",
        [first_day],
    )
    out["volume"] = _series(volume, "source_system", days)
    if r.has("gold.fct_feedback_labels"):
        sentiment = r.rows(
            "select event_date as day, sentiment_label, count(*) as n from gold.fct_feedback_labels "
            "where event_date >= ? group by all",
            [first_day],
        )
        order = ("negative", "neutral", "positive")
        series = _series(sentiment, "sentiment_label", days)
        out["sentiment"] = {
            k: series[k] for k in sorted(series, key=lambda s: (s not in order, order.index(s) if s in order else 0, s))
        }
        out["by_category"] = [
            (row["category"] or "unknown", row["n"])
            for row in r.rows(
                "select category, count(*) as n from gold.fct_feedback_labels group by all order by n desc, category"
            )
        ]
        out["labelled"] = sum(n for _, n in out["by_category"])
        neg = r.value(
            "select avg(case when sentiment_label = 'negative' then 1.0 else 0.0 end) "
            "from gold.fct_feedback_labels where event_date > ?",
            [last_day - timedelta(days=7)],
        )
        out["negative_share_7d"] = neg
    return out


def top_themes(r: Reader, limit: int = 8) -> list[dict[str, Any]]:
    """Categories as themes, with a 28-day daily trend and the change of the last 7 days vs the 7 before."""
    if not r.has("gold.fct_feedback_labels"):
        return []
    last = r.value("select max(event_date) from gold.fct_feedback_labels")
    if last is None:
        return []
    days = _days(last - timedelta(days=TREND_DAYS - 1), last)
    rows = r.rows(
        "select event_date as day, category, count(*) as n from gold.fct_feedback_labels "
        "where event_date >= ? and sentiment_label <> 'positive' group by all",
        [days[0]],
    )
    series = _series(rows, "category", days)
    themes: list[dict[str, Any]] = []
    for name, values in series.items():
        recent, before = sum(values[-7:]), sum(values[-14:-7])
        change = None if before == 0 else (recent - before) / before
        themes.append({"name": name, "values": values, "recent": recent, "before": before, "change": change})
    themes.sort(key=lambda t: (-float(t["recent"]), str(t["name"])))
    return themes[:limit]


# -- incidents ------------------------------------------------------------------------------------
def _lead_times(r: Reader) -> dict[str, float]:
    """incident_id -> detection lead time in seconds: the act stage's table, else detected - first seen."""
    if r.has("gold.fct_incident_detection"):
        rows = r.rows("select incident_id, lead_time_seconds from gold.fct_incident_detection")
        return {
            row["incident_id"]: float(row["lead_time_seconds"]) for row in rows if row["lead_time_seconds"] is not None
        }
    if r.has("gold.dim_incidents"):
        rows = r.rows(
            "select incident_id, epoch(detected_at) - epoch(first_seen_at) as s from gold.dim_incidents "
            "where detected_at is not null and first_seen_at is not null"
        )
        return {row["incident_id"]: float(row["s"]) for row in rows}
    return {}


def incidents(r: Reader, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    if not r.has("gold.dim_incidents"):
        return []
    rows = r.rows(
        "select * from gold.dim_incidents where (? is null or status = ?) "
        "order by status = 'open' desc, velocity_per_day desc nulls last, last_seen_at desc nulls last limit ?",
        [status, status, limit],
    )
    rows.sort(key=lambda i: (i.get("status") != "open", SEVERITY_RANK.get(i.get("severity") or "", 9)))
    leads = _lead_times(r)
    trends = _member_trends(r, [i["incident_id"] for i in rows])
    for row in rows:
        row["lead_time_seconds"] = leads.get(row["incident_id"])
        row["trend"] = trends.get(row["incident_id"], [])
    return rows


def _member_trends(r: Reader, incident_ids: list[str]) -> dict[str, list[float]]:
    if not incident_ids or not r.has("gold.fct_incident_members", "gold.fct_feedback"):
        return {}
    last = r.value("select max(event_date) from gold.fct_feedback")
    if last is None:
        return {}
    days = _days(last - timedelta(days=TREND_DAYS - 1), last)
    rows = r.rows(
        "select m.incident_id, f.event_date as day, count(*) as n from gold.fct_incident_members as m "
        "join gold.fct_feedback as f on f.doc_id = m.doc_id "
        "where f.event_date >= ? and list_contains(?, m.incident_id) group by all",
        [days[0], incident_ids],
    )
    return _series(rows, "incident_id", days)


def detection_summary(r: Reader) -> dict[str, Any]:
    leads = list(_lead_times(r).values())
    return {"count": len(leads), "median_seconds": statistics.median(leads) if leads else None}


def incident(r: Reader, incident_id: str) -> dict[str, Any] | None:
    if not r.has("gold.dim_incidents"):
        return None
    found = r.rows("select * from gold.dim_incidents where incident_id = ?", [incident_id])
    if not found:
        return None
    item = found[0]
    item["lead_time_seconds"] = _lead_times(r).get(incident_id)
    item["rule_ids"] = loads(item.get("rule_ids"), [])
    item["evidence"] = loads(item.get("evidence"), {})
    item["members"] = incident_members(r, incident_id)
    item["telemetry"] = (
        r.rows(
            "select * from gold.fct_incident_telemetry where incident_id = ? "
            "order by window_start nulls last limit 200",
            [incident_id],
        )
        if r.has("gold.fct_incident_telemetry")
        else []
    )
    item["actions"] = (
        r.rows(
            "select * from gold.fct_actions where source_kind = 'incident' and source_id = ? order by created_at",
            [incident_id],
        )
        if r.has("gold.fct_actions")
        else []
    )
    return item


def incident_members(r: Reader, incident_id: str, limit: int = 200) -> list[dict[str, Any]]:
    if not r.has("gold.fct_incident_members"):
        return []
    select = ["m.doc_id", "m.similarity", "m.assigned_at"]
    joins = []
    if r.has("gold.fct_feedback"):
        select += ["f.event_at", "f.event_date", "f.source_system", "f.platform", "f.app_version", "f.redacted_text"]
        joins.append("left join gold.fct_feedback as f on f.doc_id = m.doc_id")
    if r.has("gold.fct_feedback_labels"):
        select += ["l.category", "l.severity", "l.sentiment_label"]
        joins.append("left join gold.fct_feedback_labels as l on l.doc_id = m.doc_id")
    return r.rows(
        f"select {', '.join(select)} from gold.fct_incident_members as m {' '.join(joins)} "
        "where m.incident_id = ? order by m.similarity desc nulls last, m.doc_id limit ?",
        [incident_id, limit],
    )


def member_days(members: list[dict[str, Any]]) -> tuple[list[date], dict[str, list[float]]]:
    """Members per day and source, for the incident page's chart."""
    dated = [m for m in members if m.get("event_date")]
    if not dated:
        return [], {}
    days = _days(min(m["event_date"] for m in dated), max(m["event_date"] for m in dated))
    rows = [{"day": m["event_date"], "source_system": m.get("source_system"), "n": 1} for m in dated]
    return days, _series(rows, "source_system", days)


def telemetry_around(
    r: Reader, start: datetime | None, end: datetime | None
) -> tuple[list[date], dict[str, list[float]]]:
    """Error-like telemetry events per day and type from a week before an incident until after it."""
    if start is None or not r.has("gold.fct_telemetry_daily"):
        return [], {}
    first = start.date() - timedelta(days=7)
    last = (end or start).date() + timedelta(days=2)
    rows = r.rows(
        "select event_date as day, event_type, sum(event_count) as n from gold.fct_telemetry_daily "
        "where event_date between ? and ? and list_contains(?, event_type) group by all",
        [first, last, list(ERROR_EVENT_TYPES)],
    )
    days = _days(first, last)
    return (days, _series(rows, "event_type", days)) if rows else ([], {})


# -- actions, drift, run metrics ------------------------------------------------------------------
def actions(r: Reader, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    if not r.has("gold.fct_actions"):
        return []
    return r.rows(
        "select * from gold.fct_actions where (? is null or status = ?) "
        "order by updated_at desc nulls last, action_id limit ?",
        [status, status, limit],
    )


def action_counts(r: Reader) -> list[tuple[str, int]]:
    if not r.has("gold.fct_actions"):
        return []
    return [
        (f"{row['kind']} / {row['status']}", row["n"])
        for row in r.rows("select kind, status, count(*) as n from gold.fct_actions group by all order by n desc, 1, 2")
    ]


def drift_reports(r: Reader, limit: int = 20) -> list[dict[str, Any]]:
    if not r.has("gold.fct_drift_reports"):
        return []
    rows = r.rows("select * from gold.fct_drift_reports order by created_at desc nulls last limit ?", [limit])
    for row in rows:
        row["drifted_columns"] = loads(row.get("drifted_columns"), [])
    return rows


def drift_report(r: Reader, report_id: str) -> dict[str, Any] | None:
    if not r.has("gold.fct_drift_reports"):
        return None
    found = r.rows("select * from gold.fct_drift_reports where report_id = ?", [report_id])
    return found[0] if found else None


def latest_run_metrics(r: Reader) -> dict[str, Any] | None:
    """The newest row of gold.fct_run_metrics, whatever figures the act stage records there."""
    if not r.has("gold.fct_run_metrics"):
        return None
    columns = r.columns("gold.fct_run_metrics")
    order = next((c for c in ("finished_at", "created_at", "run_at", "started_at") if c in columns), None)
    sql = "select * from gold.fct_run_metrics" + (f" order by {order} desc nulls last" if order else "") + " limit 1"
    found = r.rows(sql)
    return found[0] if found else None


# -- search filter choices ------------------------------------------------------------------------
def filter_choices(r: Reader) -> dict[str, list[str]]:
    """Values offered in the search form's drop-downs (any value can still be typed in the URL)."""
    choices: dict[str, list[str]] = {}
    if r.has("gold.fct_feedback"):
        for name, column in (("source", "source_system"), ("platform", "platform")):
            choices[name] = [
                v for (v,) in r.cur.execute(
                    f"select distinct {column} from gold.fct_feedback where {column} is not null order by 1 limit 50"
                ).fetchall()
            ]  # fmt: skip
    if r.has("gold.fct_feedback_labels"):
        for name, column in (("category", "category"), ("severity", "severity"), ("sentiment", "sentiment_label")):
            choices[name] = [
                v for (v,) in r.cur.execute(
                    f"select distinct {column} from gold.fct_feedback_labels "
                    f"where {column} is not null order by 1 limit 50"
                ).fetchall()
            ]  # fmt: skip
    return choices


def feedback_count(r: Reader) -> int:
    if not r.has("gold.fct_feedback"):
        return 0
    return int(r.value("select count(*) from gold.fct_feedback"))


def review_queue_size(r: Reader, reason: str | None = None) -> int:
    """Open review items, counted the way ``label.review.open_queue`` lists them."""
    if not r.has("gold.fct_label_review_queue"):
        return 0
    answered = ""
    if r.has("silver.feedback_label_reviews"):
        answered = (
            "and not exists (select 1 from silver.feedback_label_reviews as r "
            "where r.doc_id = q.doc_id and r.reviewed_at >= q.queued_at)"
        )
    sql = f"select count(*) from gold.fct_label_review_queue as q where (? is null or q.review_reason = ?) {answered}"
    return int(r.value(sql, [reason, reason]))


def open_action_count(r: Reader) -> int:
    if not r.has("gold.fct_actions"):
        return 0
    return int(r.value("select count(*) from gold.fct_actions where status <> 'sent'"))
