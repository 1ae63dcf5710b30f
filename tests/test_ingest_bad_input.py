"""Bad input never crashes a run and is never lost: every row is written, a duplicate, or quarantined."""

from __future__ import annotations

import json

import pytest

from feedbackloop.ingest.runner import IngestStats, ingest_inbox
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.samples import app_store_row, telemetry_event, write_app_store, write_jsonl, write_zendesk, zendesk_ticket


def quarantine(settings: Settings) -> list[dict]:
    return Lake(settings).read("bronze", "quarantine").to_pylist()


def assert_nothing_lost(stats: IngestStats) -> None:
    assert stats.rows_read == stats.rows_written + stats.rows_duplicate + stats.rows_quarantined


def test_empty_file_is_counted_and_checkpointed(settings: Settings) -> None:
    path = settings.inbox_dir / "telemetry" / "empty.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("")
    stats = ingest_inbox(settings, "run-1")
    assert (stats.files_processed, stats.files_empty, stats.rows_read) == (1, 1, 0)
    assert ingest_inbox(settings, "run-2").files_skipped == 1


def test_truncated_zendesk_export_keeps_complete_tickets_and_quarantines_the_rest(settings: Settings) -> None:
    path = write_zendesk(settings.inbox_dir / "zendesk" / "export.json", [zendesk_ticket(1), zendesk_ticket(2)])
    text = path.read_text()
    path.write_text(text[: text.index('"id": 2') + 20])  # cut mid-way through the second ticket
    stats = ingest_inbox(settings, "run-1")
    assert stats.rows_written == 1
    (row,) = quarantine(settings)
    assert "truncated" in row["reason"]
    assert row["raw_payload"].startswith('{"tickets"')


def test_truncated_json_line_is_quarantined_with_its_line(settings: Settings) -> None:
    path = settings.inbox_dir / "telemetry" / "t.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        '{"event_id": "e1", "event_at": "2026-10-01T00:00:00Z", "event_type": "crash"}\n{"event_id": "e2", "ev'
    )
    stats = ingest_inbox(settings, "run-1")
    assert (stats.rows_written, stats.rows_quarantined) == (1, 1)
    (row,) = quarantine(settings)
    assert row["source_offset"] == 2
    assert row["reason"].startswith("invalid JSON")


def test_wrong_column_layout_quarantines_every_row_naming_missing_columns(settings: Settings) -> None:
    rows = [{"review": "great", "stars": "5"}, {"review": "bad", "stars": "1"}]
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", rows, columns=("review", "stars"))
    stats = ingest_inbox(settings, "run-1")
    assert stats.rows_written == 0
    assert stats.rows_quarantined == 3  # the header line plus both data rows
    reasons = [q["reason"] for q in sorted(quarantine(settings), key=lambda q: q["source_offset"])]
    assert reasons[0].startswith("wrong column layout: missing columns ['body', 'createdDate', 'id',")
    assert reasons[1:] == ["wrong column layout for this source"] * 2


def test_unparseable_timestamp_is_quarantined_with_the_value(settings: Settings) -> None:
    write_app_store(settings.inbox_dir / "app_store" / "r.csv",
                    [app_store_row("a1"), app_store_row("a2", createdDate="yesterday-ish")])  # fmt: skip
    stats = ingest_inbox(settings, "run-1")
    assert (stats.rows_written, stats.rows_quarantined) == (1, 1)
    assert quarantine(settings)[0]["reason"] == "unparseable timestamp in createdDate: 'yesterday-ish'"


def test_text_over_limit_is_truncated_flagged_and_kept_whole_in_raw_payload(settings: Settings) -> None:
    huge = "slow " * 30_000  # 150 KB
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", [app_store_row("a1", body=huge, title="")])
    stats = ingest_inbox(settings, "run-1")
    assert stats.rows_truncated == 1
    (row,) = Lake(settings).read("bronze", "feedback").to_pylist()
    assert row["is_text_truncated"] is True
    assert len(row["customer_text"].encode()) <= settings.max_text_bytes
    assert huge.strip() in json.loads(row["raw_payload"])[3]


def test_invalid_utf8_row_is_quarantined_and_neighbours_survive(settings: Settings) -> None:
    path = write_app_store(settings.inbox_dir / "app_store" / "r.csv", [app_store_row("a1"), app_store_row("a2")])
    data = path.read_bytes().replace(b"a2,2,Annoying", b"a2,2,Ann\xff\xfeying")
    path.write_bytes(data)
    stats = ingest_inbox(settings, "run-1")
    assert (stats.rows_written, stats.rows_quarantined) == (1, 1)
    assert quarantine(settings)[0]["reason"] == "invalid UTF-8 in row"
    assert "\\udcff" in quarantine(settings)[0]["raw_payload"]


