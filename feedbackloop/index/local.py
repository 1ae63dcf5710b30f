"""The embedded vector index: numpy arrays plus a faiss IVF structure, stored under the lake.

Filtered search is exact-correct by construction: the filter is evaluated first over every doc, then
either the matching docs are scored exactly (selective filters, small indexes) or the IVF scan skips
non-matching ids while it scans (broad filters), so no result is lost to filtering after the search.
If the IVF scan ever returns fewer than k matches, the search falls back to the exact path.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from feedbackloop.embed.model import vector_problems
from feedbackloop.index.base import (
    KEYWORD_FIELDS,
    Hit,
    IndexDoc,
    IndexRequestError,
    SearchFilters,
    check_query_vector,
    version_slug,
)
from feedbackloop.settings import Settings

NO_TIME = np.iinfo(np.int64).min  # a doc without event_at never falls inside a time window
CURRENT = "CURRENT"
EXACT_BLOCK = 2048  # rows gathered at a time by exact search: 3 MB at 384-d, stays in cache


@dataclass
class LocalIndexOptions:
    exact_max_candidates: int = 20_000
    ann_min_docs: int = 100_000
    ivf_lists: int = 0
    ivf_probes: int = 64

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalIndexOptions:
        return cls(
            exact_max_candidates=settings.index_exact_max_candidates,
            ann_min_docs=settings.index_ann_min_docs,
            ivf_lists=settings.index_ivf_lists,
            ivf_probes=settings.index_ivf_probes,
        )


@dataclass
class _Store:
    """Slot-addressed docs: a re-upserted or deleted doc leaves a dead slot until the next compaction."""

    version: str
    dim: int
    vectors: np.ndarray = field(init=False)
    alive: np.ndarray = field(init=False)
    event_at: np.ndarray = field(init=False)
    codes: dict[str, np.ndarray] = field(init=False)
    vocab: dict[str, dict[str, int]] = field(init=False)
    doc_ids: list[str] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)
    slot_of: dict[str, int] = field(default_factory=dict)
    ivf: Any = None
    ivf_trained_on: int = 0

    def __post_init__(self) -> None:
        self.vectors = np.zeros((0, self.dim), np.float32)
        self.alive = np.zeros(0, bool)
        self.event_at = np.zeros(0, np.int64)
        self.codes = {name: np.zeros(0, np.int32) for name in KEYWORD_FIELDS}
        self.vocab = {name: {} for name in KEYWORD_FIELDS}

    @property
    def n(self) -> int:
        return len(self.doc_ids)

    @property
    def live(self) -> int:
        return len(self.slot_of)

    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need <= len(self.alive):
            return
        capacity = max(need, 2 * len(self.alive), 1024)
        self.vectors = _grow(self.vectors, capacity)
        self.alive = _grow(self.alive, capacity)
        self.event_at = _grow(self.event_at, capacity)
        self.codes = {name: _grow(values, capacity) for name, values in self.codes.items()}

    def add(self, docs: Sequence[IndexDoc]) -> np.ndarray:
        self._reserve(len(docs))
        start = self.n
        slots = np.arange(start, start + len(docs))
        self.vectors[slots] = np.stack([doc.vector for doc in docs])
        self.alive[slots] = True
        for slot, doc in zip(slots.tolist(), docs, strict=True):
            self.doc_ids.append(doc.doc_id)
            self.fingerprints.append(doc.fingerprint)
            self.payloads.append(json.dumps(doc.fields, default=str))
            self.slot_of[doc.doc_id] = slot
            when = doc.fields.get("event_at")
            self.event_at[slot] = _micros(when)
            for name in KEYWORD_FIELDS:
                value = doc.fields.get(name)
                self.codes[name][slot] = (
                    -1 if value is None else self.vocab[name].setdefault(str(value), len(self.vocab[name]))
                )
        return slots

    def kill(self, doc_ids: Sequence[str]) -> np.ndarray:
        slots = np.array([self.slot_of.pop(doc_id) for doc_id in doc_ids if doc_id in self.slot_of], np.int64)
        self.alive[slots] = False
        return slots


def _grow(values: np.ndarray, capacity: int) -> np.ndarray:
    out = np.zeros((capacity, *values.shape[1:]), values.dtype)
    out[: len(values)] = values
    return out


def _micros(value: Any) -> int:
    if value is None:
        return int(NO_TIME)
    if isinstance(value, str):
        value = np.datetime64(value.replace("Z", "").split("+")[0], "us")
    elif hasattr(value, "timestamp"):
        return round(value.timestamp() * 1_000_000)
    return int(np.datetime64(value, "us").astype(np.int64))


class LocalIndex:
    """An embedded VectorIndex under ``root``; ``CURRENT`` names the committed generation readers load."""

    backend = "local"

    def __init__(self, root: Path, options: LocalIndexOptions | None = None) -> None:
        self.root = Path(root)
        self.options = options or LocalIndexOptions()
        self._committed: _Store | None = None
        self._loaded_generation: str | None = None
        self._writing: _Store | None = None
        self._dirty = False

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalIndex:
        root = settings.index_local_dir or Path(settings.table_uri("index", "local"))
        return cls(Path(root), LocalIndexOptions.from_settings(settings))

    # -- writing ------------------------------------------------------------------------------
    def begin(self, embedding_version: str, dim: int) -> bool:
        current = self._load()
        if current is not None and current.version == embedding_version and current.dim == dim:
            self._writing = current
            return False
        self._writing = _Store(embedding_version, dim)
        self._dirty = True  # even an empty new space replaces the old one
        return True

    def fingerprints(self) -> dict[str, str]:
        store = self._require_writing()
        return {doc_id: store.fingerprints[slot] for doc_id, slot in store.slot_of.items()}

    def upsert(self, docs: Sequence[IndexDoc]) -> None:
        store = self._require_writing()
        if not docs:
            return
        for doc in docs:
            vector = np.asarray(doc.vector, np.float32)
            if vector.shape != (store.dim,):
                raise IndexRequestError(f"doc {doc.doc_id}: {vector.shape[-1]}-d vector in a {store.dim}-d index")
            problem = vector_problems(vector.reshape(1, -1)).get(0)
            if problem:
                raise IndexRequestError(f"doc {doc.doc_id}: {problem}")
        self._remove_from_ivf(store, store.kill([doc.doc_id for doc in docs]))
        slots = store.add(docs)
        if store.ivf is not None:
            store.ivf.add_with_ids(store.vectors[slots], slots.astype(np.int64))
        self._dirty = True

    def delete(self, doc_ids: Sequence[str]) -> None:
        store = self._require_writing()
        slots = store.kill(doc_ids)
        self._remove_from_ivf(store, slots)
        self._dirty = self._dirty or len(slots) > 0

    def commit(self) -> None:
        store = self._require_writing()
        if not self._dirty:
            return
        if store.n and (store.n - store.live) > 0.25 * store.n:
            store = self._writing = _compact(store)
        if store.live >= self.options.ann_min_docs and (store.ivf is None or store.live > 2 * store.ivf_trained_on):
            _build_ivf(store, self.options.ivf_lists)
        elif store.live < self.options.ann_min_docs:
            store.ivf = None
        generation = self._write(store)
        self._committed, self._loaded_generation, self._dirty = store, generation, False

    def _require_writing(self) -> _Store:
        if self._writing is None:
            raise RuntimeError("call begin(embedding_version, dim) before writing to the index")
        return self._writing

    @staticmethod
    def _remove_from_ivf(store: _Store, slots: np.ndarray) -> None:
        if store.ivf is not None and len(slots):
            import faiss

            store.ivf.remove_ids(faiss.IDSelectorBatch(slots.astype(np.int64)))

    # -- persistence --------------------------------------------------------------------------
    def _write(self, store: _Store) -> str:
        import faiss

        slug = version_slug(store.version)
        generation = f"{slug}/gen-{time.time_ns()}"
        folder = self.root / generation
        folder.mkdir(parents=True)
        n = store.n
        np.save(folder / "vectors.npy", store.vectors[:n])
        np.save(folder / "alive.npy", store.alive[:n])
        columns: dict[str, Any] = {
            "doc_id": pa.array(store.doc_ids, pa.string()),
            "fingerprint": pa.array(store.fingerprints, pa.string()),
            "payload": pa.array(store.payloads, pa.string()),
            "event_at_us": pa.array(store.event_at[:n], pa.int64()),
        }
        columns.update({f"code__{name}": pa.array(store.codes[name][:n], pa.int32()) for name in KEYWORD_FIELDS})
        pq.write_table(pa.table(columns), folder / "docs.parquet")
        if store.ivf is not None:
            faiss.write_index(store.ivf, str(folder / "ivf.faiss"))
        manifest = {"embedding_version": store.version, "dim": store.dim, "docs": store.live, "slots": n,
                    "ivf_trained_on": store.ivf_trained_on, "vocab": store.vocab}  # fmt: skip
        (folder / "manifest.json").write_text(json.dumps(manifest))
        pointer = self.root / f".{CURRENT}.{os.getpid()}"
        pointer.write_text(generation)
        os.replace(pointer, self.root / CURRENT)  # atomic: readers see the old or the new generation
        self._prune(generation)
        return generation

    def _prune(self, keep: str) -> None:
        for version_dir in self.root.iterdir():
            if not version_dir.is_dir():
                continue
            for gen in version_dir.iterdir():
                if f"{version_dir.name}/{gen.name}" != keep:
                    shutil.rmtree(gen, ignore_errors=True)
            if not any(version_dir.iterdir()):
                version_dir.rmdir()

    def _load(self) -> _Store | None:
        pointer = self.root / CURRENT
        if not pointer.exists():
            return None
        generation = pointer.read_text().strip()
        if self._committed is not None and generation == self._loaded_generation:
            return self._committed
        folder = self.root / generation
        manifest = json.loads((folder / "manifest.json").read_text())
        store = _Store(manifest["embedding_version"], int(manifest["dim"]))
        store.vectors = np.load(folder / "vectors.npy")
        store.alive = np.load(folder / "alive.npy")
        docs = pq.read_table(folder / "docs.parquet")
        store.doc_ids = docs.column("doc_id").to_pylist()
        store.fingerprints = docs.column("fingerprint").to_pylist()
        store.payloads = docs.column("payload").to_pylist()
        store.event_at = docs.column("event_at_us").to_numpy().copy()
        store.codes = {name: docs.column(f"code__{name}").to_numpy().copy() for name in KEYWORD_FIELDS}
        store.vocab = {name: dict(values) for name, values in manifest["vocab"].items()}
        store.slot_of = {doc_id: slot for slot, doc_id in enumerate(store.doc_ids) if store.alive[slot]}
        if (folder / "ivf.faiss").exists():
            import faiss

            store.ivf = faiss.read_index(str(folder / "ivf.faiss"))
            store.ivf_trained_on = int(manifest["ivf_trained_on"])
        self._committed, self._loaded_generation = store, generation
        return store

    # -- reading ------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        store = self._load()
        if store is None:
            return {}
        return {"backend": self.backend, "embedding_version": store.version, "dim": store.dim, "docs": store.live,
                "ann": store.ivf is not None, "location": str(self.root)}  # fmt: skip

    def vector_of(self, doc_id: str) -> np.ndarray | None:
        store = self._load()
        if store is None or doc_id not in store.slot_of:
            return None
        return store.vectors[store.slot_of[doc_id]].copy()

    def search(self, vector: np.ndarray, filters: SearchFilters, k: int, text: str | None = None) -> list[Hit]:
        store = self._load()
        if store is None or store.live == 0:
            return []
        query = check_query_vector(vector, store.dim)
        mask = _filter_mask(store, filters)
        matches = store.live if mask is None else int(np.count_nonzero(mask))
        if matches == 0:
            return []
        k_eff = min(k, matches)
        slots: np.ndarray | None = None
        scores = np.zeros(0, np.float32)
        if store.ivf is not None and matches > self.options.exact_max_candidates:
            slots, scores = _ivf_search(store, query, mask, matches, k_eff, self.options)
        if slots is None or len(slots) < k_eff:
            slots, scores = _exact_search(store, query, mask, k_eff)
        return [
            Hit(doc_id=store.doc_ids[s], score=float(sc), similarity=float(sc), fields=json.loads(store.payloads[s]))
            for s, sc in zip(slots.tolist(), scores.tolist(), strict=True)
        ]


def _filter_mask(store: _Store, filters: SearchFilters) -> np.ndarray | None:
    """Alive docs passing every filter, or None for "every alive doc" (no filter at all)."""
    if filters.is_empty:
        return None
    n = store.n
    mask = store.alive[:n].copy()
    for name, values in filters.terms.items():
        # A lookup table over the field's codes: one gather per doc, where np.isin would sort a million codes.
        # Its last entry stays False and catches the -1 code of docs without a value.
        accepted = np.zeros(len(store.vocab[name]) + 1, bool)
        accepted[[store.vocab[name][v] for v in values if v in store.vocab[name]]] = True
        mask &= accepted[store.codes[name][:n]]
    if filters.since is not None:
        mask &= store.event_at[:n] >= _micros(filters.since)
    if filters.until is not None:
        mask &= (store.event_at[:n] < _micros(filters.until)) & (store.event_at[:n] != NO_TIME)
    for doc_id in filters.exclude_doc_ids:
        if doc_id in store.slot_of:
            mask[store.slot_of[doc_id]] = False
    return mask


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return top[np.argsort(-scores[top], kind="stable")]


def _dot(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """matrix @ query in this thread: multi-threaded BLAS matvecs stall for tens of ms on busy cores."""
    return np.einsum("ij,j->i", matrix, query)


def _exact_search(store: _Store, query: np.ndarray, mask: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    if mask is None:
        scores = _dot(store.vectors[: store.n], query)
        scores[~store.alive[: store.n]] = -np.inf
        top = _top_k(scores, k)
        return top, scores[top]
    slots = np.flatnonzero(mask)
    scores = np.empty(len(slots), np.float32)
    # Gather and score in cache-sized blocks: one pass over memory instead of copy-out then read-back.
    for start in range(0, len(slots), EXACT_BLOCK):
        part = slots[start : start + EXACT_BLOCK]
        scores[start : start + len(part)] = _dot(store.vectors[part], query)
    top = _top_k(scores, k)
    return slots[top], scores[top]


def _ivf_search(
    store: _Store, query: np.ndarray, mask: np.ndarray | None, matches: int, k: int, options: LocalIndexOptions
) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    nlist = store.ivf.nlist
    selectivity = matches / max(store.live, 1)
    # A filter keeps fewer docs per list, so the true top-k lie in more lists: probe proportionally more.
    nprobe = min(nlist, int(np.ceil(options.ivf_probes / np.sqrt(selectivity))))
    # faiss's type stubs lag its SWIG wrappers: keyword parameters and array-backed selectors are real.
    if mask is None:
        params = faiss.SearchParametersIVF(nprobe=nprobe)  # type: ignore[call-arg]
    else:
        bitmap = np.packbits(mask, bitorder="little")
        selector = faiss.IDSelectorBitmap(bitmap)  # type: ignore[call-arg,arg-type]
        params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)  # type: ignore[call-arg]
    scores, ids = store.ivf.search(query.reshape(1, -1), k, params=params)
    found = ids[0] >= 0
    return ids[0][found], scores[0][found]


def _compact(store: _Store) -> _Store:
    live = np.array(sorted(store.slot_of.values()), np.int64)
    fresh = _Store(store.version, store.dim)
    fresh.vectors = store.vectors[live].copy()
    fresh.alive = np.ones(len(live), bool)
    fresh.event_at = store.event_at[live].copy()
    fresh.codes = {name: values[live].copy() for name, values in store.codes.items()}
    fresh.vocab = store.vocab
    fresh.doc_ids = [store.doc_ids[s] for s in live]
    fresh.fingerprints = [store.fingerprints[s] for s in live]
    fresh.payloads = [store.payloads[s] for s in live]
    fresh.slot_of = {doc_id: slot for slot, doc_id in enumerate(fresh.doc_ids)}
    return fresh  # ivf dropped: slots moved, so it is rebuilt


def _build_ivf(store: _Store, lists: int) -> None:
    """Train k-means lists on a sample of live docs and add every live doc, ids = slots."""
    import faiss

    live = np.array(sorted(store.slot_of.values()), np.int64)
    nlist = lists or max(16, len(live) // 1000)
    rng = np.random.default_rng(0)
    sample = store.vectors[rng.choice(live, size=min(len(live), 64 * nlist), replace=False)]
    quantizer = faiss.IndexFlatIP(store.dim)
    ivf = faiss.IndexIVFFlat(quantizer, store.dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = 0
    ivf.train(np.ascontiguousarray(sample))
    for start in range(0, len(live), 100_000):
        part = live[start : start + 100_000]
        ivf.add_with_ids(np.ascontiguousarray(store.vectors[part]), part)
    ivf.referenced_objects = [quantizer]  # type: ignore[attr-defined]  # keeps the quantizer alive with the index
    store.ivf, store.ivf_trained_on = ivf, len(live)
