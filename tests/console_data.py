"""A small lake for the console tests: gold feedback, labels, a review queue, and small instances of the
issue-5 contract tables (incidents, members, telemetry, actions, drift reports, run metrics) with
exactly the contract's columns (CONTRACTS-5.md)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from feedbackloop.label.tables import FEEDBACK_LABELS
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

START = datetime(2026, 10, 20, 9, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")

# doc_id -> (text, source_system, platform, category, severity, sentiment_label, day offset)
DOCS: dict[str, tuple[str, str, str, str, str, str, int]] = {
    "checkout-ios": ("Checkout hangs on iPhone 15 when I try to pay", "app_store", "ios", "bug", "high", "negative",
                     20),
    "payment-android": ("Payment screen freezes right after I tap the pay button", "google_play", "android", "bug",
                        "high", "negative", 21),
    "pay-spinner": ("The pay button just spins forever and my order never goes through", "app_store", "ios", "bug",
                    "critical", "negative", 21),
    "refund": ("I was charged twice and still have no refund", "zendesk", "web", "billing", "medium", "negative", 18),
    "invoice": ("Where can I download last month's invoice?", "zendesk", "web", "billing", "low", "neutral", 10),
    "darkmode": ("Love the new dark mode, the colours are beautiful", "app_store", "ios", "praise", "low", "positive",
                 5),
    "fast": ("Great app, fast and simple to use", "google_play", "android", "praise", "low", "positive", 12),
    "login": ("Cannot log in since the update, it says wrong password", "google_play", "android", "login", "high",
              "negative", 15),
    "photos": ("The app crashes every time I upload photos", "app_store", "ios", "bug", "medium", "negative", 3),
    "export": ("Please add an export to CSV for my reports", "zendesk", "web", "feature_request", "low", "neutral", 8),
    "xss": ("<script>alert('pwned')</script> checkout ' OR 1=1; drop table gold.fct_feedback; --", "zendesk", "web",
            "bug", "low", "negative", 19),
}  # fmt: skip
QUEUED = ("payment-android", "invoice", "xss")  # docs waiting in the review queue
INCIDENT_ID = "inc-checkout-freeze"
INCIDENT_MEMBERS = ("checkout-ios", "payment-android", "pay-spinner")

FEEDBACK = pa.schema(
    [(n, pa.string()) for n in ("doc_id", "source_system", "channel", "product", "product_area", "app_version",
                                "platform", "locale", "country", "language", "resolution_status", "redacted_text")]
    + [("rating", pa.int32()), ("event_at", TS), ("event_date", pa.date32())]
)  # fmt: skip
GOLD_LABELS = pa.schema(
    [(n, pa.string()) for n in ("doc_id", "label_id", "category", "severity", "sentiment_label", "recommended_action",
                                "label_source", "label_status", "source_system", "platform")]
    + [("event_at", TS), ("event_date", pa.date32())]
)  # fmt: skip
REVIEW_QUEUE = pa.schema(
    [(n, pa.string()) for n in ("doc_id", "label_id", "review_reason", "queued_by", "proposed_category",
                                "proposed_sublabel", "proposed_severity", "proposed_sentiment_label",
                                "proposed_recommended_action", "redacted_text", "source_system")]
    + [("queued_at", TS), ("confidence", pa.float32()), ("event_at", TS), ("rating", pa.int32())]
)  # fmt: skip


def _at(offset: int) -> datetime:
    return START + timedelta(days=offset)


def write_feedback(settings: Settings, docs: dict[str, tuple] = DOCS) -> None:
    lake = Lake(settings)
    feedback, labels, gold_labels = [], [], []
    for i, (doc_id, (text, source, platform, category, severity, sentiment, day)) in enumerate(docs.items()):
        at = _at(day) + timedelta(hours=i)
        feedback.append({
            "doc_id": doc_id, "source_system": source, "channel": "review" if source != "zendesk" else "ticket",
            "product": "shop", "product_area": "checkout", "app_version": "5.4.0", "platform": platform,
            "locale": "en-US", "country": "US", "language": "en", "resolution_status": None, "redacted_text": text,
            "rating": 1 if sentiment == "negative" else 5, "event_at": at, "event_date": at.date(),
        })  # fmt: skip
        label = {"doc_id": doc_id, "label_id": f"L-{doc_id}", "category": category, "severity": severity,
                 "sentiment_label": sentiment, "recommended_action": "engineering_ticket" if category == "bug"
                 else "no_action"}  # fmt: skip
        status = "needs_review" if doc_id in QUEUED else "accepted"
        labels.append({**label, "status": status, "tier": "local", "confidence": 0.5, "labeled_at": at})
        gold_labels.append({**label, "label_source": "model", "label_status": status, "source_system": source,
                            "platform": platform, "event_at": at, "event_date": at.date()})  # fmt: skip
    lake.overwrite("gold", "fct_feedback", pa.Table.from_pylist(feedback, schema=FEEDBACK))
    lake.overwrite("silver", "feedback_labels", pa.Table.from_pylist(labels, schema=FEEDBACK_LABELS))
    lake.overwrite("gold", "fct_feedback_labels", pa.Table.from_pylist(gold_labels, schema=GOLD_LABELS))
    queue = []
    for doc_id in QUEUED:
        text, source, _, category, severity, sentiment, day = docs[doc_id]
        queue.append({
            "doc_id": doc_id, "label_id": f"L-{doc_id}", "review_reason": "low_confidence", "queued_by": "label",
            "proposed_category": category, "proposed_sublabel": None, "proposed_severity": severity,
            "proposed_sentiment_label": sentiment,
            "proposed_recommended_action": "engineering_ticket" if category == "bug" else "no_action",
            "redacted_text": text, "source_system": source, "queued_at": _at(day), "confidence": 0.5,
            "event_at": _at(day), "rating": 1,
        })  # fmt: skip
    lake.overwrite("gold", "fct_label_review_queue", pa.Table.from_pylist(queue, schema=REVIEW_QUEUE))


def write_contract_tables(
    settings: Settings, report_dir: Path, external_url: str = "https://jira.example/browse/SHOP-42"
) -> None:
    """One open incident with members, telemetry evidence, an action with its ticket, a drift report."""
    lake = Lake(settings)
    evidence = {
        "sample_complaints": [{"doc_id": d, "quote": DOCS[d][0][:40]} for d in INCIDENT_MEMBERS],
        "similar_tickets": ["refund"],
        "telemetry": {"error_rate_before": 0.01, "error_rate_during": 0.12, "last_deploy_sha": "abc1234"},
    }
    incident = {
        "incident_id": INCIDENT_ID, "name": "Checkout freezes at payment", "category": "bug",
        "product_area": "checkout", "product": "shop", "status": "open", "severity": "critical",
        "is_escalated": True, "outcome": "product_behaviour", "first_seen_at": _at(20), "last_seen_at": _at(21),
        "member_count": len(INCIDENT_MEMBERS), "velocity_per_day": 1.5, "rule_ids": json.dumps(["volume_spike"]),
        "evidence": json.dumps(evidence), "detected_at": _at(20) + timedelta(hours=5),
        "detection_run_id": "run-1", "updated_at": _at(21),
    }  # fmt: skip
    lake.overwrite("gold", "dim_incidents", pa.Table.from_pylist([incident]))
    members = [{"incident_id": INCIDENT_ID, "doc_id": d, "similarity": 0.9 - i / 10, "assigned_at": _at(21)}
               for i, d in enumerate(INCIDENT_MEMBERS)]  # fmt: skip
    lake.overwrite("gold", "fct_incident_members", pa.Table.from_pylist(members))
    telemetry = [{"incident_id": INCIDENT_ID, "doc_id": d, "error_rate_before": 0.01, "last_deploy_sha": "abc1234",
                  "p95_latency_ms": 2300.0, "window_start": _at(20), "window_end": _at(21)}
                 for d in INCIDENT_MEMBERS]  # fmt: skip
    lake.overwrite("gold", "fct_incident_telemetry", pa.Table.from_pylist(telemetry))
    daily = [{"telemetry_daily_id": f"t{day}", "event_date": _at(day).date(), "event_type": "api_error",
              "product": "shop", "platform": "ios", "app_version": "5.4.0", "event_count": 40 if day >= 20 else 4}
             for day in range(10, 22)]  # fmt: skip
    lake.overwrite("gold", "fct_telemetry_daily", pa.Table.from_pylist(daily))
    actions = [
        {"action_id": f"{INCIDENT_ID}:engineering_ticket", "source_kind": "incident", "source_id": INCIDENT_ID,
         "kind": "engineering_ticket", "owner": "team-checkout", "sink": "jira", "status": "sent",
         "external_id": "SHOP-42", "external_url": external_url, "attempts": 1, "last_error": None,
         "created_at": _at(21), "updated_at": _at(21)},
        {"action_id": "dec-1:retrain_candidate", "source_kind": "retrain_decision", "source_id": "dec-1",
         "kind": "retrain_candidate", "owner": "ml", "sink": "slack", "status": "failed", "external_id": None,
         "external_url": None, "attempts": 3, "last_error": "HTTP 503", "created_at": _at(21), "updated_at": _at(21)},
    ]  # fmt: skip
    lake.overwrite("gold", "fct_actions", pa.Table.from_pylist(actions))
    report_dir.mkdir(parents=True, exist_ok=True)
    html = report_dir / "drift-1.html"
    html.write_text("<html><body><h1>Evidently data drift report</h1></body></html>")
    report = {
        "report_id": "drift-1", "run_id": "run-1", "created_at": _at(21), "reference_start": _at(0),
        "reference_end": _at(14), "current_start": _at(14), "current_end": _at(21), "html_path": str(html),
        "json_path": str(html.with_suffix(".json")), "dataset_drift": True,
        "drifted_columns": json.dumps(["category"]), "embedding_drift": 0.42,
    }  # fmt: skip
    lake.overwrite("gold", "fct_drift_reports", pa.Table.from_pylist([report]))
    metrics = {"run_id": "run-1", "finished_at": _at(21), "event_to_insight_seconds": 5400.0, "labeled_share": 1.0}
    lake.overwrite("gold", "fct_run_metrics", pa.Table.from_pylist([metrics]))


def reviews(settings: Settings) -> list[dict[str, Any]]:
    lake = Lake(settings)
    if not lake.exists("silver", "feedback_label_reviews"):
        return []
    return lake.read("silver", "feedback_label_reviews").to_pylist()


def first_day() -> date:
    return _at(0).date()
