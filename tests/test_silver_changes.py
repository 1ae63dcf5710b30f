"""Silver's new keys: the records of the bronze rows appended since silver's last build, or none."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from feedbackloop.governance.purge import delete_keys
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.transform import silver_changes

FEEDBACK = ("bronze", "feedback")
CHANGES = ("bronze", "feedback_changes")


def feedback(*docs: str) -> pa.Table:
    return pa.table({"doc_id": list(docs), "source_system": ["app_store"] * len(docs), "source_record_id": list(docs)})


def change(*records: str) -> pa.Table:
    return pa.table({"source_system": ["zendesk"] * len(records), "source_record_id": list(records)})


def built(settings: Settings) -> None:
    """A lake as after a successful silver-only build: every table it reads and writes exists."""
    lake = Lake(settings)
    lake.append(*FEEDBACK, feedback("d1"))
    lake.append(*CHANGES, change("t1"))
    for key in silver_changes.SILVER:
        lake.append(*key.split(".", 1), pa.table({"doc_id": ["d1"]}))
    versions = {key: v for key in silver_changes.BRONZE if (v := lake.version(*key.split(".", 1))) is not None}
    silver_changes.record_build(settings, "silver", versions)


def new_keys(settings: Settings) -> tuple[set[str], set[str]] | None:
    with silver_changes.new_keys_for_build(settings, "silver") as written:
        if not written:
            return None
        docs = pq.read_table(silver_changes.new_docs_path(settings)).column("doc_id").to_pylist()
        records = pq.read_table(silver_changes.changed_records_path(settings)).column("source_record_id").to_pylist()
        return set(docs), set(records)


def test_a_first_build_has_nothing_to_start_from(settings: Settings) -> None:
    Lake(settings).append(*FEEDBACK, feedback("d1"))
    assert new_keys(settings) is None


def test_appended_feedback_and_change_rows_give_the_new_docs_and_every_moved_record(settings: Settings) -> None:
    built(settings)
    lake = Lake(settings)
    lake.append(*FEEDBACK, feedback("d2", "d3"))
    lake.append(*CHANGES, change("t2"))
    assert new_keys(settings) == ({"d2", "d3"}, {"d2", "d3", "t2"})


def test_nothing_appended_gives_no_keys(settings: Settings) -> None:
    built(settings)
    assert new_keys(settings) == (set(), set())


def test_silver_written_outside_a_silver_build_means_every_row_is_compared(settings: Settings) -> None:
    built(settings)
    lake = Lake(settings)
    table = lake.table("silver", "int_feedback__deduplicated")
    assert table is not None and delete_keys(table, "doc_id", ["d1"]) == 1  # an erasure, say
    lake.append(*FEEDBACK, feedback("d2"))
    assert new_keys(settings) is None


def test_rows_removed_from_bronze_mean_every_row_is_compared(settings: Settings) -> None:
    built(settings)
    table = Lake(settings).table(*FEEDBACK)
    assert table is not None and delete_keys(table, "doc_id", ["d1"]) == 1
    assert new_keys(settings) is None


def test_the_keys_last_only_for_a_silver_only_build(settings: Settings) -> None:
    built(settings)
    Lake(settings).append(*FEEDBACK, feedback("d2"))
    with silver_changes.new_keys_for_build(settings, "silver gold") as written:
        assert not written and not silver_changes.new_docs_path(settings).exists()
    with silver_changes.new_keys_for_build(settings, "silver") as written:
        assert written and silver_changes.new_docs_path(settings).exists()
    assert not silver_changes.new_docs_path(settings).exists()
