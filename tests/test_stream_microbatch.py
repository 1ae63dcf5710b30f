"""Micro-batches from the landing zone into bronze: exactly once, in event-time order, and the change
log decides which version of a ticket is current, however late its events arrive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from feedbackloop.bronze.tables import INGEST_CHECKPOINT
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings, get_settings
from feedbackloop.stream.landing import landing_zone
from feedbackloop.stream.microbatch import ingest_landed
from feedbackloop.stream.webhooks import LandedRecord, webhook_sources
from tests.streaming import SECRETS, intercom_notification, telemetry, zendesk_event


@pytest.fixture
def stream_settings(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("FEEDBACKLOOP_LANDING_URI", str(tmp_path / "landing"))
    monkeypatch.setenv("FEEDBACKLOOP_WEBHOOK_SECRETS", json.dumps(SECRETS))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def land(settings: Settings, source: str, payload: object, delivery_id: str = "d") -> None:
    """What the receiver writes for one accepted delivery."""
    records = webhook_sources(settings)[source].records(payload)
    now = datetime.now(UTC)
    data = b"".join(r.envelope(source, delivery_id, i, now) for i, r in enumerate(records))
    landing_zone(settings).write(source, data, now)


def bronze(settings: Settings, table: str) -> list[dict]:
    return Lake(settings).read("bronze", table).to_pylist()


def test_landed_deliveries_reach_bronze_once_across_runs(stream_settings: Settings) -> None:
    land(stream_settings, "telemetry", [telemetry("e1"), telemetry("e2")], "d1")
    land(stream_settings, "zendesk", zendesk_event(35), "evt-35")
    first = ingest_landed(stream_settings, "run-1")
    second = ingest_landed(stream_settings, "run-2")
    assert (first.files_processed, first.rows_written) == (2, 3)
    assert (second.files_processed, second.files_skipped, second.rows_read) == (0, 2, 0)
    assert sorted(r["event_id"] for r in bronze(stream_settings, "telemetry_events")) == ["e1", "e2"]
    (change,) = bronze(stream_settings, "feedback_changes")
    assert (change["op"], change["source_record_id"], change["resolution_status"]) == ("insert", "35", "open")


def test_crash_between_bronze_commit_and_checkpoint_costs_a_reread_not_a_duplicate(stream_settings: Settings) -> None:
    land(stream_settings, "telemetry", [telemetry("e1"), telemetry("e2")], "d1")
    ingest_landed(stream_settings, "run-1")
    # The checkpoint as it was before the crash: bronze has the rows, the checkpoint does not know.
    Lake(stream_settings).overwrite("bronze", "ingest_checkpoint", pa.Table.from_pylist([], schema=INGEST_CHECKPOINT))
    rerun = ingest_landed(stream_settings, "run-2")
    assert (rerun.rows_read, rerun.rows_written, rerun.rows_duplicate) == (2, 0, 2)
    assert len(bronze(stream_settings, "telemetry_events")) == 2


def test_each_append_is_in_event_time_order_and_late_arrivals_are_counted(stream_settings: Settings) -> None:
    land(stream_settings, "telemetry", [telemetry("late", "2026-11-01T08:00:00Z"),
                                        telemetry("early", "2026-11-01T07:00:00Z")], "d1")  # fmt: skip
    land(stream_settings, "telemetry", [telemetry("latest", "2026-11-01T09:00:00Z"),
                                        telemetry("earliest", "2026-11-01T06:00:00Z")], "d2")  # fmt: skip
    stats = ingest_landed(stream_settings, "run-1")
    assert stats.rows_out_of_order == 2
    assert [r["event_id"] for r in bronze(stream_settings, "telemetry_events")] == ["earliest", "early", "late",
                                                                                   "latest"]  # fmt: skip


def test_ticket_update_that_arrives_before_its_creation_still_wins(stream_settings: Settings) -> None:
    land(stream_settings, "zendesk", zendesk_event(7, "status_changed", updated_at="2026-11-01T12:00:00Z",
                                                   status="SOLVED", text="Refund please, thanks"), "evt-2")  # fmt: skip
    ingest_landed(stream_settings, "run-1")
    land(stream_settings, "zendesk", zendesk_event(7, "created", updated_at="2026-11-01T10:00:00Z"), "evt-1")
    ingest_landed(stream_settings, "run-2")
    changes = sorted(bronze(stream_settings, "feedback_changes"), key=lambda c: c["changed_at"])
    assert [(c["op"], c["resolution_status"]) for c in changes] == [("insert", "open"), ("update", "solved")]
    assert changes[0]["ingested_at"] > changes[1]["ingested_at"]  # arrival order was the other way round


def test_intercom_delete_lands_as_a_delete_change_without_a_new_version(stream_settings: Settings) -> None:
    land(stream_settings, "intercom", intercom_notification("c1"), "n1")
    land(stream_settings, "intercom", intercom_notification("c1", "conversation.deleted"), "n2")
    ingest_landed(stream_settings, "run-1")
    assert sorted(c["op"] for c in bronze(stream_settings, "feedback_changes")) == ["delete", "insert"]
    assert len(bronze(stream_settings, "feedback")) == 1


def test_a_corrupt_landed_line_is_quarantined_with_file_and_line(stream_settings: Settings) -> None:
    zone = landing_zone(stream_settings)
    good = LandedRecord(telemetry("e1")).envelope("telemetry", "d1", 0, datetime.now(UTC))
    path = zone.write("telemetry", good + b'{"record": \n', datetime.now(UTC))
    stats = ingest_landed(stream_settings, "run-1")
    assert (stats.rows_written, stats.rows_quarantined) == (1, 1)
    (row,) = bronze(stream_settings, "quarantine")
    assert (row["source_file"], row["source_offset"]) == (path, 2)
    assert row["reason"].startswith("invalid JSON in landed file")


def test_files_of_an_unconfigured_source_wait_unchecked(stream_settings: Settings) -> None:
    landing_zone(stream_settings).write("retired_tool", b'{"record": {}}\n', datetime.now(UTC))
    stats = ingest_landed(stream_settings, "run-1")
    assert (stats.files_unknown_source, stats.files_processed) == (1, 0)


def test_object_store_landing_zone_round_trips_through_pyarrow_filesystems(
    stream_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDBACKLOOP_LANDING_URI", f"file://{tmp_path}/bucket/landing")
    get_settings.cache_clear()
    settings = get_settings()
    land(settings, "telemetry", [telemetry("e1")], "d1")
    (landed,) = landing_zone(settings).list_files()
    assert "/bucket/landing/telemetry/received_date=" in landed.path
    assert ingest_landed(settings, "run-1").rows_written == 1
