"""Row counts per lake table (run summary, `feedbackloop status`): kept by Delta version, always exact."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import ROW_COUNTS_FILE, layer_counts


def counts(settings: Settings) -> dict[str, int]:
    return {f"{layer}.{name}": rows for layer, name, rows in layer_counts(settings) if rows is not None}


def append(lake: Lake, rows: int, start: int = 0) -> None:
    lake.append("silver", "feedback_redacted", pa.table({"doc_id": [f"d{i}" for i in range(start, start + rows)]}))


@pytest.fixture
def lake(settings: Settings) -> Lake:
    return Lake(settings)


def test_a_table_not_made_yet_counts_as_none(settings: Settings) -> None:
    everything = {(layer, name): rows for layer, name, rows in layer_counts(settings)}
    assert everything["silver", "feedback_redacted"] is None


def test_appends_since_the_last_count_are_added_from_the_log(settings: Settings, lake: Lake) -> None:
    append(lake, 5)
    assert counts(settings)["silver.feedback_redacted"] == 5
    append(lake, 3, start=5)
    append(lake, 2, start=8)
    assert lake.rows_appended_since("silver", "feedback_redacted", 0) == 5
    assert counts(settings)["silver.feedback_redacted"] == 10 == lake.count("silver", "feedback_redacted")


def test_deleted_rows_are_counted_again_from_the_table(settings: Settings, lake: Lake) -> None:
    append(lake, 5)
    assert counts(settings)["silver.feedback_redacted"] == 5
    table = lake.table("silver", "feedback_redacted")
    assert table is not None
    table.delete("doc_id in ('d0', 'd1')")
    assert lake.rows_appended_since("silver", "feedback_redacted", 0) is None
    assert counts(settings)["silver.feedback_redacted"] == 3


def test_an_overwrite_is_counted_again_from_the_table(settings: Settings, lake: Lake) -> None:
    append(lake, 5)
    assert counts(settings)["silver.feedback_redacted"] == 5
    lake.overwrite("silver", "feedback_redacted", pa.table({"doc_id": ["x"]}))
    assert counts(settings)["silver.feedback_redacted"] == 1


def test_a_table_dropped_and_made_again_at_the_same_version_is_not_mistaken_for_the_old_one(
    settings: Settings, lake: Lake
) -> None:
    append(lake, 5)
    assert counts(settings)["silver.feedback_redacted"] == 5
    shutil.rmtree(lake.uri("silver", "feedback_redacted"))
    append(lake, 2)  # version 0 again, a new commit file
    assert counts(settings)["silver.feedback_redacted"] == 2


def test_an_unreadable_counts_file_means_counting_every_table(settings: Settings, lake: Lake) -> None:
    append(lake, 4)
    counts(settings)
    path: Path = settings.state_dir / ROW_COUNTS_FILE
    path.write_text("{not json", encoding="utf-8")
    assert counts(settings)["silver.feedback_redacted"] == 4
