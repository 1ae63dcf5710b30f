"""Enrichment detects the language of each silver doc once, reading only what silver gained since its last run."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from feedbackloop.governance.purge import delete_keys
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
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
