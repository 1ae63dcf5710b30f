"""Index sync follows gold on both backends: idempotent reruns, deletions, corrections, labels when present."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest

from feedbackloop.embed.model import embedding_version
from feedbackloop.index import open_index
from feedbackloop.index.base import SearchFilters, VectorIndex, make_filters
from feedbackloop.index.elastic import ElasticIndex
from feedbackloop.index.sync import sync_index
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.index_data import gold_row, random_unit, write_gold, write_vectors

DOCS = [f"doc{i}" for i in range(12)]
VECTORS = random_unit(len(DOCS), 384, seed=11)


@pytest.fixture(params=["local", pytest.param("elasticsearch", marks=pytest.mark.es)])
def backend_settings(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    if request.param == "local":
        yield settings
        return
    es_url = request.getfixturevalue("es_url")
    configured = settings.model_copy(
        update={
            "index_backend": "elasticsearch",
            "elasticsearch_url": es_url,
            "elasticsearch_alias": f"fl-sync-{uuid.uuid4().hex[:8]}",
        }
    )
    yield configured
    index = open_index(configured)
    assert isinstance(index, ElasticIndex)
    index.drop_all()


def seed_lake(settings: Settings, docs: list[str] = DOCS, **overrides: object) -> None:
    write_gold(settings, [gold_row(d, f"text of {d}", DOCS.index(d), **overrides) for d in docs])
    positions = [DOCS.index(d) for d in docs]
    write_vectors(settings, embedding_version(settings), docs, VECTORS[positions])


def sync(settings: Settings) -> dict[str, int]:
    stats = sync_index(settings, open_index(settings))
    return {"upserted": stats.upserted, "deleted": stats.deleted, "unchanged": stats.unchanged}


def reader(settings: Settings) -> VectorIndex:
    return open_index(settings)


def test_first_sync_indexes_every_gold_doc_with_a_vector(backend_settings: Settings) -> None:
    seed_lake(backend_settings)
    assert sync(backend_settings) == {"upserted": 12, "deleted": 0, "unchanged": 0}
    assert reader(backend_settings).info()["docs"] == 12


def test_a_rerun_indexes_nothing(backend_settings: Settings) -> None:
    seed_lake(backend_settings)
    sync(backend_settings)
    assert sync(backend_settings) == {"upserted": 0, "deleted": 0, "unchanged": 12}


def test_a_doc_deleted_from_gold_leaves_the_index(backend_settings: Settings) -> None:
    seed_lake(backend_settings)
    sync(backend_settings)
    seed_lake(backend_settings, docs=DOCS[1:])
    assert sync(backend_settings) == {"upserted": 0, "deleted": 1, "unchanged": 11}
    assert reader(backend_settings).vector_of("doc0") is None


def test_a_correction_in_gold_is_re_indexed(backend_settings: Settings) -> None:
    seed_lake(backend_settings)
    sync(backend_settings)
    seed_lake(backend_settings, resolution_status="solved")
    assert sync(backend_settings) == {"upserted": 12, "deleted": 0, "unchanged": 0}
    hits = reader(backend_settings).search(VECTORS[0], SearchFilters(), 1)
    assert hits[0].fields["resolution_status"] == "solved"


def test_gold_docs_without_a_vector_are_counted_not_indexed(backend_settings: Settings) -> None:
    write_gold(backend_settings, [gold_row(d, "t", i) for i, d in enumerate(DOCS)])
    write_vectors(backend_settings, embedding_version(backend_settings), DOCS[:10], VECTORS[:10])
    stats = sync_index(backend_settings, open_index(backend_settings))
    assert (stats.indexed_docs, stats.docs_without_vector) == (10, 2)


def test_vectors_of_another_embedding_version_are_never_indexed(backend_settings: Settings) -> None:
    write_gold(backend_settings, [gold_row(d, "t", i) for i, d in enumerate(DOCS)])
    write_vectors(backend_settings, "some-other-model@1", DOCS, VECTORS)
    stats = sync_index(backend_settings, open_index(backend_settings))
    assert (stats.indexed_docs, stats.docs_without_vector) == (0, 12)


def test_a_model_change_rebuilds_the_index_in_the_new_space(backend_settings: Settings) -> None:
    seed_lake(backend_settings)
    sync(backend_settings)
    changed = backend_settings.model_copy(
        update={"embedding_backend": "openai", "embedding_model": "embed-v2", "embedding_dim": 16}
    )
    write_vectors(changed, embedding_version(changed), DOCS[:5], random_unit(5, 16))
    stats = sync_index(changed, open_index(changed))
    assert (stats.rebuilt, stats.upserted) == (True, 5)
    info = reader(changed).info()
    assert (info["embedding_version"], info["dim"], info["docs"]) == ("embed-v2@openai", 16, 5)


LABELS_PRESENT = pa.table({"doc_id": DOCS, "category": ["bug"] * 6 + ["billing"] * 6,
                           "severity": ["high", "low"] * 6, "sentiment_label": ["negative"] * 12})  # fmt: skip


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param(None, {"category": None, "severity": None}, id="labels-table-absent"),
        pytest.param(LABELS_PRESENT.slice(0, 0), {"category": None, "severity": None}, id="labels-table-empty"),
        pytest.param(
            LABELS_PRESENT.select(["doc_id", "category"]), {"category": "bug", "severity": None}, id="some-columns"
        ),
        pytest.param(LABELS_PRESENT, {"category": "bug", "severity": "high"}, id="labels-present"),
    ],
)
def test_labels_are_indexed_when_the_label_stage_wrote_them(
    backend_settings: Settings, labels: pa.Table | None, expected: dict[str, str | None]
) -> None:
    seed_lake(backend_settings)
    if labels is not None:
        Lake(backend_settings).append("silver", "feedback_labels", labels)
    sync(backend_settings)
    hit = reader(backend_settings).search(VECTORS[0], SearchFilters(), 1)[0]
    assert hit.doc_id == "doc0"
    assert {name: hit.fields.get(name) for name in expected} == expected


def test_a_label_correction_is_re_indexed_and_filterable(backend_settings: Settings) -> None:
    seed_lake(backend_settings)
    Lake(backend_settings).append("silver", "feedback_labels", LABELS_PRESENT)
    sync(backend_settings)
    corrected = LABELS_PRESENT.set_column(1, "category", pa.array(["praise"] * 12))
    Lake(backend_settings).overwrite("silver", "feedback_labels", corrected)
    assert sync(backend_settings)["upserted"] == 12
    hits = reader(backend_settings).search(VECTORS[3], make_filters({"category": "praise", "severity": "low"}), 20)
    assert sorted(h.doc_id for h in hits) == sorted(DOCS[1::2])
    assert np.isclose(hits[0].similarity or 0, 1.0, atol=1e-4) and hits[0].doc_id == "doc3"
