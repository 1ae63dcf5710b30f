"""Online complaint clustering: each new complaint joins the nearest active cluster or starts one.

Complaints arrive in event-time order, in batches. A batch is compared with every active
centroid in one matrix product; items left over are grouped greedily among themselves (leader
clustering), so a burst of near-identical complaints in one batch still forms one cluster. A
centroid is the normalised running mean of its members, so old members are never re-read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits


@dataclass
class ClusterState:
    """The persisted centroids (unit vectors) with their ids, counts and last member time (epoch us)."""

    ids: list[str] = field(default_factory=list)
    sums: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # running sum of members
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    last_seen_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def centroids(self) -> np.ndarray:
        sums = self.sums[: len(self.ids)]
        return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)

    def add(self, cluster_id: str, vector: np.ndarray, at_us: int) -> int:
        k = len(self.ids)
        if self.sums.shape[0] == k:  # grow by doubling: founding clusters one by one stays linear
            grown = np.zeros((max(16, 2 * k), vector.shape[0]), np.float32)
            grown[:k] = self.sums[:k] if k else 0
            self.sums = grown
            self.counts = np.concatenate([self.counts, np.zeros(len(grown) - k, np.int64)])
            self.last_seen_us = np.concatenate([self.last_seen_us, np.zeros(len(grown) - k, np.int64)])
        self.ids.append(cluster_id)
        self.sums[k] = vector
        self.counts[k] = 1
        self.last_seen_us[k] = at_us
        return k

    def trim(self) -> None:
        """Drop the spare capacity (before persisting)."""
        k = len(self.ids)
        self.sums, self.counts, self.last_seen_us = self.sums[:k], self.counts[:k], self.last_seen_us[:k]


@dataclass
class Assignment:
    cluster_index: np.ndarray  # per item, row in the state
    similarity: np.ndarray  # cosine to the cluster's centroid at assignment time (1.0 for a founder)
    is_new_cluster: np.ndarray


def cluster_id_for(doc_id: str) -> str:
    """A cluster is named after its founding complaint, so reruns over the same data agree."""
    return "clu-" + hashlib.sha1(doc_id.encode()).hexdigest()[:12]


def assign(*args: object, **kwargs: object) -> Assignment:
    """See ``_assign``; BLAS runs single-threaded here: the leader loop is many small products, and
    a thread pool's wake-ups cost far more than the arithmetic (100x on two busy cores)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _assign(*args, **kwargs)  # type: ignore[arg-type]


def _assign(
    state: ClusterState,
    vectors: np.ndarray,
    doc_ids: list[str],
    event_us: np.ndarray,
    threshold: float,
    active_us: int,
    batch_size: int = 2048,
) -> Assignment:
    """Assign ``vectors`` (unit rows, sorted by ``event_us``) to clusters in ``state``, updating it in place.

    Only clusters with a member in the last ``active_us`` microseconds are candidates: a complaint
    about something long over starts a fresh cluster instead of reviving a stale one.
    """
    n = len(doc_ids)
    out_idx = np.full(n, -1, np.int64)
    out_sim = np.zeros(n, np.float32)
    out_new = np.zeros(n, bool)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        batch = vectors[start:stop]
        t_batch = event_us[start:stop]
        idx = np.full(stop - start, -1, np.int64)
        sim = np.zeros(stop - start, np.float32)
        if state.ids:
            active = np.flatnonzero(state.last_seen_us[: len(state.ids)] >= int(t_batch[0]) - active_us)
            if active.size:
                sims = batch @ state.centroids[active].T
                best = sims.argmax(axis=1)
                best_sim = sims[np.arange(len(best)), best]
                hit = best_sim >= threshold
                idx[hit] = active[best[hit]]
                sim[hit] = best_sim[hit]
        # leader clustering among the leftovers: the earliest founds a cluster, its neighbours join it
        left = np.flatnonzero(idx < 0)
        while left.size:
            leader = left[0]
            k = state.add(cluster_id_for(doc_ids[start + leader]), batch[leader], int(t_batch[leader]))
            out_new[start + leader] = True
            idx[leader], sim[leader] = k, 1.0
            rest = left[1:]
            if rest.size:
                s = batch[rest] @ batch[leader]
                join = rest[s >= threshold]
                idx[join] = k
                sim[join] = s[s >= threshold]
                left = rest[s < threshold]
            else:
                left = rest
            # the founder's own vector is already in the sum; add the joiners below with the others
            state.counts[k] -= 1
            state.sums[k] -= batch[leader]
        # one sparse product instead of np.add.at, which is slow per element
        k = len(state.ids)
        onehot = sparse.csr_matrix((np.ones(len(idx), np.float32), (idx, np.arange(len(idx)))), shape=(k, len(idx)))
        state.sums[:k] += onehot @ batch
        state.counts[:k] += np.bincount(idx, minlength=k)
        np.maximum.at(state.last_seen_us, idx, t_batch.astype(np.int64))
        out_idx[start:stop] = idx
        out_sim[start:stop] = sim
    state.trim()
    return Assignment(out_idx, out_sim, out_new)
