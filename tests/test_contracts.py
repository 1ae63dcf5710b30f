"""The canonical contract: stable ids, and one definition shared by pydantic, Delta and dbt."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from pydantic import ValidationError

from feedbackloop.bronze.tables import FEEDBACK, TELEMETRY_EVENTS
from feedbackloop.contracts import (
    Channel,
    FeedbackRecord,
    Platform,
    ResolutionStatus,
    TelemetryEvent,
    TelemetryEventType,
)
from feedbackloop.settings import PROJECT_ROOT

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def record(**overrides: object) -> FeedbackRecord:
    fields: dict = dict(source_system="app_store", source_record_id="r1", event_at=NOW, ingested_at=NOW,
                        channel="app_review", customer_text="Checkout hangs", raw_payload="{}", source_file="f",
                        source_offset=1)  # fmt: skip
    fields.update(overrides)
    return FeedbackRecord(**fields)


def bronze_source_columns(table: str) -> dict[str, dict]:
    doc = yaml.safe_load((PROJECT_ROOT / "dbt_project/models/bronze/_bronze__sources.yml").read_text())
    (source,) = doc["sources"]
    (entry,) = [t for t in source["tables"] if t["name"] == table]
    return {c["name"]: c for c in entry.get("columns", [])}


def accepted(column: dict) -> list:
    for test in column.get("data_tests", []):
        if isinstance(test, dict) and "accepted_values" in test:
            return test["accepted_values"]["arguments"]["values"]
    raise AssertionError(f"{column['name']} has no accepted_values test")


def test_doc_id_is_stable_for_the_same_record() -> None:
    assert record().doc_id == record(ingested_at=datetime(2030, 1, 1, tzinfo=UTC)).doc_id


def test_doc_id_changes_when_the_text_changes() -> None:
    assert record().doc_id != record(customer_text="Checkout hangs forever").doc_id


def test_equivalent_unicode_forms_hash_alike() -> None:
    assert record(customer_text="Cafe\u0301 app").text_hash == record(customer_text="Caf\u00e9 app").text_hash


def test_naive_timestamps_are_read_as_utc() -> None:
    assert record(event_at=datetime(2026, 1, 1, 12)).event_at == datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_rating_outside_one_to_five_is_rejected() -> None:
    with pytest.raises(ValidationError, match="rating"):
        record(rating=7)


def test_bronze_feedback_schema_mirrors_the_pydantic_contract() -> None:
    assert set(FEEDBACK.names) == set(FeedbackRecord.model_fields) | {"ingest_run_id"}


def test_bronze_telemetry_schema_mirrors_the_pydantic_contract() -> None:
    assert set(TELEMETRY_EVENTS.names) == set(TelemetryEvent.model_fields) | {"ingest_run_id"}


def test_dbt_source_declares_only_real_bronze_columns() -> None:
    assert set(bronze_source_columns("feedback")) <= set(FEEDBACK.names)
    assert set(bronze_source_columns("telemetry_events")) <= set(TELEMETRY_EVENTS.names)


@pytest.mark.parametrize(
    ("table", "column", "enum"),
    [
        pytest.param("feedback", "channel", Channel, id="channel"),
        pytest.param("feedback", "platform", Platform, id="platform"),
        pytest.param("feedback", "resolution_status", ResolutionStatus, id="resolution_status"),
        pytest.param("telemetry_events", "event_type", TelemetryEventType, id="event_type"),
    ],
)
def test_dbt_accepted_values_match_contract_enums(table: str, column: str, enum: type) -> None:
    assert sorted(accepted(bronze_source_columns(table)[column])) == sorted(e.value for e in enum)


def test_a_bronze_row_holds_exactly_what_the_record_dumps() -> None:
    from feedbackloop.ingest.runner import _fields

    feedback = record(platform="ios", rating=2, resolution_status="open")
    event = TelemetryEvent(event_id="e1", event_at=NOW, ingested_at=NOW, event_type="deploy", deploy_sha="abc1234",
                           raw_payload="{}", source_file="f", source_offset=1)  # fmt: skip
    assert _fields(feedback) == feedback.model_dump()
    assert _fields(event) == event.model_dump()
