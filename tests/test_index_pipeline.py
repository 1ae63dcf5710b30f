"""The embed and index stages inside ``feedback-pipeline``: real flow runs, MiniLM, dbt, both index backends."""

from __future__ import annotations

import uuid

import pytest

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings, get_settings
from flows.pipeline import feedback_pipeline
from tests.samples import app_store_row, write_app_store
from tests.servers import free_port

pytestmark = [pytest.mark.prefect, pytest.mark.slow, pytest.mark.model]

REVIEWS = [
    app_store_row("r1", "Checkout hangs on iPhone 15 when I pay"),
    app_store_row("r2", "Checkout hangs on my iPhone 15 when I pay", reviewerNickname="kim"),
    app_store_row("r3", "Love the new dark mode"),
]


def test_pipeline_embeds_links_near_duplicates_in_gold_and_indexes(settings: Settings) -> None:
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", REVIEWS)
    summary = feedback_pipeline()
    assert summary["embed"]["texts_embedded"] == 3
    assert (summary["index"]["upserted"], summary["index"]["indexed_docs"]) == (3, 3)
    links = Lake(settings).read("gold", "fct_feedback_near_duplicates").to_pylist()
    assert sum(row["is_near_duplicate"] for row in links) == 1
    assert len({row["canonical_doc_id"] for row in links}) == 2


@pytest.mark.es
def test_an_unreachable_index_does_not_block_the_pipeline_and_the_next_run_catches_up(
    settings: Settings, es_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDBACKLOOP_INDEX_BACKEND", "elasticsearch")
    monkeypatch.setenv("FEEDBACKLOOP_ELASTICSEARCH_ALIAS", f"fl-pipe-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("FEEDBACKLOOP_ELASTICSEARCH_MAX_RETRIES", "0")
    monkeypatch.setenv("FEEDBACKLOOP_ELASTICSEARCH_URL", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", REVIEWS)
    down = feedback_pipeline()
    assert down["index"]["status"] == "failed"
    assert "unreachable" in down["index"]["error"]
    assert down["layers"]["gold.fct_feedback"] == 3  # gold (and everything before it) still landed

    monkeypatch.setenv("FEEDBACKLOOP_ELASTICSEARCH_URL", es_url)
    get_settings.cache_clear()
    up = feedback_pipeline()
    assert up["embed"]["texts_pending"] == 0  # embedding was done by the first run
    assert (up["index"]["upserted"], up["index"]["indexed_docs"]) == (3, 3)

    from feedbackloop.index.elastic import ElasticIndex

    ElasticIndex(get_settings()).drop_all()
