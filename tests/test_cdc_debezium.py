"""Debezium change events from files land in the change log, and dbt carries updates and deletes
through silver into gold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.silver.enrich import enrich_new_feedback
from feedbackloop.silver.redact import redact_new_feedback
from feedbackloop.transform.dbt import run_dbt
from feedbackloop.warehouse import connect, ensure_source_tables

MICROS = {"type": "struct", "fields": [{"field": "after", "fields": [{"field": "created_at",
          "name": "io.debezium.time.MicroTimestamp"}]}]}  # fmt: skip


def ticket(ticket_id: int, body: str = "Charged twice", status: str = "open", created: object = "2026-11-01T09:00:00Z"):
    return {"ticket_id": ticket_id, "customer_id": "u1", "subject": "Billing", "body": body, "status": status,
            "product_area": "billing", "platform": "web", "created_at": created}  # fmt: skip


def event(op: str, before: dict | None, after: dict | None, ts_ms: int, lsn: int) -> dict:
    source = {"connector": "postgresql", "db": "support", "table": "support_tickets", "ts_ms": ts_ms, "lsn": lsn,
              "txId": lsn // 10}  # fmt: skip
    return {"before": before, "after": after, "source": source, "op": op, "ts_ms": ts_ms + 5}


def write_events(path: Path, lines: list[object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def changes(settings: Settings) -> list[dict]:
    rows = Lake(settings).read("bronze", "feedback_changes").to_pylist()
    return sorted(rows, key=lambda r: r["lsn"] or 0)


def test_debezium_ops_land_with_op_lsn_and_commit_time(settings: Settings) -> None:
    write_events(settings.inbox_dir / "support_db" / "events.jsonl", [
        event("r", None, ticket(1), 1_790_000_000_000, 100),
        event("c", None, ticket(2), 1_790_000_001_000, 200),
        event("u", ticket(1), ticket(1, status="resolved"), 1_790_000_002_000, 300),
        event("d", ticket(2), None, 1_790_000_003_000, 400),
        None,  # a Kafka tombstone after the delete
    ])  # fmt: skip
    stats = ingest_inbox(settings, "run-1")
    assert (stats.rows_read, stats.rows_written, stats.rows_quarantined) == (4, 4, 0)
    landed = changes(settings)
    assert [(c["op"], c["source_record_id"], c["lsn"]) for c in landed] == [
        ("snapshot", "1", 100), ("insert", "2", 200), ("update", "1", 300), ("delete", "2", 400)]  # fmt: skip
    assert landed[2]["resolution_status"] == "solved"  # mapped through config/sources/support_db.yaml
    assert landed[3]["changed_at"].timestamp() == 1_790_000_003
    assert landed[3]["doc_id"] is None


def test_schema_wrapped_events_convert_debezium_timestamps(settings: Settings) -> None:
    micros = 1_790_000_000_000_000
    wrapped = {"schema": MICROS, "payload": event("c", None, ticket(3, created=micros), 1_790_000_000_000, 10)}
    write_events(settings.inbox_dir / "support_db" / "wrapped.jsonl", [wrapped])
    ingest_inbox(settings, "run-1")
    (row,) = Lake(settings).read("bronze", "feedback").to_pylist()
    assert row["event_at"].timestamp() == micros / 1e6


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param(event("t", None, None, 1_790_000_000_000, 1), "Debezium op 't' is not applied", id="truncate"),
        pytest.param(event("c", None, {"body": "no key"}, 1_790_000_000_000, 1), "no 'ticket_id' key", id="no-key"),
        pytest.param({"after": ticket(1)}, "not a Debezium change event: no op field", id="not-debezium"),
        pytest.param(event("c", None, ticket(1, body=""), 1_790_000_000_000, 1) | {"ts_ms": None}
                     | {"source": {}}, "no source.ts_ms commit time", id="no-commit-time"),
    ],
)  # fmt: skip
def test_unusable_debezium_events_are_quarantined_with_the_reason(settings: Settings, line: dict, reason: str) -> None:
    write_events(settings.inbox_dir / "support_db" / "bad.jsonl", [line])
    assert ingest_inbox(settings, "run-1").rows_quarantined == 1
    (row,) = Lake(settings).read("bronze", "quarantine").to_pylist()
    assert reason in row["reason"]


@pytest.mark.dbt
@pytest.mark.slow
def test_updates_supersede_and_deletes_propagate_to_silver_and_gold(settings: Settings) -> None:
    write_events(settings.inbox_dir / "support_db" / "day1.jsonl", [
        event("c", None, ticket(1), 1_790_000_000_000, 100),
        event("c", None, ticket(2, body="App crashes on login"), 1_790_000_001_000, 200),
        event("c", None, ticket(3, body="Search is slow"), 1_790_000_001_500, 250),
    ])  # fmt: skip
    write_events(settings.inbox_dir / "support_db" / "day2.jsonl", [
        event("u", None, ticket(1, body="Charged twice, still no refund"), 1_790_000_002_000, 300),
        event("u", None, ticket(3, body="Search is slow", status="resolved"), 1_790_000_002_500, 350),
        event("d", ticket(2), None, 1_790_000_003_000, 400),
    ])  # fmt: skip
    ingest_inbox(settings, "run-1")
    ensure_source_tables(settings)
    run_dbt(settings, ["build", "--select", "silver", "--indirect-selection", "cautious"])
    enrich_new_feedback(settings, "run-1")
    redact_new_feedback(settings, "run-1")
    run_dbt(settings, ["build", "--select", "gold"])
    with connect(settings) as conn:
        gold = conn.execute("select source_record_id, redacted_text, resolution_status from gold.fct_feedback "
                            "order by 1").fetchall()  # fmt: skip
        deleted = conn.execute("select count(*) from silver.int_feedback__deduplicated where is_deleted").fetchone()
    assert gold == [("1", "Billing. Charged twice, still no refund", "open"),
                    ("3", "Billing. Search is slow", "solved")]  # fmt: skip
    assert deleted == (1,)


@pytest.mark.dbt
@pytest.mark.slow
def test_erasing_a_person_removes_the_deletes_of_her_records_from_the_change_log(settings: Settings) -> None:
    from feedbackloop.governance.erasure import Subject, forget

    hers = ticket(1, body="Refund to ann@example.org please") | {"customer_id": "u7"}
    write_events(settings.inbox_dir / "support_db" / "events.jsonl", [
        event("c", None, hers, 1_790_000_000_000, 100),
        event("c", None, ticket(2), 1_790_000_001_000, 200),
        event("d", hers, None, 1_790_000_002_000, 300),  # the before image repeats her text
        event("d", ticket(2), None, 1_790_000_003_000, 400),
    ])  # fmt: skip
    ingest_inbox(settings, "run-1")
    ensure_source_tables(settings)
    run_dbt(settings, ["build", "--select", "silver", "--indirect-selection", "cautious"])
    result = forget(settings, Subject(user_id="u7", source_system="support_db"))
    assert result.rows_by_table["index.record_deletes"] == 3  # bronze and silver change rows + where it stands
    lake = Lake(settings)
    assert [(c["op"], c["source_record_id"]) for c in changes(settings)] == [("insert", "2"), ("delete", "2")]
    staged = lake.read("silver", "stg_bronze__feedback_changes", columns=["source_record_id"])
    assert set(staged.column("source_record_id").to_pylist()) == {"2"}
    latest = lake.read("silver", "int_feedback__latest_changes", columns=["source_record_id"])
    assert latest.column("source_record_id").to_pylist() == ["2"]
    assert not any("ann@example.org" in (c["raw_payload"] or "") for c in changes(settings))
