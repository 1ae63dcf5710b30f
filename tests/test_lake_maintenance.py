"""Lake maintenance compacts small files and vacuums old ones, changing no row, and no layer rebuilds for it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from feedbackloop.lake import Lake
from feedbackloop.lake_maintenance import maintain_lake
from feedbackloop.settings import Settings
from feedbackloop.transform.state import build_selection, record_success


def small_appends(lake: Lake, layer: str, name: str, batches: int, rows: int = 50) -> None:
    for b in range(batches):
        ids = [f"{name}-{b}-{i}" for i in range(rows)]
        lake.append(layer, name, pa.table({"doc_id": ids, "batch": pa.array([b] * rows, pa.int32())}))


def files(lake: Lake, layer: str, name: str) -> int:
    table = lake.table(layer, name)
    assert table is not None
    return len(table.file_uris())


def test_a_table_of_many_small_files_is_compacted_with_the_same_rows(settings: Settings) -> None:
    lake = Lake(settings)
    small_appends(lake, "bronze", "feedback", batches=12)
    before = lake.read("bronze", "feedback").sort_by("doc_id")

    result = maintain_lake(settings)

    assert files(lake, "bronze", "feedback") == 1
    assert lake.read("bronze", "feedback").sort_by("doc_id").equals(before)
    [table] = result["tables"]
    assert (table["table"], table["files_before"], table["files_after"], table["files_compacted"]) == (
        "bronze.feedback", 12, 1, 12,
    )  # fmt: skip


def test_a_table_with_fewer_small_files_than_the_threshold_is_left_alone(settings: Settings) -> None:
    lake = Lake(settings)
    small_appends(lake, "silver", "feedback_enrichment", batches=settings.lake_compact_min_files - 1)
    version = lake.version("silver", "feedback_enrichment")

    result = maintain_lake(settings)

    assert lake.version("silver", "feedback_enrichment") == version
    assert result["files_compacted"] == 0


def test_files_no_version_in_the_retention_window_reads_are_vacuumed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(settings)
    for batch in range(3):  # each rebuild leaves the previous version's file behind
        lake.overwrite("gold", "fct_feedback_daily_volume", pa.table({"doc_id": [f"v{batch}"]}))
    assert maintain_lake(settings)["files_vacuumed"] == 0  # within the default 7 days: time travel still works

    monkeypatch.setenv("FEEDBACKLOOP_LAKE_VACUUM_RETENTION_HOURS", "0")
    result = maintain_lake(Settings())

    assert result["files_vacuumed"] == 2
    assert lake.read("gold", "fct_feedback_daily_volume").column("doc_id").to_pylist() == ["v2"]


def test_compaction_is_not_new_input_for_the_layer_builds(settings: Settings) -> None:
    lake = Lake(settings)
    small_appends(lake, "bronze", "feedback", batches=10)
    record_success(settings, "silver", "fingerprint")

    maintain_lake(settings)

    assert lake.operations_since("bronze", "feedback", 9) == ["OPTIMIZE"]
    assert build_selection(settings, "silver", "fingerprint") is None
    small_appends(lake, "bronze", "feedback", batches=1)
    assert build_selection(settings, "silver", "fingerprint") is not None


def test_a_commit_the_log_no_longer_holds_counts_as_a_change(settings: Settings) -> None:
    lake = Lake(settings)
    small_appends(lake, "bronze", "feedback", batches=3)
    Path(lake.uri("bronze", "feedback"), "_delta_log", "00000000000000000001.json").unlink()

    assert lake.operations_since("bronze", "feedback", 0) is None


@pytest.mark.slow
def test_the_maintain_flow_reports_every_table(settings: Settings) -> None:
    from flows._runtime import local_runs
    from flows.maintain import maintain

    lake = Lake(settings)
    small_appends(lake, "bronze", "feedback", batches=9)
    small_appends(lake, "silver", "feedback_enrichment", batches=2)

    with local_runs():
        result = maintain()

    assert {t["table"]: t["files_after"] for t in result["tables"]} == {
        "bronze.feedback": 1,
        "silver.feedback_enrichment": 2,
    }
    assert result["tables_failed"] == 0
