"""The Elasticsearch backend through the real ``elasticsearch`` client.

Runs against noida-db started by the session, or against a real cluster when ELASTICSEARCH_URL is set.
Indexes stay small: noida-db's kNN is a linear scan.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from feedbackloop.index.base import IndexRequestError, IndexUnavailableError, SearchFilters, make_filters
from feedbackloop.index.elastic import ElasticIndex
from feedbackloop.settings import Settings
from tests.index_data import doc_fields, exact_top_k, index_docs, random_unit
from tests.servers import FaultProxy, free_port

pytestmark = [pytest.mark.es]

N, DIM = 300, 16
VECTORS = random_unit(N, DIM, seed=5)
QUERIES = random_unit(3, DIM, seed=6)
FIELDS = [doc_fields(i) for i in range(N)]


def es_settings(url: str, **overrides: object) -> Settings:
    values = {"elasticsearch_url": url, "elasticsearch_max_retries": 2, "elasticsearch_timeout_seconds": 10.0}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def fresh_alias() -> str:
    return f"fl-test-{uuid.uuid4().hex[:10]}"


def make_index(url: str, alias: str, **overrides: object) -> ElasticIndex:
    return ElasticIndex(es_settings(url, **overrides), alias=alias)


@pytest.fixture
def alias(es_url: str) -> Iterator[str]:
    name = fresh_alias()
    yield name
    make_index(es_url, name).drop_all()


@pytest.fixture(scope="module")
def loaded(es_url: str) -> Iterator[ElasticIndex]:
    """One committed index of N docs shared by the read-only tests."""
    index = make_index(es_url, fresh_alias())
    index.begin("v1", DIM)
    index.upsert(index_docs(VECTORS))
    index.commit()
    yield index
    index.drop_all()


def test_the_mapping_is_explicit_and_strict(loaded: ElasticIndex) -> None:
    index_name = loaded.info()["index"]
    mapping = loaded.client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["_meta"]["embedding_version"] == "v1"
    vector = mapping["properties"]["vector"]
    assert (vector["type"], vector["dims"], vector["similarity"]) == ("dense_vector", DIM, "cosine")
    for field in ("category", "severity", "sentiment_label", "source_system", "platform", "locale", "country",
                  "product_area", "app_version", "resolution_status", "labels"):  # fmt: skip
        assert mapping["properties"][field]["type"] == "keyword"
    assert mapping["properties"]["event_at"]["type"] == "date"
    assert mapping["properties"]["sentiment_score"]["type"] == "float"


@pytest.mark.parametrize(
    ("filters", "predicate"),
    [
        pytest.param(SearchFilters(), lambda f: True, id="unfiltered"),
        pytest.param(make_filters({"platform": "ios"}), lambda f: f["platform"] == "ios", id="keyword"),
        pytest.param(make_filters({"locale": "ja-JP"}), lambda f: f["locale"] == "ja-JP", id="selective"),
        pytest.param(
            make_filters({"source": "app_store", "category": ["bug", "billing"]}),
            lambda f: f["source_system"] == "app_store" and f["category"] in ("bug", "billing"),
            id="two-fields",
        ),
        pytest.param(
            make_filters(since="2026-10-03", until="2026-10-08"),
            lambda f: "2026-10-03" <= f["event_at"].date().isoformat() < "2026-10-08",
            id="time-window",
        ),
    ],
)
def test_filtered_knn_equals_numpy_brute_force(loaded: ElasticIndex, filters: SearchFilters, predicate) -> None:  # type: ignore[no-untyped-def]
    mask = np.array([bool(predicate(f)) for f in FIELDS])
    for query in QUERIES:
        hits = loaded.search(query, filters, 10)
        assert [int(h.doc_id[1:]) for h in hits] == exact_top_k(VECTORS, query, mask, 10)


def test_hybrid_search_fuses_lexical_and_vector_ranks(loaded: ElasticIndex) -> None:
    hits = loaded.search(VECTORS[7], SearchFilters(), 5, text="feedback number 123")
    assert {"d00007", "d00123"} <= {h.doc_id for h in hits}
    assert all("reciprocal rank fusion" in (h.rank_detail or "") for h in hits)


def test_more_like_this_excludes_the_doc_itself(loaded: ElasticIndex) -> None:
    vector = loaded.vector_of("d00042")
    assert vector is not None
    hits = loaded.search(vector, SearchFilters(exclude_doc_ids=("d00042",)), 5)
    mask = np.ones(N, bool)
    mask[42] = False
    assert [int(h.doc_id[1:]) for h in hits] == exact_top_k(VECTORS, VECTORS[42], mask, 5)


def test_bulk_upserts_replace_and_deletes_remove(es_url: str, alias: str) -> None:
    index = make_index(es_url, alias)
    index.begin("v1", DIM)
    index.upsert(index_docs(VECTORS[:20]))
    index.commit()
    changed = index_docs(VECTORS[:1])[0]
    changed.vector, changed.fingerprint = QUERIES[0], "changed"
    index.begin("v1", DIM)
    index.upsert([changed])
    index.delete(["d00001", "d00002", "never-indexed"])
    index.commit()
    assert index.info()["docs"] == 18
    assert index.fingerprints()["d00000"] == "changed"
    assert index.search(QUERIES[0], SearchFilters(), 1)[0].doc_id == "d00000"


def test_a_new_embedding_version_swaps_the_alias_atomically_on_commit(es_url: str, alias: str) -> None:
    index = make_index(es_url, alias)
    index.begin("v1", DIM)
    index.upsert(index_docs(VECTORS[:10]))
    index.commit()
    old_name = index.info()["index"]
    rebuild = make_index(es_url, alias)
    assert rebuild.begin("v2", 8) is True
    rebuild.upsert(index_docs(random_unit(4, 8), version="v2"))
    assert make_index(es_url, alias).info()["embedding_version"] == "v1"  # readers still on v1
    rebuild.commit()
    info = make_index(es_url, alias).info()
    assert (info["embedding_version"], info["dim"], info["docs"]) == ("v2", 8, 4)
    assert not rebuild.client.indices.exists(index=old_name)


def test_an_interrupted_rebuild_is_resumed_not_duplicated(es_url: str, alias: str) -> None:
    first = make_index(es_url, alias)
    first.begin("v1", DIM)
    first.upsert(index_docs(VECTORS[:5]))  # never committed: the run "failed" here
    second = make_index(es_url, alias)
    second.begin("v1", DIM)
    assert set(second.fingerprints()) == {f"d{i:05d}" for i in range(5)}


def test_a_document_the_mapping_rejects_is_named_in_the_error(es_url: str, alias: str) -> None:
    index = make_index(es_url, alias)
    index.begin("v1", DIM)
    doc = index_docs(VECTORS[:1])[0]
    doc.fields["not_in_mapping"] = "x"
    with pytest.raises(IndexRequestError, match=r"doc d00000: HTTP 400 strict_dynamic_mapping_exception"):
        index.upsert([doc])


def test_a_request_elasticsearch_refuses_with_400_is_reported(es_url: str, alias: str) -> None:
    index = make_index(es_url, alias)
    with pytest.raises(IndexRequestError, match="HTTP 400"):
        index._call("creating an index", index.client.indices.create, index=alias + "-bad",
                    mappings={"properties": {"vector": {"type": "dense_vector", "dims": -3}}})  # fmt: skip


def test_unreachable_elasticsearch_raises_a_clear_error() -> None:
    index = make_index(f"http://127.0.0.1:{free_port()}", fresh_alias(), elasticsearch_max_retries=1)
    with pytest.raises(IndexUnavailableError, match=r"Elasticsearch at http://127.0.0.1:\d+ is unreachable"):
        index.begin("v1", DIM)


def test_a_429_on_bulk_is_retried_and_then_succeeds(es_url: str, alias: str) -> None:
    with FaultProxy(es_url, status=429, failures=2, path_part="_bulk") as proxy:
        index = make_index(proxy.url, alias)
        index.begin("v1", DIM)
        index.upsert(index_docs(VECTORS[:10]))
        index.commit()
        assert proxy.refused == 2
        assert index.info()["docs"] == 10


def test_429_that_never_stops_raises_after_the_retries(es_url: str, alias: str) -> None:
    with FaultProxy(es_url, status=429, failures=-1, path_part="_bulk") as proxy:
        index = make_index(proxy.url, alias, elasticsearch_max_retries=1)
        index.begin("v1", DIM)
        with pytest.raises(IndexUnavailableError, match="429 Too Many Requests"):
            index.upsert(index_docs(VECTORS[:3]))
        assert proxy.refused >= 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(np.ones(DIM + 2, np.float32), "18-d vectors; the embedding space is 16-d", id="wrong-dimension"),
        pytest.param(np.full(DIM, np.nan, np.float32), "NaN or infinite", id="nan"),
        pytest.param(np.zeros(DIM, np.float32), "all zeros", id="zero"),
    ],
)
def test_a_bad_query_vector_never_reaches_elasticsearch(loaded: ElasticIndex, query: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        loaded.search(query, SearchFilters(), 10)
