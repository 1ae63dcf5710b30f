"""Run metrics in gold: latency, coverage, review load and detection lead time, from small known inputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from feedbackloop.act.stage import plan_and_dispatch, record_metrics
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.act_data import T0, feedback_rows, incident, with_sinks, write_incidents
from tests.fakes.ticketing import FakeJira

TS = pa.timestamp("us", tz="UTC")


def write_gold(settings: Settings, labeled_at: datetime) -> None:
    lake = Lake(settings)
    lake.overwrite("gold", "fct_feedback", pa.Table.from_pylist(feedback_rows(10)))
    labels = [
        {"doc_id": f"d{i}", "label_status": "needs_review" if i >= 8 else "accepted",
         "recommended_action": "engineering_ticket" if i < 4 else "no_action", "labeled_at": labeled_at}
        for i in range(9)
    ]  # fmt: skip
    lake.overwrite("gold", "fct_feedback_labels", pa.Table.from_pylist(labels))
    vectors = [{"doc_id": f"d{i}", "text_kind": "text"} for i in range(5)] + [{"doc_id": "d0", "text_kind": "summary"}]
    lake.overwrite("silver", "feedback_embeddings", pa.Table.from_pylist(vectors))
    queue = [{"doc_id": "d8", "queued_at": labeled_at}, {"doc_id": "d9", "queued_at": labeled_at}]
    lake.overwrite(
        "gold",
        "fct_label_review_queue",
        pa.Table.from_pylist(queue, pa.schema([("doc_id", pa.string()), ("queued_at", TS)])),
    )


def test_coverage_latency_review_load_and_lead_time(settings: Settings) -> None:
    labeled_at = datetime.now(UTC)
    write_gold(settings, labeled_at)
    # d1..d3 are the incident's members; d1's event (T0 + 10 min) is the first complaint.
    write_incidents(
        settings, [incident(detected_at=T0 + timedelta(hours=2))], members={"inc-billing-1": ["d1", "d2", "d3"]}
    )
    with FakeJira() as jira:
        plan_and_dispatch(with_sinks(settings, jira=jira), "run-1")
    metrics = record_metrics(settings, "run-1", delivered_this_run=1)

    assert (metrics["feedback_count"], metrics["labeled_count"], metrics["embedded_count"]) == (10, 8, 5)
    assert (metrics["labeled_share"], metrics["embedded_share"]) == (0.8, 0.5)
    assert (metrics["routed_count"], metrics["routed_share"], metrics["actionable_count"]) == (3, 0.3, 4)
    assert metrics["routed_actionable_share"] == 0.75
    assert (metrics["review_queue_open"], metrics["review_queue_added"]) == (2, 2)
    assert metrics["labeled_this_run"] == 9
    expected_p50 = (labeled_at - (T0 + timedelta(minutes=40))).total_seconds()  # median event of d0..d8 is d4
    assert metrics["event_to_label_p50_seconds"] == pytest.approx(expected_p50, abs=1)
    assert metrics["ingest_to_label_p50_seconds"] == pytest.approx(expected_p50 - 1800, abs=1)
    assert json.loads(metrics["detection_lead_times"]) == {"inc-billing-1": 110 * 60.0}
    assert (metrics["actions_sent"], metrics["open_incidents"]) == (1, 1)

    [detection] = Lake(settings).read("gold", "fct_incident_detection").to_pylist()
    assert detection["first_member_event_at"] == T0 + timedelta(minutes=10)
    assert detection["lead_time_seconds"] == 110 * 60.0 and detection["ticket_delivered_at"] is not None


def test_the_next_run_counts_only_what_was_queued_and_labelled_since(settings: Settings) -> None:
    write_gold(settings, datetime.now(UTC) - timedelta(minutes=5))
    record_metrics(settings, "run-1")
    second = record_metrics(settings, "run-2")
    assert (second["review_queue_open"], second["review_queue_added"], second["labeled_this_run"]) == (2, 0, 0)
    assert second["event_to_label_p50_seconds"] is None
    assert Lake(settings).count("gold", "fct_run_metrics") == 2


def test_metrics_on_an_empty_lake_are_zero_and_null_shares(settings: Settings) -> None:
    metrics = record_metrics(settings, "run-1")
    assert metrics["feedback_count"] == 0 and metrics["labeled_share"] is None
    assert metrics["detection_lead_times"] == "{}"
    assert Lake(settings).count("gold", "fct_incident_detection") == 0
