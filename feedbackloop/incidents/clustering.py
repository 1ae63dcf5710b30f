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


@dataclass
class ClusterState:
    """The persisted centroids (unit vectors) with their ids, counts and last member time (epoch us)."""

    ids: list[str] = field(default_factory=list)
    sums: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # running sum of members
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    last_seen_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def centroids(self) -> np.ndarray:
        if len(self.ids) == 0:
            return self.sums
        norms = np.linalg.norm(self.sums, axis=1, keepdims=True)
        return self.sums / np.maximum(norms, 1e-12)

    def add(self, cluster_id: str, vector: np.ndarray, at_us: int) -> int:
        if self.sums.size == 0:
            self.sums = np.zeros((0, vector.shape[0]), np.float32)
        self.ids.append(cluster_id)
        self.sums = np.vstack([self.sums, vector[None, :].astype(np.float32)])
        self.counts = np.append(self.counts, 1)
        self.last_seen_us = np.append(self.last_seen_us, at_us)
        return len(self.ids) - 1


@dataclass
class Assignment:
    cluster_index: np.ndarray  # per item, row in the state
    similarity: np.ndarray  # cosine to the cluster's centroid at assignment time (1.0 for a founder)
    is_new_cluster: np.ndarray


def cluster_id_for(doc_id: str) -> str:
    """A cluster is named after its founding complaint, so reruns over the same data agree."""
    return "clu-" + hashlib.sha1(doc_id.encode()).hexdigest()[:12]


def assign(
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
            active = np.flatnonzero(state.last_seen_us >= int(t_batch[0]) - active_us)
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
        np.add.at(state.sums, idx, batch)
        np.add.at(state.counts, idx, 1)
        np.maximum.at(state.last_seen_us, idx, t_batch.astype(np.int64))
        out_idx[start:stop] = idx
        out_sim[start:stop] = sim
    return Assignment(out_idx, out_sim, out_new)
