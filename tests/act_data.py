"""Small instances of the contract tables the act stage reads (incidents, members, retrain decisions,
gold feedback), and settings pointing the sinks at the local fakes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from pydantic import SecretStr

from feedbackloop.act.tables import INCIDENT_MEMBERS, INCIDENTS, RETRAIN_DECISIONS
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

T0 = datetime(2026, 10, 20, 16, 0, tzinfo=UTC)


def incident(incident_id: str = "inc-billing-1", **overrides: Any) -> dict[str, Any]:
    row = {
        "incident_id": incident_id,
        "name": "Charged twice at checkout",
        "category": "billing",
        "product_area": "checkout",
        "product": "com.acme.shop",
        "status": "open",
        "severity": "high",
        "is_escalated": False,
        "outcome": "product_behaviour",
        "first_seen_at": T0,
        "last_seen_at": T0 + timedelta(hours=3),
        "member_count": 12,
        "velocity_per_day": 30.0,
        "rule_ids": json.dumps(["category_volume_wow"]),
        "evidence": json.dumps(
            {
                "complaints": [{"doc_id": "d1", "quote": "I was charged twice for one order"}],
                "similar_doc_ids": ["d2"],
                "telemetry": {"error_rate_before": 0.21, "last_deploy_sha": "9aef5d6", "p95_latency_ms": 840},
            }
        ),
        "detected_at": T0 + timedelta(hours=4),
        "detection_run_id": "run-1",
        "updated_at": T0 + timedelta(hours=4),
    }
    row.update(overrides)
    return row


def write_incidents(
    settings: Settings, rows: list[dict[str, Any]], members: dict[str, list[str]] | None = None
) -> None:
    lake = Lake(settings)
    lake.overwrite("gold", "dim_incidents", pa.Table.from_pylist(rows, schema=INCIDENTS))
    member_rows = [
        {"incident_id": iid, "doc_id": doc, "similarity": 0.9, "assigned_at": T0}
        for iid, docs in (members or {}).items() for doc in docs
    ]  # fmt: skip
    lake.overwrite("gold", "fct_incident_members", pa.Table.from_pylist(member_rows, schema=INCIDENT_MEMBERS))


def write_decisions(settings: Settings, rows: list[dict[str, Any]]) -> None:
    Lake(settings).overwrite("gold", "fct_retrain_decisions", pa.Table.from_pylist(rows, schema=RETRAIN_DECISIONS))


def decision(decision_id: str, decided_at: datetime, should_retrain: bool = True) -> dict[str, Any]:
    reasons = [{"signal": "label_drift", "value": 0.31, "threshold": 0.2}] if should_retrain else []
    return {
        "decision_id": decision_id,
        "run_id": f"run-{decision_id}",
        "decided_at": decided_at,
        "should_retrain": should_retrain,
        "reasons": json.dumps(reasons),
        "report_id": f"rep-{decision_id}",
    }


def with_sinks(settings: Settings, **urls: Any) -> Settings:
    """Settings with the named sinks on (jira=FakeJira, servicenow=..., slack=..., webhook=...); fast backoff."""
    update: dict[str, Any] = {"action_backoff_seconds": 0.01, "action_backoff_max_seconds": 0.05,
                              "action_timeout_seconds": 2.0}  # fmt: skip
    if "jira" in urls:
        jira = urls["jira"]
        update |= {"jira_url": jira.url, "jira_user_email": jira.email, "jira_api_token": SecretStr(jira.token)}
    if "jira_url" in urls:
        update |= {"jira_url": urls["jira_url"], "jira_user_email": "bot@acme.example",
                   "jira_api_token": SecretStr("jira-token")}  # fmt: skip
    if "servicenow" in urls:
        snow = urls["servicenow"]
        update |= {"servicenow_url": snow.url, "servicenow_user": snow.user,
                   "servicenow_password": SecretStr(snow.password)}  # fmt: skip
    if "slack" in urls:
        update["slack_webhook_url"] = SecretStr(urls["slack"].webhook_url)
    if "webhook" in urls:
        update |= {"action_webhook_url": urls["webhook"], "action_webhook_secret": SecretStr(urls.get("secret", ""))}
    update |= {k: v for k, v in urls.items() if k in Settings.model_fields}
    return settings.model_copy(update=update)


def feedback_rows(n: int, start: datetime = T0) -> list[dict[str, Any]]:
    return [{"doc_id": f"d{i}", "event_at": start + timedelta(minutes=10 * i),
             "ingested_at": start + timedelta(minutes=10 * i + 30)} for i in range(n)]  # fmt: skip
