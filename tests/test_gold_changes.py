"""Gold's changed keys: the keys of every row the Delta log says changed since gold's last build, or none."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feedbackloop.governance.purge import delete_keys, erase_rows
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.transform import changes
from feedbackloop.transform.dbt import parsed_manifest

ENRICHMENT = ("silver", "feedback_enrichment")
LINKS = ("silver", "feedback_near_duplicate_links")
LATEST_CHANGES = ("silver", "int_feedback__latest_changes")


def enrichment(*docs: str, language: str = "en") -> pa.Table:
    return pa.table({"doc_id": list(docs), "language": [language] * len(docs)})


def built(settings: Settings) -> None:
    """As after a successful gold-only build."""
    changes.record_build(settings, "gold", changes.table_versions(settings))


def changed_docs(settings: Settings) -> set[str] | None:
    with changes.changed_keys_for_build(settings, "gold") as written:
        if not written:
            return None
        return set(pq.read_table(changes.doc_keys_path(settings)).column("doc_id").to_pylist())


def test_appended_rows_are_changed(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*ENRICHMENT, enrichment("d1", "d2"))
    built(settings)
    lake.append(*ENRICHMENT, enrichment("d3"))
    assert changed_docs(settings) == {"d3"}


def test_rows_a_delete_carries_over_into_a_rewritten_file_are_not_changed(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*ENRICHMENT, enrichment("d1", "d2", "d3"))
    built(settings)
    table = lake.table(*ENRICHMENT)
    assert table is not None and delete_keys(table, "doc_id", ["d2"]) == 1
    assert changed_docs(settings) == {"d2"}


def test_a_row_deleted_and_written_again_with_new_values_is_changed(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*ENRICHMENT, enrichment("d1", "d2"))
    built(settings)
    table = lake.table(*ENRICHMENT)
    assert table is not None and delete_keys(table, "doc_id", ["d1", "d2"]) == 2
    lake.append(*ENRICHMENT, enrichment("d1"))  # d1 as it was, d2 in another language
    lake.append(*ENRICHMENT, enrichment("d2", language="de"))
    assert changed_docs(settings) == {"d2"}


def test_nothing_changed_gives_an_empty_key_file(settings: Settings) -> None:
    Lake(settings).append(*ENRICHMENT, enrichment("d1"))
    built(settings)
    assert changed_docs(settings) == set()


def test_a_link_reports_its_doc_and_its_canonical(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*LINKS, pa.table({"doc_id": ["a"], "canonical_doc_id": ["a"]}))
    built(settings)
    lake.append(*LINKS, pa.table({"doc_id": ["b"], "canonical_doc_id": ["a"]}))
    assert changed_docs(settings) == {"a", "b"}


def test_a_change_log_table_reports_records(settings: Settings) -> None:
    lake = Lake(settings)
    lake.overwrite(
        *LATEST_CHANGES, pa.table({"source_system": ["zendesk"], "source_record_id": ["1"], "status": ["open"]})
    )
    built(settings)
    rows = {"source_system": ["zendesk", "zendesk"], "source_record_id": ["1", "2"], "status": ["open", "solved"]}
    lake.overwrite(*LATEST_CHANGES, pa.table(rows))  # dbt rebuilds the table whole: record 1 is unchanged
    with changes.changed_keys_for_build(settings, "gold") as written:
        assert written
        records = pq.read_table(changes.record_keys_path(settings)).to_pylist()
    assert records == [{"source_system": "zendesk", "source_record_id": "2"}]


def test_a_purged_history_means_every_row_is_compared(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*ENRICHMENT, enrichment("d1", "d2"))
    built(settings)
    table = lake.table(*ENRICHMENT)
    assert table is not None
    erase_rows(table, "doc_id", ["d1"])  # an erasure: the file that held d1 is gone, and so are the old log entries
    assert changed_docs(settings) is None


def test_a_table_made_again_means_every_row_is_compared(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*ENRICHMENT, enrichment("d1"))
    lake.append(*ENRICHMENT, enrichment("d2"))
    built(settings)
    shutil.rmtree(lake.uri(*ENRICHMENT))
    for doc in ("d3", "d4", "d5"):  # the same version numbers, and more, in a new table
        lake.append(*ENRICHMENT, enrichment(doc))
    assert changed_docs(settings) is None


def test_a_table_gold_has_not_seen_means_every_row_is_compared(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*ENRICHMENT, enrichment("d1"))
    built(settings)
    lake.append(*LINKS, pa.table({"doc_id": ["a"], "canonical_doc_id": ["a"]}))
    assert changed_docs(settings) is None


def test_no_record_of_a_build_means_every_row_is_compared(settings: Settings) -> None:
    Lake(settings).append(*ENRICHMENT, enrichment("d1"))
    assert changed_docs(settings) is None


def test_a_build_of_silver_and_gold_gets_no_keys(settings: Settings) -> None:
    Lake(settings).append(*ENRICHMENT, enrichment("d1"))
    built(settings)
    with changes.changed_keys_for_build(settings, "silver gold") as written:
        assert not written and not changes.doc_keys_path(settings).exists()


def test_the_key_files_last_only_as_long_as_the_build(settings: Settings) -> None:
    Lake(settings).append(*ENRICHMENT, enrichment("d1"))
    built(settings)
    with changes.changed_keys_for_build(settings, "gold") as written:
        assert written and changes.doc_keys_path(settings).exists()
    assert not changes.doc_keys_path(settings).exists() and not changes.record_keys_path(settings).exists()


@pytest.mark.dbt
def test_every_input_of_the_bounded_models_is_tracked(settings: Settings) -> None:
    """A model that compares only changed rows must hear of every change to every table it reads."""
    manifest = parsed_manifest(settings)
    assert manifest is not None
    bounded = [n for n in manifest.nodes.values() if n.resource_type == "model" and Path(n.original_file_path).stem
               in {"fct_feedback", "fct_feedback_near_duplicates"}]  # fmt: skip
    assert len(bounded) == 2
    for node in bounded:
        inputs = {f"{node.schema}.{node.name}"}
        for upstream in node.depends_on.nodes:
            parent = manifest.nodes.get(upstream) or manifest.sources[upstream]
            inputs.add(f"{parent.schema}.{parent.name}")
        assert inputs <= set(changes.TRACKED), (node.name, inputs - set(changes.TRACKED))


def test_changes_too_large_to_read_cheaply_mean_every_row_is_compared(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(settings)
    lake.append(*ENRICHMENT, enrichment("d1"))
    built(settings)
    lake.overwrite(*ENRICHMENT, enrichment(*(f"d{i}" for i in range(1000))))  # a table rebuilt whole
    monkeypatch.setattr(changes, "MAX_CHANGED_BYTES", 1024)
    assert changed_docs(settings) is None
