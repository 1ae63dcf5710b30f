"""A layer build selects only what is downstream of the input tables that changed since its last success."""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa
import pytest

from feedbackloop.bronze.tables import TABLES
from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.lake import Lake
from feedbackloop.lake_maintenance import maintain_lake
from feedbackloop.settings import Settings
from feedbackloop.silver.enrich import ENRICHMENT
from feedbackloop.transform.state import (
    bronze_watermarks,
    build_selection,
    input_versions,
    project_fingerprint,
    record_success,
    watermarks_for_build,
    watermarks_path,
)
from feedbackloop.warehouse import ensure_source_tables
from tests.samples import app_store_row, write_app_store


def ingest_reviews(settings: Settings, name: str, *ids: str) -> None:
    write_app_store(
        settings.inbox_dir / "app_store" / f"{name}.csv", [app_store_row(i, body=f"Review {i}") for i in ids]
    )
    ingest_inbox(settings, f"run-{name}")


def ingested_at(settings: Settings, *ids: str) -> list[datetime]:
    rows = Lake(settings).read("bronze", "feedback", columns=["source_record_id", "ingested_at"]).to_pylist()
    return [row["ingested_at"] for row in rows if row["source_record_id"] in ids]


def test_selection_follows_changed_inputs_and_project_changes(settings: Settings) -> None:
    ensure_source_tables(settings)
    fingerprint = project_fingerprint(settings)
    # no successful build yet: the whole layer, unit tests included
    assert build_selection(settings, "silver", fingerprint) == ["--select", "silver", "source:bronze"]
    record_success(settings, "silver", fingerprint)
    assert build_selection(settings, "silver", fingerprint) is None  # nothing changed: skip
    assert build_selection(settings, "silver", fingerprint, force=True) == ["--select", "silver", "source:bronze"]

    schema, _ = TABLES["feedback"]
    Lake(settings).append("bronze", "feedback", pa.Table.from_pylist([], schema=schema))
    assert build_selection(settings, "silver", fingerprint) == [
        "--select",
        "source:bronze.feedback+,silver",
        "source:bronze.feedback",
        "--exclude-resource-type",
        "unit_test",
    ]  # fmt: skip  (bronze.feedback's own data tests run with silver)

    record_success(settings, "gold", fingerprint)
    Lake(settings).append("silver", "feedback_enrichment", pa.Table.from_pylist([], schema=ENRICHMENT))
    selection = build_selection(settings, "gold", fingerprint)
    assert selection is not None
    assert "source:silver.feedback_enrichment+,gold" in selection and "feedback_enrichment+,gold" in selection
    assert "source:silver.feedback_enrichment" in selection  # its own data tests run with gold

    # a change to the dbt project (or to the vars passed in) rebuilds and unit-tests the whole layer,
    # incremental models from scratch: their rows came from the old SQL
    assert project_fingerprint(settings, {"access_readers": ["team"]}) != fingerprint
    assert build_selection(settings, "silver", "another-project") == [
        "--select", "silver", "source:bronze", "--full-refresh",
    ]  # fmt: skip


def test_watermark_is_the_oldest_row_committed_since_the_last_build(settings: Settings) -> None:
    ensure_source_tables(settings)
    ingest_reviews(settings, "old", "a1", "a2")
    record_success(settings, "silver", "fp")
    assert bronze_watermarks(settings, "silver") == {}  # nothing new
    ingest_reviews(settings, "new", "a3")
    marks = bronze_watermarks(settings, "silver")
    assert set(marks) == {"bronze.feedback"}
    watermark = datetime.fromisoformat(marks["bronze.feedback"])
    assert all(watermark <= t for t in ingested_at(settings, "a3"))
    assert all(watermark > t for t in ingested_at(settings, "a1", "a2"))


def test_compaction_brings_no_watermark(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_source_tables(settings)
    for batch in range(3):
        ingest_reviews(settings, f"b{batch}", f"r{batch}")
    record_success(settings, "silver", "fp")
    monkeypatch.setenv("FEEDBACKLOOP_LAKE_COMPACT_MIN_FILES", "2")
    assert maintain_lake(Settings())["files_compacted"] > 0
    assert bronze_watermarks(settings, "silver") == {}


def test_an_input_committed_during_the_build_stays_new(settings: Settings) -> None:
    ensure_source_tables(settings)
    ingest_reviews(settings, "old", "a1")
    before = input_versions(settings, "silver")
    ingest_reviews(settings, "during", "a2")  # a concurrent writer, after the build read bronze
    record_success(settings, "silver", "fp", before)
    assert build_selection(settings, "silver", "fp") is not None
    marks = bronze_watermarks(settings, "silver")
    assert datetime.fromisoformat(marks["bronze.feedback"]) <= min(ingested_at(settings, "a2"))


def test_watermarks_are_on_disk_only_during_the_build(settings: Settings) -> None:
    ensure_source_tables(settings)
    ingest_reviews(settings, "old", "a1")
    record_success(settings, "silver", "fp")
    ingest_reviews(settings, "new", "a2")
    with pytest.raises(RuntimeError, match="build failed"), watermarks_for_build(settings, "silver") as marks:
        written = json.loads(watermarks_path(settings).read_text())
        assert written == [{"table": "bronze.feedback", "ingested_from": marks["bronze.feedback"]}]
        raise RuntimeError("build failed")
    assert not watermarks_path(settings).exists()


def test_a_silver_and_gold_build_counts_what_it_wrote_but_not_what_a_stage_wrote_meanwhile(
    settings: Settings,
) -> None:
    ensure_source_tables(settings)
    lake = Lake(settings)
    before = input_versions(settings, "silver gold")
    lake.append("silver", "stg_bronze__feedback", pa.table({"doc_id": ["built-by-dbt"]}))  # the build's own write
    record_success(settings, "silver gold", "fp", before)
    assert build_selection(settings, "silver gold", "fp") is None

    before = input_versions(settings, "silver gold")
    lake.append("silver", "feedback_enrichment", pa.Table.from_pylist([], schema=ENRICHMENT))  # the enrich stage
    record_success(settings, "silver gold", "fp", before)
    assert build_selection(settings, "silver gold", "fp") is not None
