"""The embedded local index returns exactly what numpy brute force returns, filters included."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from feedbackloop.index.base import IndexRequestError, SearchFilters, make_filters
from feedbackloop.index.local import LocalIndex, LocalIndexOptions
from tests.index_data import START, doc_fields, exact_top_k, index_docs, random_unit

N, DIM = 3000, 32
VECTORS = random_unit(N, DIM, seed=1)
QUERIES = random_unit(8, DIM, seed=2)
FIELDS = [doc_fields(i) for i in range(N)]


def mask_of(predicate) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array([bool(predicate(f)) for f in FIELDS])


FILTER_CASES = [
    pytest.param(SearchFilters(), mask_of(lambda f: True), id="unfiltered"),
    pytest.param(make_filters({"platform": "ios"}), mask_of(lambda f: f["platform"] == "ios"), id="broad-33pct"),
    pytest.param(make_filters({"locale": "ja-JP"}), mask_of(lambda f: f["locale"] == "ja-JP"), id="selective-2pct"),
    pytest.param(
        make_filters({"platform": ["ios", "web"], "category": "bug"}),
        mask_of(lambda f: f["platform"] in ("ios", "web") and f["category"] == "bug"),
        id="two-fields-multi-value",
    ),
    pytest.param(
        make_filters(since=START + timedelta(hours=100), until=START + timedelta(hours=400)),
        mask_of(lambda f: START + timedelta(hours=100) <= f["event_at"] < START + timedelta(hours=400)),
        id="time-window",
    ),
    pytest.param(make_filters({"severity": "high"}), mask_of(lambda f: f["severity"] == "high"), id="label-field"),
]


def build(root: Path, **options: int) -> LocalIndex:
    index = LocalIndex(root, LocalIndexOptions(**options))
    index.begin("v1", DIM)
    index.upsert(index_docs(VECTORS))
    index.commit()
    return index


@pytest.fixture(scope="module")
def exact_index(tmp_path_factory: pytest.TempPathFactory) -> LocalIndex:
    return build(tmp_path_factory.mktemp("exact"), ann_min_docs=1_000_000)


@pytest.fixture(scope="module")
def ivf_index(tmp_path_factory: pytest.TempPathFactory) -> LocalIndex:
    # Every list probed: the IVF path must then equal brute force exactly, which proves the filter is
    # applied inside the scan (a post-filter would lose matches and fail this).
    return build(
        tmp_path_factory.mktemp("ivf"), ann_min_docs=1000, exact_max_candidates=10, ivf_lists=16, ivf_probes=16
    )


def result_rows(index: LocalIndex, query: np.ndarray, filters: SearchFilters, k: int) -> list[int]:
    return [int(hit.doc_id[1:]) for hit in index.search(query, filters, k)]


@pytest.mark.parametrize(("filters", "mask"), FILTER_CASES)
def test_exact_path_equals_numpy_brute_force(exact_index: LocalIndex, filters: SearchFilters, mask: np.ndarray) -> None:
    for query in QUERIES:
        assert result_rows(exact_index, query, filters, 10) == exact_top_k(VECTORS, query, mask, 10)


@pytest.mark.parametrize(("filters", "mask"), FILTER_CASES)
def test_ivf_path_filters_inside_the_scan(ivf_index: LocalIndex, filters: SearchFilters, mask: np.ndarray) -> None:
    assert ivf_index.info()["ann"] is True
    for query in QUERIES:
        assert result_rows(ivf_index, query, filters, 10) == exact_top_k(VECTORS, query, mask, 10)


def test_ivf_with_few_probes_keeps_high_recall(tmp_path: Path) -> None:
    index = build(tmp_path, ann_min_docs=1000, exact_max_candidates=10, ivf_lists=16, ivf_probes=8)
    every = np.ones(N, bool)
    found = [set(result_rows(index, q, SearchFilters(), 10)) & set(exact_top_k(VECTORS, q, every, 10)) for q in QUERIES]
    recall = np.mean([len(f) / 10 for f in found])
    assert recall >= 0.8  # random vectors are IVF's worst case; bench/local_index.py measures realistic data


def test_a_filter_matching_fewer_than_k_docs_returns_all_of_them(ivf_index: LocalIndex) -> None:
    filters = make_filters({"locale": "ja-JP", "platform": "ios"})  # i % 50 == 0 and i % 3 == 0: 20 docs
    expected = mask_of(lambda f: f["locale"] == "ja-JP" and f["platform"] == "ios")
    hits = ivf_index.search(QUERIES[0], filters, 50)
    assert len(hits) == int(expected.sum()) == 20


def test_filter_on_a_value_nobody_has_returns_nothing(exact_index: LocalIndex) -> None:
    assert exact_index.search(QUERIES[0], make_filters({"platform": "playstation"}), 10) == []


def test_scores_are_cosine_similarities(exact_index: LocalIndex) -> None:
    hit = exact_index.search(QUERIES[0], SearchFilters(), 1)[0]
    assert hit.similarity == pytest.approx(float(VECTORS[int(hit.doc_id[1:])] @ QUERIES[0]), abs=1e-5)


def test_upsert_replaces_a_doc_and_delete_removes_it(tmp_path: Path) -> None:
    index = build(tmp_path, ann_min_docs=1000, exact_max_candidates=10, ivf_lists=16, ivf_probes=16)
    target = QUERIES[3]
    index.begin("v1", DIM)
    moved = index_docs(VECTORS[:1])[0]
    moved.vector, moved.fingerprint = target, "moved"
    index.upsert([moved])
    index.delete(["d00001", "does-not-exist"])
    index.commit()
    hits = index.search(target, SearchFilters(), 3)
    assert hits[0].doc_id == "d00000" and hits[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert index.vector_of("d00001") is None
    assert index.info()["docs"] == N - 1


def test_a_reopened_index_answers_the_same(tmp_path: Path) -> None:
    first = build(tmp_path, ann_min_docs=1000, exact_max_candidates=10, ivf_lists=16, ivf_probes=4)
    reopened = LocalIndex(tmp_path, first.options)
    for query in QUERIES:
        assert [h.doc_id for h in reopened.search(query, SearchFilters(), 10)] == [
            h.doc_id for h in first.search(query, SearchFilters(), 10)
        ]


def test_a_new_embedding_version_replaces_the_old_only_on_commit(tmp_path: Path) -> None:
    old = build(tmp_path, ann_min_docs=1_000_000)
    writer = LocalIndex(tmp_path)
    assert writer.begin("v2", 8) is True
    writer.upsert(index_docs(random_unit(5, 8), version="v2"))
    assert LocalIndex(tmp_path).info()["embedding_version"] == "v1"
    writer.commit()
    reader = LocalIndex(tmp_path)
    assert reader.info() | {"location": None} == {"backend": "local", "embedding_version": "v2", "dim": 8, "docs": 5,
                                                  "ann": False, "location": None}  # fmt: skip
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [p.name for p in tmp_path.iterdir() if "v2" in p.name]
    assert old.info()["embedding_version"] == "v2"  # an open reader follows CURRENT


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(np.ones(DIM + 1, np.float32), "33-d vectors; the embedding space is 32-d", id="wrong-dimension"),
        pytest.param(np.full(DIM, np.nan, np.float32), "NaN or infinite", id="nan"),
        pytest.param(np.zeros(DIM, np.float32), "all zeros", id="zero"),
    ],
)
def test_a_bad_query_vector_is_refused(exact_index: LocalIndex, query: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exact_index.search(query, SearchFilters(), 10)


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        pytest.param(np.ones(DIM - 1, np.float32), r"doc d00000: 31-d vector in a 32-d index", id="wrong-dimension"),
        pytest.param(np.full(DIM, np.nan, np.float32), r"doc d00000: vector has NaN", id="nan"),
        pytest.param(np.zeros(DIM, np.float32), r"doc d00000: vector is all zeros", id="zero"),
    ],
)
def test_a_bad_document_vector_is_refused_by_name(tmp_path: Path, vector: np.ndarray, message: str) -> None:
    index = LocalIndex(tmp_path)
    index.begin("v1", DIM)
    doc = index_docs(VECTORS[:1])[0]
    doc.vector = vector
    with pytest.raises(IndexRequestError, match=message):
        index.upsert([doc])


def test_an_empty_index_answers_nothing(tmp_path: Path) -> None:
    assert LocalIndex(tmp_path).search(QUERIES[0], SearchFilters(), 10) == []