def test_duplicates_within_a_file_are_written_once(settings: Settings) -> None:
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", [app_store_row("a1"), app_store_row("a1")])
    stats = ingest_inbox(settings, "run-1")
    assert (stats.rows_written, stats.rows_duplicate) == (1, 1)


def test_overlapping_exports_across_files_add_only_new_rows(settings: Settings) -> None:
    write_app_store(settings.inbox_dir / "app_store" / "w1.csv", [app_store_row("a1"), app_store_row("a2")])
    write_app_store(settings.inbox_dir / "app_store" / "w2.csv", [app_store_row("a2"), app_store_row("a3")])
    stats = ingest_inbox(settings, "run-1")
    assert (stats.rows_written, stats.rows_duplicate) == (3, 1)
    assert Lake(settings).count("bronze", "feedback") == 3


def test_row_missing_source_record_id_is_quarantined(settings: Settings) -> None:
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", [app_store_row(""), app_store_row("a2")])
    stats = ingest_inbox(settings, "run-1")
    assert_nothing_lost(stats)
    assert quarantine(settings)[0]["reason"] == "missing source_record_id"


def test_rerun_after_crash_before_checkpoint_writes_nothing_twice(settings: Settings) -> None:
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", [app_store_row("a1"), app_store_row("")])
    ingest_inbox(settings, "run-1")
    # Simulate a crash between the bronze append and the checkpoint by forgetting the checkpoint.
    Lake(settings).table("bronze", "ingest_checkpoint").delete()
    stats = ingest_inbox(settings, "run-2")
    assert (stats.rows_written, stats.rows_duplicate) == (0, 1)
    assert Lake(settings).count("bronze", "feedback") == 1
    assert Lake(settings).count("bronze", "quarantine") == 1


def test_late_arriving_event_is_accepted(settings: Settings) -> None:
    write_jsonl(settings.inbox_dir / "telemetry" / "today.jsonl",
                [{"event_id": "new", "event_at": "2026-11-01T00:00:00Z", "event_type": "crash"}])  # fmt: skip
    ingest_inbox(settings, "run-1")
    write_jsonl(settings.inbox_dir / "telemetry" / "late.jsonl",
                [{"event_id": "old", "event_at": "2026-09-01T00:00:00Z", "event_type": "crash"}])  # fmt: skip
    assert ingest_inbox(settings, "run-2").rows_written == 1


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param({"event_at": "2026-10-01T00:00:00Z", "event_type": "crash"}, "missing event_id", id="no-id"),
        pytest.param({"event_id": "d", "event_at": "2026-10-01T00:00:00Z", "event_type": "deploy"},
                     "a deploy event needs deploy_sha", id="deploy-without-sha"),
        pytest.param({"event_id": "x", "event_at": "2026-10-01T00:00:00Z", "event_type": "teleport"},
                     "event_type: Input should be", id="unknown-type"),
    ],
)  # fmt: skip
def test_invalid_telemetry_event_is_quarantined_with_reason(settings: Settings, event: dict, reason: str) -> None:
    write_jsonl(settings.inbox_dir / "telemetry" / "t.jsonl", [event])
    assert ingest_inbox(settings, "run-1").rows_quarantined == 1
    assert reason in quarantine(settings)[0]["reason"]


def test_unknown_inbox_folder_is_a_clear_error(settings: Settings) -> None:
    (settings.inbox_dir / "carrier_pigeon").mkdir(parents=True)
    with pytest.raises(ValueError, match="inbox folder 'carrier_pigeon' matches no source"):
        ingest_inbox(settings, "run-1")


def test_json_only_the_standard_library_reads_still_lands_as_written(settings: Settings) -> None:
    # NaN is not JSON; Python's json module writes and reads it, so exports made with it carry it.
    write_jsonl(settings.inbox_dir / "telemetry" / "t.jsonl", [telemetry_event("e1", "latency", value=float("nan"))])
    write_zendesk(settings.inbox_dir / "zendesk" / "t.json", [zendesk_ticket(1, score=float("nan"))])
    stats = ingest_inbox(settings, "run-1")
    assert (stats.rows_written, stats.rows_quarantined) == (2, 0)
    lake = Lake(settings)
    (ticket,) = lake.read("bronze", "feedback").to_pylist()
    assert '"score": NaN' in ticket["raw_payload"]  # written back as read, not turned into null
    (event,) = lake.read("bronze", "telemetry_events").to_pylist()
    assert '"value": NaN' in event["raw_payload"]
