"""An incremental rerun leaves gold exactly as a full refresh would build it, row for row.

The builds go through the ``transform`` flow, as in the pipeline: the rerun builds only the models
downstream of the tables that changed, and ``fct_feedback`` incrementally.

Between the two runs the lake sees what production sees: new docs, an exact duplicate of a doc
already in gold (its ``copies`` moves), a new version of a ticket (the old version leaves gold), a
status-only change and a delete captured by change data capture, enrichment and redaction that
reach docs after gold was built, a label, and an erasure.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from feedbackloop.bronze.tables import FEEDBACK_CHANGES
from feedbackloop.embed.tables import NEAR_DUPLICATE_LINKS
from feedbackloop.governance.erasure import Subject, forget
from feedbackloop.governance.purge import delete_keys
from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.silver.enrich import enrich_new_feedback
from feedbackloop.silver.redact import redact_new_feedback
from feedbackloop.transform.dbt import run_dbt
from feedbackloop.transform.state import watermarks_path
from feedbackloop.warehouse import LAYER_TABLES, ensure_source_tables
from flows.transform import transform
from tests.samples import app_store_row, telemetry_event, write_app_store, write_jsonl, write_zendesk, zendesk_ticket

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

SILVER = ["build", "--select", "silver", "--indirect-selection", "cautious"]


# int_feedback__deduplicated is incremental too, and every gold row rests on it.
INCREMENTAL_SILVER = [("silver", "int_feedback__deduplicated")]


def gold_rows(settings: Settings) -> dict[str, list[tuple]]:
    """Every dbt-built gold table (and incremental silver) as sorted rows (None sorts first, floats as they are)."""
    lake = Lake(settings)
    tables = {}
    for layer, name in [*INCREMENTAL_SILVER, *(("gold", name) for name in LAYER_TABLES["gold"])]:
        if lake.exists(layer, name):
            rows = lake.read(layer, name).to_pylist()
            tables[f"{layer}.{name}"] = sorted((tuple(row.items()) for row in rows), key=repr)
    return tables


def change(settings: Settings, source_system: str, record_id: str, op: str, **values: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "change_id": f"{source_system}-{record_id}-{op}",
        "source_system": source_system,
        "source_record_id": record_id,
        "op": op,
        "changed_at": now,
        "lsn": None,
        "commit_lsn": None,
        "txn_id": None,
        "doc_id": values.get("doc_id"),
        "resolution_status": values.get("resolution_status"),
        "raw_payload": "{}",
        "source_file": "cdc-test",
        "source_offset": 1,
        "ingested_at": now,
        "ingest_run_id": "run-2",
    }


def links(*rows: tuple[str, str, float]) -> pa.Table:
    """Near-duplicate links as the embed stage writes them: (doc_id, canonical_doc_id, similarity)."""
    now = datetime.now(UTC)
    return pa.Table.from_pylist(
        [
            {"doc_id": doc, "canonical_doc_id": canonical, "similarity": similarity, "input_hash": doc,
             "embedding_version": "test", "linked_at": now, "embed_run_id": "embed-test"}
            for doc, canonical, similarity in rows
        ],
        schema=NEAR_DUPLICATE_LINKS,
    )  # fmt: skip


def test_incremental_gold_equals_a_full_refresh(settings: Settings) -> None:
    write_app_store(settings.inbox_dir / "app_store" / "r1.csv", [
        app_store_row("a1", body="Checkout keeps failing", reviewerNickname="kim"),
        app_store_row("a2", body="Search is slow since 5.4", reviewerNickname="lee"),
        app_store_row("a3", body="Dark mode please", reviewerNickname="max"),
        app_store_row("a4", body="Love the new design, write me at erase.me@example.com", reviewerNickname="zoe"),
    ])  # fmt: skip
    crash = [
        {"author_id": 501, "public": True, "body": "The app crashes on start", "created_at": "2026-10-03T08:00:00Z"}
    ]
    write_zendesk(settings.inbox_dir / "zendesk" / "t1.json", [zendesk_ticket(1), zendesk_ticket(2, comments=crash)])
    write_jsonl(
        settings.inbox_dir / "telemetry" / "t1.jsonl",
        [telemetry_event("e1"), telemetry_event("e2", "latency", value=10.0)],
    )
    ingest_inbox(settings, "run-1")
    ensure_source_tables(settings)
    transform(select="silver")
    transform(select="gold")  # before enrichment and redaction: those reach gold on the next run
    lake = Lake(settings)
    silver = {r["source_record_id"]: r for r in lake.read("silver", "stg_bronze__feedback").to_pylist()}
    doc = {record: row["doc_id"] for record, row in silver.items()}
    near_duplicates = links((doc["a3"], doc["a3"], 1.0), (doc["a1"], doc["a3"], 0.96))
    lake.append("silver", "feedback_near_duplicate_links", near_duplicates)
    assert transform(select="gold")["changed_rows_only"]
    assert lake.count("gold", "fct_feedback") == 6
    # an erasure purges the old versions that held the doc, so the next gold build compares every row
    assert forget(settings, Subject(email="erase.me@example.com")).docs_erased == 1
    assert not transform(select="gold")["changed_rows_only"]
    assert lake.count("gold", "fct_feedback") == 5

    # run 2: new docs, a duplicate, a new ticket version, CDC status change and delete, an erasure
    write_app_store(settings.inbox_dir / "app_store" / "r2.csv", [
        app_store_row("a5", body="Checkout keeps failing", reviewerNickname="kim",
                      createdDate="2026-10-01T11:30:00-07:00"),  # same person, same text, same day: a copy of a1
        app_store_row("a6", body="Export to CSV is broken", reviewerNickname="ola"),
    ])  # fmt: skip
    newer = zendesk_ticket(1, status="solved")
    newer["comments"].append(
        {"author_id": 501, "public": True, "body": "Refund arrived", "created_at": "2026-10-04T08:00:00Z"}
    )
    write_zendesk(settings.inbox_dir / "zendesk" / "t2.json", [newer])
    write_jsonl(settings.inbox_dir / "telemetry" / "t2.jsonl", [telemetry_event("e3", "latency", value=30.0)])
    ingest_inbox(settings, "run-2")
    lake.append("bronze", "feedback_changes", pa.Table.from_pylist([
        change(settings, "zendesk", "2", "update", doc_id=silver["2"]["doc_id"], resolution_status="solved"),
        change(settings, "app_store", "a3", "delete"),
    ], schema=FEEDBACK_CHANGES))  # fmt: skip
    silver_build = transform(select="silver")  # only what is downstream of the changed bronze tables
    doc = {r["source_record_id"]: r["doc_id"] for r in lake.read("silver", "stg_bronze__feedback").to_pylist()}
    # a6 is a near duplicate of a2; a1's canonical, a3, leaves gold (deleted at the source)
    near_duplicates = links((doc["a2"], doc["a2"], 1.0), (doc["a6"], doc["a2"], 0.95))
    lake.append("silver", "feedback_near_duplicate_links", near_duplicates)
    enrich_new_feedback(settings, "run-2")
    redact_new_feedback(settings, "run-2")
    gold_version = lake.table("gold", "fct_feedback").version()
    gold_build = transform(select="gold")
    assert gold_build["changed_rows_only"]  # the Delta log told which docs and records changed
    incremental = gold_rows(settings)
    assert "--select silver" not in silver_build["command"] and "--select gold" not in gold_build["command"]
    assert lake.table("gold", "fct_feedback").history(1)[0]["operation"] != "CREATE OR REPLACE TABLE"
    assert lake.table("gold", "fct_feedback").version() > gold_version

    feedback = {dict(r)["source_record_id"]: dict(r) for r in incremental["gold.fct_feedback"]}
    assert set(feedback) == {"a1", "a2", "a6", "1", "2"}  # a3 deleted at the source, a4 erased, a5 a copy of a1
    assert feedback["a1"]["copies"] == 2
    assert feedback["1"]["resolution_status"] == "solved" and feedback["2"]["resolution_status"] == "solved"
    assert all(r["language"] and r["redacted_text"] for r in feedback.values())
    groups = {dict(r)["doc_id"]: dict(r) for r in incremental["gold.fct_feedback_near_duplicates"]}
    assert groups[doc["a1"]]["canonical_doc_id"] == doc["a1"]  # its canonical left gold
    assert groups[doc["a6"]]["canonical_doc_id"] == doc["a2"] and groups[doc["a2"]]["near_duplicate_count"] == 1
    assert lake.table("gold", "fct_feedback_near_duplicates").history(1)[0]["operation"] != "CREATE OR REPLACE TABLE"

    run_dbt(settings, [*SILVER, "--full-refresh"])
    assert "--full-refresh" in transform(select="gold", force=True)["command"]  # the daily full pass
    full = gold_rows(settings)
    assert set(incremental) == set(full)
    for name in full:
        assert incremental[name] == full[name], name


def test_incremental_silver_after_an_erasure_equals_a_full_refresh(settings: Settings) -> None:
    """The erasure purge deletes a doc from bronze and from both silver tables at once, so no new row
    says what moved: the copy that pointed at the erased kept doc must become the kept one itself."""
    write_app_store(settings.inbox_dir / "app_store" / "r1.csv", [
        app_store_row("a1", body="Checkout keeps failing", reviewerNickname="kim"),
        app_store_row("a5", body="Checkout keeps failing", reviewerNickname="kim",
                      createdDate="2026-10-01T11:30:00-07:00"),  # a later copy of a1
        app_store_row("a2", body="Search is slow since 5.4", reviewerNickname="lee"),
    ])  # fmt: skip
    ingest_inbox(settings, "run-1")
    ensure_source_tables(settings)
    transform(select="silver")
    lake = Lake(settings)
    dedup = {r["source_record_id"]: r for r in lake.read("silver", "int_feedback__deduplicated").to_pylist()}
    assert dedup["a5"]["kept_doc_id"] == dedup["a1"]["doc_id"] and dedup["a1"]["copies"] == 2

    erased = [dedup["a1"]["doc_id"]]
    for layer, name in [("bronze", "feedback"), ("silver", "stg_bronze__feedback"),
                        ("silver", "int_feedback__deduplicated")]:  # fmt: skip
        table = lake.table(layer, name)
        assert table is not None and delete_keys(table, "doc_id", erased) == 1
    assert not transform(select="silver")["changed_rows_only"]  # silver changed outside a build: compare all
    incremental = gold_rows(settings)["silver.int_feedback__deduplicated"]
    after = {dict(r)["source_record_id"]: dict(r) for r in incremental}
    assert set(after) == {"a5", "a2"}
    assert after["a5"]["is_kept"] and after["a5"]["copies"] == 1

    run_dbt(settings, [*SILVER, "--full-refresh"])
    assert gold_rows(settings)["silver.int_feedback__deduplicated"] == incremental


def test_silver_after_bronze_appends_only_compares_their_records_and_equals_a_full_refresh(
    settings: Settings,
) -> None:
    """The common rerun: bronze only grew, so the deduplication starts from the new rows' records
    (a new doc, a copy of an old one, a new ticket version, a status change, a delete)."""
    write_app_store(settings.inbox_dir / "app_store" / "r1.csv", [
        app_store_row("a1", body="Checkout keeps failing", reviewerNickname="kim"),
        app_store_row("a2", body="Search is slow since 5.4", reviewerNickname="lee"),
        app_store_row("a3", body="Dark mode please", reviewerNickname="max"),
    ])  # fmt: skip
    write_zendesk(settings.inbox_dir / "zendesk" / "t1.json", [zendesk_ticket(1), zendesk_ticket(2)])
    ingest_inbox(settings, "run-1")
    ensure_source_tables(settings)
    assert not transform(select="silver")["changed_rows_only"]  # a first build: nothing to start from
    lake = Lake(settings)
    first = {r["source_record_id"]: r["doc_id"] for r in lake.read("silver", "stg_bronze__feedback").to_pylist()}

    write_app_store(settings.inbox_dir / "app_store" / "r2.csv", [
        app_store_row("a5", body="Checkout keeps failing", reviewerNickname="kim",
                      createdDate="2026-10-01T11:30:00-07:00"),  # a copy of a1
        app_store_row("a6", body="Export to CSV is broken", reviewerNickname="ola"),
    ])  # fmt: skip
    write_zendesk(settings.inbox_dir / "zendesk" / "t2.json", [zendesk_ticket(1, status="solved")])
    ingest_inbox(settings, "run-2")
    lake.append("bronze", "feedback_changes", pa.Table.from_pylist([
        change(settings, "zendesk", "2", "update", doc_id=first["2"], resolution_status="solved"),
        change(settings, "app_store", "a3", "delete"),
    ], schema=FEEDBACK_CHANGES))  # fmt: skip
    assert transform(select="silver")["changed_rows_only"]
    incremental = gold_rows(settings)["silver.int_feedback__deduplicated"]
    latest = {dict(r)["source_record_id"]: dict(r) for r in incremental if dict(r)["is_latest_version"]}
    assert latest["a5"]["kept_doc_id"] == latest["a1"]["doc_id"] and latest["a1"]["copies"] == 2
    assert [dict(r)["is_deleted"] for r in incremental if dict(r)["source_record_id"] == "a3"] == [True]

    run_dbt(settings, [*SILVER, "--full-refresh"])
    assert gold_rows(settings)["silver.int_feedback__deduplicated"] == incremental


def test_staging_reads_bronze_from_the_watermark_left_for_its_build(settings: Settings) -> None:
    def silver_records() -> set[str]:
        rows = Lake(settings).read("silver", "stg_bronze__feedback", columns=["source_record_id"])
        return set(rows.column(0).to_pylist())

    write_app_store(settings.inbox_dir / "app_store" / "r1.csv", [app_store_row("a1")])
    ingest_inbox(settings, "run-1")
    ensure_source_tables(settings)
    run_dbt(settings, ["run", "--select", "stg_bronze__feedback"])
    write_app_store(settings.inbox_dir / "app_store" / "r2.csv", [app_store_row("a2", body="Search is slow")])
    ingest_inbox(settings, "run-2")

    # a watermark above a2's rows says they are not new: the build skips them, so it did read the bound
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    watermarks_path(settings).parent.mkdir(parents=True, exist_ok=True)
    watermarks_path(settings).write_text(json.dumps([{"table": "bronze.feedback", "ingested_from": later}]))
    run_dbt(settings, ["run", "--select", "stg_bronze__feedback"])
    assert silver_records() == {"a1"}

    watermarks_path(settings).unlink()  # no watermark (dbt run by hand): the time look-back finds a2
    run_dbt(settings, ["run", "--select", "stg_bronze__feedback"])
    assert silver_records() == {"a1", "a2"}


def test_a_run_that_only_brings_new_docs_reads_them_from_what_silver_appended(settings: Settings) -> None:
    """The common rerun: gold reads the new docs from the rows silver appended since its last build,
    not from all of silver, and still ends up as a full refresh would build it."""

    def new_reviews(name: str, *rows: dict[str, str]) -> None:
        write_app_store(settings.inbox_dir / "app_store" / f"{name}.csv", list(rows))
        ingest_inbox(settings, f"run-{name}")
        transform(select="silver")
        enrich_new_feedback(settings, f"run-{name}")
        redact_new_feedback(settings, f"run-{name}")

    ensure_source_tables(settings)
    new_reviews("r1", app_store_row("a1", body="Checkout keeps failing"), app_store_row("a2", body="Search is slow"))
    transform(select="gold")
    new_reviews("r2", app_store_row("a3", body="Dark mode please"), app_store_row("a4", body="Export is broken"))
    assert transform(select="gold")["changed_rows_only"]
    compiled = dbt_compiled_sql(settings, "fct_feedback")
    assert "changed_feedback_rows.parquet" in compiled  # not a scan of all of silver
    incremental = gold_rows(settings)
    assert {dict(r)["source_record_id"] for r in incremental["gold.fct_feedback"]} == {"a1", "a2", "a3", "a4"}

    run_dbt(settings, [*SILVER, "--full-refresh"])
    transform(select="gold", force=True)
    assert gold_rows(settings) == incremental


def dbt_compiled_sql(settings: Settings, model: str) -> str:
    """The SQL dbt last compiled for a gold model (dbt keeps it under target/compiled)."""
    models = Path(settings.dbt_project_dir) / "target" / "compiled" / "feedbackloop" / "models"
    return (models / "gold" / f"{model}.sql").read_text()
