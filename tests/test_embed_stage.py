"""The embed stage: incremental, versioned, dimension-checked; bad vectors are refused by doc and recorded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from feedbackloop.embed.model import MiniLMEmbedder, OpenAIEmbedder, embedding_version, get_embedder
from feedbackloop.embed.near_duplicates import link_near_duplicates
from feedbackloop.embed.stage import embed_new_texts
from feedbackloop.embed.texts import INPUTS, summary_inputs
from feedbackloop.embed.vectors import read_vectors
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.servers import OpenAIEmbeddingsServer

DIM = 8


def inputs(rows: list[tuple[str, str | None]], kind: str = "text") -> pa.Table:
    return pa.Table.from_pylist(
        [{"doc_id": d, "text_kind": kind, "text": t, "input_hash": hashlib.md5((t or "").encode()).hexdigest()}
         for d, t in rows],
        schema=INPUTS,
    )  # fmt: skip


@pytest.fixture
def endpoint() -> Iterator[OpenAIEmbeddingsServer]:
    with OpenAIEmbeddingsServer(dim=DIM) as server:
        yield server


def remote(
    settings: Settings, server: OpenAIEmbeddingsServer, model: str = "embed-small", dim: int = DIM
) -> OpenAIEmbedder:
    settings = settings.model_copy(
        update={
            "embedding_backend": "openai",
            "embedding_base_url": server.base_url,
            "embedding_model": model,
            "embedding_dim": dim,
            "embedding_batch_size": 16,
        }
    )
    return OpenAIEmbedder(settings)


def stored(settings: Settings) -> pa.Table:
    return Lake(settings).read("silver", "feedback_embeddings")


def test_each_text_gets_one_row_with_version_dim_and_hash(settings: Settings, endpoint: OpenAIEmbeddingsServer) -> None:
    embedder = remote(settings, endpoint)
    stats = embed_new_texts(settings, embedder, "run-1", inputs=inputs([("a", "checkout hangs"), ("b", "love it")]))
    table = stored(settings)
    assert stats.texts_embedded == 2
    assert table.num_rows == 2
    assert set(table.column("embedding_version").to_pylist()) == {f"embed-small@{endpoint.base_url}"}
    assert set(table.column("dim").to_pylist()) == {DIM}
    _, matrix = read_vectors(settings, embedder.model_id)
    assert matrix.shape == (2, DIM)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)


def test_a_rerun_embeds_nothing(settings: Settings, endpoint: OpenAIEmbeddingsServer) -> None:
    embedder = remote(settings, endpoint)
    docs = inputs([("a", "checkout hangs"), ("b", "love it")])
    embed_new_texts(settings, embedder, "run-1", inputs=docs)
    requests = endpoint.requests
    stats = embed_new_texts(settings, embedder, "run-2", inputs=docs)
    assert (stats.texts_pending, stats.texts_embedded, endpoint.requests) == (0, 0, requests)


def test_changed_text_is_re_embedded_in_place(settings: Settings, endpoint: OpenAIEmbeddingsServer) -> None:
    embedder = remote(settings, endpoint)
    embed_new_texts(settings, embedder, "run-1", inputs=inputs([("a", "checkout hangs"), ("b", "love it")]))
    stats = embed_new_texts(
        settings, embedder, "run-2", inputs=inputs([("a", "checkout hangs forever"), ("b", "love it")])
    )
    table = stored(settings)
    assert (stats.texts_embedded, stats.texts_changed) == (1, 1)
    assert table.num_rows == 2  # one row per (doc_id, text_kind, embedding_version)
    row = table.filter(pc.field("doc_id") == "a").to_pylist()[0]
    assert row["embed_run_id"] == "run-2"


def test_copies_of_one_text_are_embedded_once(settings: Settings, endpoint: OpenAIEmbeddingsServer) -> None:
    stats = embed_new_texts(settings, remote(settings, endpoint), "r", inputs=inputs([("a", "same"), ("b", "same")]))
    assert (stats.texts_embedded, stats.distinct_texts) == (2, 1)


def test_a_new_model_is_a_new_space_and_never_mixes(settings: Settings, endpoint: OpenAIEmbeddingsServer) -> None:
    docs = inputs([("a", "checkout hangs"), ("b", "love it")])
    old, new = remote(settings, endpoint, model="embed-small"), remote(settings, endpoint, model="embed-large")
    embed_new_texts(settings, old, "run-1", inputs=docs)
    stats = embed_new_texts(settings, new, "run-2", inputs=docs)
    assert stats.texts_embedded == 2  # nothing reused across spaces
    assert read_vectors(settings, old.model_id)[1].shape == read_vectors(settings, new.model_id)[1].shape == (2, DIM)
    assert stored(settings).num_rows == 4


def test_an_endpoint_returning_the_wrong_dimension_fails_the_stage(settings: Settings) -> None:
    with OpenAIEmbeddingsServer(dim=5) as server:
        embedder = remote(settings, server, dim=DIM)
        with pytest.raises(ValueError, match=r"embed-small@.* gave 5-d vectors; the embedding space is 8-d"):
            embed_new_texts(settings, embedder, "r", inputs=inputs([("a", "checkout hangs")]))
    assert not Lake(settings).exists("silver", "feedback_embeddings")


def test_a_stored_space_of_another_width_is_refused(settings: Settings, endpoint: OpenAIEmbeddingsServer) -> None:
    embed_new_texts(settings, remote(settings, endpoint), "r", inputs=inputs([("a", "checkout hangs")]))
    with OpenAIEmbeddingsServer(dim=4) as narrow:
        # Same model name and URL, so the same model_id, but a different width: two spaces under one name.
        embedder = remote(settings, narrow, dim=4)
        embedder.model_id = remote(settings, endpoint).model_id
        with pytest.raises(ValueError, match=r"holds \[8\]-d vectors .* but the embedder gives 4-d"):
            embed_new_texts(settings, embedder, "r", inputs=inputs([("b", "other")]))


def test_nan_and_zero_vectors_are_rejected_by_doc_and_retried_next_run(
    settings: Settings, endpoint: OpenAIEmbeddingsServer
) -> None:
    docs = inputs([("good", "checkout hangs"), ("bad-nan", "nan-me please"), ("bad-zero", "zero-me please")])
    stats = embed_new_texts(settings, remote(settings, endpoint), "run-1", inputs=docs)
    assert (stats.texts_embedded, stats.texts_rejected) == (1, 2)
    assert {(r["doc_id"], r["reason"]) for r in stats.rejects} == {
        ("bad-nan", "vector has NaN or infinite values"),
        ("bad-zero", "vector is all zeros (no direction to compare)"),
    }
    rejects = Lake(settings).read("silver", "feedback_embedding_rejects")
    assert sorted(rejects.column("doc_id").to_pylist()) == ["bad-nan", "bad-zero"]
    assert stored(settings).column("doc_id").to_pylist() == ["good"]
    again = embed_new_texts(settings, remote(settings, endpoint), "run-2", inputs=docs)
    assert (again.texts_pending, again.texts_rejected) == (2, 2)  # recorded and retried, never silently dropped


@pytest.mark.parametrize(
    "text", [pytest.param("", id="empty"), pytest.param("   \n", id="blank"), pytest.param(None, id="null")]
)
def test_empty_text_is_counted_and_not_embedded(
    settings: Settings, endpoint: OpenAIEmbeddingsServer, text: str | None
) -> None:
    stats = embed_new_texts(settings, remote(settings, endpoint), "r", inputs=inputs([("a", "fine"), ("e", text)]))
    assert (stats.texts_empty, stats.empty_doc_ids, stats.texts_embedded) == (1, ["e"], 1)


def test_summaries_from_the_label_stage_are_embedded_as_their_own_kind(settings: Settings) -> None:
    labels = pa.table({"doc_id": ["a", "a", "b", "c"], "summary": ["old", "Checkout freezes on pay", "", "gone doc"],
                       "labelled_at": [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 1, 1)]})  # fmt: skip
    Lake(settings).append("silver", "feedback_labels", labels)
    out = summary_inputs(settings, pa.table({"doc_id": ["a", "b"]}))
    summary = "Checkout freezes on pay"
    expected = {
        "doc_id": "a",
        "text_kind": "summary",
        "text": summary,
        "input_hash": hashlib.md5(summary.encode()).hexdigest(),
    }
    assert out.to_pylist() == [expected]


def test_without_a_labels_table_there_are_no_summaries(settings: Settings) -> None:
    assert summary_inputs(settings, pa.table({"doc_id": ["a"]})).num_rows == 0


@pytest.mark.model
def test_the_packaged_minilm_is_the_default_and_reports_its_version(settings: Settings) -> None:
    embedder = get_embedder(settings)
    assert isinstance(embedder, MiniLMEmbedder)
    assert embedder.model_id == embedding_version(settings) == "sentence-transformers/all-MiniLM-L6-v2@gt-0.1.0"
    vectors = embedder.embed(["checkout hangs on iPhone 15", "payment screen freezes after tap", "love the colours"])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_near_duplicates_link_to_the_earliest_similar_doc(settings: Settings) -> None:
    base = np.eye(DIM, dtype=np.float32)
    close = base[0] * 0.99 + base[1] * np.sqrt(1 - 0.99**2)  # cosine 0.99 to e0
    far = base[0] * 0.80 + base[2] * 0.60  # cosine 0.80 to e0
    vectors = np.stack([base[0], close, far, base[3]])
    from tests.index_data import write_vectors

    write_vectors(settings, "v", ["first", "copy", "different", "other"], vectors)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    docs = pa.table({"doc_id": ["first", "copy", "different", "other"],
                     "event_at": [start + timedelta(hours=h) for h in (0, 1, 2, 3)]})  # fmt: skip
    stats = link_near_duplicates(settings, "v", "r", docs=docs)
    links = {
        r["doc_id"]: r["canonical_doc_id"]
        for r in Lake(settings).read("silver", "feedback_near_duplicate_links").to_pylist()
    }
    assert links == {"first": "first", "copy": "first", "different": "different", "other": "other"}
    assert (stats.canonical_docs, stats.near_duplicates) == (3, 1)


def test_near_duplicate_links_follow_deletions_and_do_not_chain(settings: Settings) -> None:
    from tests.index_data import write_vectors

    angle = np.deg2rad(14)  # cosine(14 deg) = 0.970, cosine(28 deg) = 0.883
    vectors = np.array([[1, 0], [np.cos(angle), np.sin(angle)], [np.cos(2 * angle), np.sin(2 * angle)]], np.float32)
    vectors = np.pad(vectors, ((0, 0), (0, DIM - 2)))
    write_vectors(settings, "v", ["a", "b", "c"], vectors)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    docs = pa.table({"doc_id": ["a", "b", "c"], "event_at": [start + timedelta(hours=h) for h in range(3)]})
    link_near_duplicates(settings, "v", "r1", docs=docs)
    links = {
        r["doc_id"]: r["canonical_doc_id"]
        for r in Lake(settings).read("silver", "feedback_near_duplicate_links").to_pylist()
    }
    assert links == {"a": "a", "b": "a", "c": "c"}  # c is close to b, not to the canonical a: no chaining
    link_near_duplicates(settings, "v", "r2", docs=docs.filter(pc.field("doc_id") != "a"))
    links = {
        r["doc_id"]: r["canonical_doc_id"]
        for r in Lake(settings).read("silver", "feedback_near_duplicate_links").to_pylist()
    }
    assert links == {"b": "c", "c": "c"}  # a left: b is placed again and joins the surviving canonical c
