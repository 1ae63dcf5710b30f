"""Online clustering and representative-term names."""

from __future__ import annotations

import numpy as np

from feedbackloop.incidents.clustering import ClusterState, assign
from feedbackloop.incidents.naming import cluster_name, representative_terms

DAY_US = 86_400_000_000


def _topics(rng: np.random.Generator, centers: np.ndarray, which: list[int], noise: float = 0.08) -> np.ndarray:
    v = centers[which] + noise * rng.standard_normal((len(which), centers.shape[1])).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _centers(rng: np.random.Generator, k: int, dim: int = 32) -> np.ndarray:
    c = rng.standard_normal((k, dim)).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def test_complaints_about_one_thing_share_one_cluster_and_other_things_get_their_own() -> None:
    rng = np.random.default_rng(1)
    centers = _centers(rng, 3)
    which = [0, 1, 0, 2, 1, 0] * 10
    state = ClusterState()
    result = assign(state, _topics(rng, centers, which), [f"d{i}" for i in range(60)], np.arange(60), 0.6, DAY_US)
    assert len(state.ids) == 3
    for topic in range(3):
        assert len({result.cluster_index[i] for i, t in enumerate(which) if t == topic}) == 1
    assert result.is_new_cluster.sum() == 3


def test_a_second_run_assigns_new_items_to_the_clusters_of_the_first() -> None:
    rng = np.random.default_rng(2)
    centers = _centers(rng, 2)
    state = ClusterState()
    first = assign(state, _topics(rng, centers, [0, 1] * 5), [f"a{i}" for i in range(10)], np.arange(10), 0.6, DAY_US)
    second = assign(state, _topics(rng, centers, [1, 0]), ["b0", "b1"], np.array([20, 21]), 0.6, DAY_US)
    assert not second.is_new_cluster.any()
    assert second.cluster_index[0] == first.cluster_index[1]
    assert state.counts.sum() == 12


def test_a_stale_cluster_takes_no_new_members() -> None:
    rng = np.random.default_rng(3)
    centers = _centers(rng, 1)
    state = ClusterState()
    assign(state, _topics(rng, centers, [0, 0]), ["a", "b"], np.array([0, 1]), 0.6, DAY_US)
    later = assign(state, _topics(rng, centers, [0]), ["c"], np.array([40 * DAY_US]), 0.6, 30 * DAY_US)
    assert later.is_new_cluster.all()
    assert len(state.ids) == 2


def test_assignment_is_the_same_whatever_the_batch_size() -> None:
    rng = np.random.default_rng(4)
    centers = _centers(rng, 5)
    vectors = _topics(rng, centers, list(rng.integers(0, 5, 300)))
    ids = [f"d{i}" for i in range(300)]
    a, b = ClusterState(), ClusterState()
    ra = assign(a, vectors, ids, np.arange(300), 0.6, DAY_US, batch_size=7)
    rb = assign(b, vectors, ids, np.arange(300), 0.6, DAY_US, batch_size=1000)
    assert len(a.ids) == len(b.ids) == 5
    assert [a.ids[i] for i in ra.cluster_index] == [b.ids[i] for i in rb.cluster_index]


def test_names_come_from_terms_frequent_in_the_cluster_and_rare_elsewhere() -> None:
    terms = representative_terms(
        {
            "c1": ["I was charged twice for my order", "charged twice again, refund please", "payment charged twice"],
            "c2": ["the dashboard is slow", "reports time out, dashboard slow", "slow reports all day"],
        }
    )
    assert terms["c1"][:2] == ["charged", "twice"]
    assert terms["c2"][0] in {"slow", "dashboard"}
    assert cluster_name(terms["c1"][:2], "billing") == "billing: charged / twice"


def test_no_texts_gives_no_names() -> None:
    assert representative_terms({}) == {}
    assert representative_terms({"c": [None, ""]}) == {"c": []}
