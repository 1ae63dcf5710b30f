"""The act stage: decision matrix -> outbox -> sinks, then the run's metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from feedbackloop.act.decisions import load_decisions
from feedbackloop.act.http import AttemptLog
from feedbackloop.act.metrics import compute_metrics
from feedbackloop.act.outbox import dispatch, merge, read_actions, write_outbox
from feedbackloop.act.plan import build_plan
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings


def plan_and_dispatch(settings: Settings, run_id: str, retry_failed: bool = False) -> dict[str, Any]:
    """Fold open incidents and retrain decisions into the outbox and deliver what is pending."""
    matrix = load_decisions(settings.decisions_path)  # a bad matrix fails here, before anything is sent
    lake = Lake(settings)
    now = datetime.now(UTC)
    existing = read_actions(lake)
    plan = build_plan(lake, matrix, set(existing), settings.retrain_action_cooldown_days)
    rows = merge(existing, plan, run_id, now, retry_failed=retry_failed)
    log = AttemptLog(run_id)
    stats = dispatch(settings, rows, log, now)
    write_outbox(lake, rows, log)
    status = Counter(row["status"] for row in rows.values())
    return {
        "incidents_read": plan.incidents_read,
        "retrain_decisions_read": plan.decisions_read,
        "skipped": dict(plan.skipped),
        "actions": len(rows),
        "pending": status.get("pending", 0),
        "sent": status.get("sent", 0),
        "failed": status.get("failed", 0),
        **{k: v for k, v in asdict(stats).items() if k != "errors"},
        "errors": dict(stats.errors),
        "delivered_this_run": stats.created + stats.adopted + stats.updated,
    }


def record_metrics(settings: Settings, run_id: str, delivered_this_run: int = 0) -> dict[str, Any]:
    return compute_metrics(Lake(settings), run_id, datetime.now(UTC), delivered_this_run)
