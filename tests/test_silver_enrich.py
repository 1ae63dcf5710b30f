"""Enrichment detects the language of each silver doc once, reading only what silver gained since its last run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from feedbackloop.governance.purge import delete_keys
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.silver import enrich
from feedbackloop.silver.enrich import enrich_new_feedback


def add_silver_docs(settings: Settings, *texts: str) -> None:
    """Rows as the incremental staging model appends them (the columns enrichment reads)."""
    now = datetime.now(UTC)
    rows = [{"doc_id": f"doc-{t}", "text_hash": f"hash-{t}", "clean_text": t, "ingested_at": now} for t in texts]
    schema = pa.schema(
        [("doc_id", pa.string()), ("text_hash", pa.string()), ("clean_text", pa.string()),
         ("ingested_at", pa.timestamp("us", tz="UTC"))]
    )  # fmt: skip
    Lake(settings).append("silver", "stg_bronze__feedback", pa.Table.from_pylist(rows, schema=schema))


def enriched(settings: Settings) -> dict[str, str]:
    rows = Lake(settings).read("silver", "feedback_enrichment", columns=["doc_id", "language"]).to_pylist()
    return {row["doc_id"]: row["language"] for row in rows}


def test_a_rerun_enriches_only_the_docs_silver_gained(settings: Settings) -> None:
    add_silver_docs(settings, "The checkout keeps failing on my phone", "La aplicación se cierra sola")
    assert enrich_new_feedback(settings, "run-1").docs_enriched == 2
    assert enrich_new_feedback(settings, "run-2").docs_pending == 0

    add_silver_docs(settings, "Die App stürzt beim Start ab")
    stats = enrich_new_feedback(settings, "run-3")

    assert (stats.docs_pending, stats.docs_enriched) == (1, 1)
    assert enriched(settings) == {
        "doc-The checkout keeps failing on my phone": "en",
        "doc-La aplicación se cierra sola": "es",
        "doc-Die App stürzt beim Start ab": "de",
    }


def test_a_doc_whose_enrichment_was_deleted_is_enriched_again(settings: Settings) -> None:
    add_silver_docs(settings, "The checkout keeps failing on my phone", "Search is slow since the update")
    enrich_new_feedback(settings, "run-1")
    table = Lake(settings).table("silver", "feedback_enrichment")
    assert table is not None
    delete_keys(table, "doc_id", ["doc-Search is slow since the update"])  # as an erasure or retention would

    stats = enrich_new_feedback(settings, "run-2")

    assert stats.docs_enriched == 1
    assert set(enriched(settings)) == {
        "doc-The checkout keeps failing on my phone",
        "doc-Search is slow since the update",
    }


def enriched_once_then_a_new_doc(settings: Settings) -> None:
    add_silver_docs(settings, "The checkout keeps failing on my phone")
    enrich_new_feedback(settings, "run-1")
    add_silver_docs(settings, "La aplicación se cierra sola")


def test_a_rerun_after_silver_only_gained_rows_reads_no_enriched_ids(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    enriched_once_then_a_new_doc(settings)
    read = Lake.read
    tables_read: list[str] = []

    def recording_read(self: Lake, layer: str, name: str, *args: Any, **kwargs: Any) -> pa.Table:
        tables_read.append(f"{layer}.{name}")
        return read(self, layer, name, *args, **kwargs)

    monkeypatch.setattr(Lake, "read", recording_read)
    stats = enrich_new_feedback(settings, "run-2")

    assert (stats.docs_pending, stats.docs_enriched) == (1, 1)
    assert tables_read == []  # the new docs are the rows of silver's new files, read as files
    assert enriched(settings)["doc-La aplicación se cierra sola"] == "es"


def test_docs_silver_gains_while_a_run_enriches_are_left_to_the_next_run(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    enriched_once_then_a_new_doc(settings)
    plan = enrich._plan

    def silver_gains_a_doc_meanwhile(*args: Any) -> Any:
        add_silver_docs(settings, "Die App stürzt beim Start ab")  # after the run read silver's version
        return plan(*args)

    monkeypatch.setattr(enrich, "_plan", silver_gains_a_doc_meanwhile)
    assert enrich_new_feedback(settings, "run-2").docs_enriched == 1
    monkeypatch.setattr(enrich, "_plan", plan)

    assert enrich_new_feedback(settings, "run-3").docs_enriched == 1
    ids = Lake(settings).read("silver", "feedback_enrichment", columns=["doc_id"]).column("doc_id").to_pylist()
    assert len(ids) == len(set(ids)) == 3  # each doc enriched once


def test_progress_an_earlier_release_recorded_has_every_new_doc_checked_against_the_enriched_ids(
    settings: Settings,
) -> None:
    enriched_once_then_a_new_doc(settings)
    enrich_new_feedback(settings, "run-2")
    # Earlier releases could enrich docs silver committed after the version they recorded.
    progress = settings.state_dir / "enrich.json"
    covered = json.loads(progress.read_text())
    progress.write_text(json.dumps({"silver_version": 0, "enrichment_version": covered["enrichment_version"]}))

    stats = enrich_new_feedback(settings, "run-3")

    assert stats.docs_enriched == 0
    assert len(enriched(settings)) == 2


def test_a_silver_commit_without_rows_leaves_nothing_to_enrich(settings: Settings) -> None:
    enriched_once_then_a_new_doc(settings)
    enrich_new_feedback(settings, "run-2")
    add_silver_docs(settings)  # as an incremental build that found nothing new may commit

    stats = enrich_new_feedback(settings, "run-3")

    assert (stats.docs_pending, stats.docs_enriched) == (0, 0)
