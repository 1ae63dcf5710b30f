"""Retention: docs and events older than their source's period are erased like a person is.

Periods are per ``source_system`` in ``FEEDBACKLOOP_RETENTION_DAYS`` (``"*"`` for every other
source; ``telemetry`` for telemetry events). A source without a period is kept forever. Expired
ids go through the same journaled erasure as ``forget`` (every registered table and index, old
Delta versions purged) and one audit row per run records what went.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc
import pyarrow.dataset as ds

from feedbackloop.governance.erasure import ErasureResult, Journal, Plan, Progress, execute
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

TELEMETRY = "telemetry"
DEFAULT = "*"


def cutoffs(settings: Settings, now: datetime) -> dict[str, datetime]:
    """source_system -> oldest event_at that is kept; ``*`` applies to sources not listed."""
    bad = {source: days for source, days in settings.retention_days.items() if days < 1}
    if bad:
        raise ValueError(f"retention periods must be at least 1 day; got {bad}")
    return {source: now - timedelta(days=days) for source, days in settings.retention_days.items()}


def _expired(lake: Lake, layer: str, name: str, key: str, time_column: str, limits: dict[str, datetime]) -> list[str]:
    dt = lake.table(layer, name)
    if dt is None or not limits:
        return []
    dataset = dt.to_pyarrow_dataset()
    if "source_system" not in dataset.schema.names:
        limit = limits.get(TELEMETRY) or limits.get(DEFAULT)
        if limit is None:
            return []
        return dataset.to_table(columns=[key], filter=ds.field(time_column) < limit).column(key).to_pylist()
    named = {s: t for s, t in limits.items() if s not in (DEFAULT, TELEMETRY)}
    flt = None
    for source, limit in named.items():
        part = (ds.field("source_system") == source) & (ds.field(time_column) < limit)
        flt = part if flt is None else flt | part
    if DEFAULT in limits:
        part = ds.field(time_column) < limits[DEFAULT]
        if named:
            part = part & ~ds.field("source_system").isin(sorted(named))
        flt = part if flt is None else flt | part
    if flt is None:
        return []
    return pc.unique(dataset.to_table(columns=[key], filter=flt).column(key)).to_pylist()


def plan_retention(settings: Settings, now: datetime | None = None) -> Plan:
    now = now or datetime.now(UTC)
    limits = cutoffs(settings, now)
    lake = Lake(settings)
    docs = set(_expired(lake, "bronze", "feedback", "doc_id", "event_at", limits))
    docs |= set(_expired(lake, "silver", "stg_bronze__feedback", "doc_id", "event_at", limits))
    telemetry = {k: v for k, v in limits.items() if k == TELEMETRY}
    events = _expired(lake, "bronze", "telemetry_events", "event_id", "event_at", telemetry)
    quarantined = _expired(lake, "bronze", "quarantine", "quarantine_id", "quarantined_at", limits)
    return Plan(sorted(docs), sorted(events), sorted(quarantined))


def enforce_retention(
    settings: Settings, now: datetime | None = None, progress: Progress | None = None
) -> ErasureResult:
    """Erase everything past its source's retention period; a no-op when nothing expired."""
    now = now or datetime.now(UTC)
    plan = plan_retention(settings, now)
    # One journal per day and policy: a crashed run is resumed by the next run that day.
    policy = json.dumps(settings.retention_days, sort_keys=True)
    key = hashlib.sha256(f"retention\x1f{now.date().isoformat()}\x1f{policy}".encode()).hexdigest()
    if plan.empty and Journal(settings).load(key) is None:
        return ErasureResult(request_id="", status="nothing_expired")
    return execute(settings, key, "retention", "source retention", plan, progress)
