"""Near-duplicate links: each doc points at a canonical doc it is at least ``threshold`` cosine-similar to.

Leader clustering in event order: a doc joins the most similar canonical doc seen before it, or becomes
canonical itself. Comparing only with canonical docs means no chaining (A~B, B~C never links A to C
unless both are close to the same canonical). Links are kept across runs; only new or changed docs,
and docs whose canonical disappeared or changed, are placed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from feedbackloop.embed.tables import NEAR_DUPLICATE_LINKS
from feedbackloop.embed.vectors import read_vectors
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.silver.texts import model_inputs

LINKS_TABLE = ("silver", "feedback_near_duplicate_links")
CHUNK = 1024
CANONICAL_BLOCK = 32_768


@dataclass
class NearDuplicateStats:
    docs_with_vectors: int = 0
    docs_placed: int = 0
    links_kept: int = 0
    canonical_docs: int = 0
    near_duplicates: int = 0


def link_near_duplicates(
    settings: Settings, version: str, run_id: str, docs: pa.Table | None = None
) -> NearDuplicateStats:
    """Refresh links for the kept docs (``docs``: doc_id, event_at; default: silver's model inputs)."""
    lake = Lake(settings)
    stats = NearDuplicateStats()
    rows, matrix = read_vectors(settings, version)
    docs = model_inputs(settings) if docs is None else docs
    if "event_at" not in docs.column_names or rows.num_rows == 0:
        if not lake.exists(*LINKS_TABLE):
            lake.append(*LINKS_TABLE, NEAR_DUPLICATE_LINKS.empty_table())
        return stats
    order = _event_order(rows, docs)
    doc_ids = rows.column("doc_id").take(pa.array(order)).to_pylist()
    hashes = rows.column("input_hash").take(pa.array(order)).to_pylist()
    vectors = matrix[order]
    stats.docs_with_vectors = len(doc_ids)
    kept = _reusable_links(lake, version, dict(zip(doc_ids, hashes, strict=True)))
    stats.links_kept = len(kept)
    canonical = [i for i, doc_id in enumerate(doc_ids) if kept.get(doc_id, ("", 0.0))[0] == doc_id]
    placed: dict[int, tuple[int, float]] = {}
    pending = [i for i, doc_id in enumerate(doc_ids) if doc_id not in kept]
    for start in range(0, len(pending), CHUNK):
        _place_chunk(vectors, pending[start : start + CHUNK], canonical, placed, settings.near_duplicate_threshold)
    stats.docs_placed = len(pending)
    if pending or len(kept) != _link_count(lake):
        _write_links(lake, doc_ids, hashes, kept, placed, version, run_id)
    links = {**{doc_ids[i]: doc_ids[c] for i, (c, _) in placed.items()}, **{d: c for d, (c, _) in kept.items()}}
    stats.canonical_docs = sum(1 for doc, canon in links.items() if doc == canon)
    stats.near_duplicates = len(links) - stats.canonical_docs
    return stats


def _event_order(rows: pa.Table, docs: pa.Table) -> np.ndarray:
    """Row positions of ``rows`` sorted by (event_at, doc_id), kept docs only."""
    events = docs.select(["doc_id", "event_at"])
    indexed = rows.select(["doc_id"]).append_column("row", pa.array(np.arange(rows.num_rows)))
    joined = indexed.join(events, keys="doc_id", join_type="inner").sort_by(
        [("event_at", "ascending"), ("doc_id", "ascending")]
    )
    return joined.column("row").to_numpy()


def _reusable_links(lake: Lake, version: str, current: dict[str, str]) -> dict[str, tuple[str, float]]:
    """doc_id -> (canonical, similarity) for links still valid: same space, same text, canonical still canonical."""
    dt = lake.table(*LINKS_TABLE)
    if dt is None:
        return {}
    links = dt.to_pyarrow_dataset().to_table(filter=pc.field("embedding_version") == version).to_pylist()
    valid = {
        row["doc_id"]: row
        for row in links
        if current.get(row["doc_id"]) == row["input_hash"] and row["canonical_doc_id"] in current
    }
    canonical = {doc for doc, row in valid.items() if row["canonical_doc_id"] == doc}
    return {
        doc: (row["canonical_doc_id"], float(row["similarity"]))
        for doc, row in valid.items()
        if row["canonical_doc_id"] in canonical
    }


def _place_chunk(
    vectors: np.ndarray, chunk: list[int], canonical: list[int], placed: dict[int, tuple[int, float]], threshold: float
) -> None:
    """Place each doc of ``chunk`` (in event order) on its best earlier canonical, or make it canonical."""
    block = vectors[chunk]
    best_known, best_known_sim = _best_canonical(vectors, canonical, block)
    within = block @ block.T
    new_canonical: list[int] = []  # positions in chunk that became canonical in this chunk
    for j, row in enumerate(chunk):
        candidate, similarity = (canonical[best_known[j]], float(best_known_sim[j])) if canonical else (-1, -np.inf)
        if new_canonical:
            sims = within[j, new_canonical]
            best = int(sims.argmax())
            if sims[best] > similarity:
                candidate, similarity = chunk[new_canonical[best]], float(sims[best])
        if similarity >= threshold:
            placed[row] = (candidate, similarity)
        else:
            placed[row] = (row, 1.0)
            new_canonical.append(j)
    canonical.extend(chunk[j] for j in new_canonical)


def _best_canonical(vectors: np.ndarray, canonical: list[int], block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in ``canonical``, similarity) of each block row's most similar canonical doc."""
    best = np.zeros(len(block), np.int64)
    best_sim = np.full(len(block), -np.inf, np.float32)
    for start in range(0, len(canonical), CANONICAL_BLOCK):  # bounded memory: never a full canonical x chunk matrix
        sims = vectors[canonical[start : start + CANONICAL_BLOCK]] @ block.T
        top = sims.argmax(axis=0)
        top_sim = sims[top, np.arange(len(block))]
        better = top_sim > best_sim
        best[better], best_sim[better] = top[better] + start, top_sim[better]
    return best, best_sim


def _link_count(lake: Lake) -> int:
    return lake.count(*LINKS_TABLE)


def _write_links(
    lake: Lake,
    doc_ids: list[str],
    hashes: list[str],
    kept: dict[str, tuple[str, float]],
    placed: dict[int, tuple[int, float]],
    version: str,
    run_id: str,
) -> None:
    # The table holds one row per doc of the current space; rewriting it drops links of deleted docs
    # and of an older embedding version in the same commit.
    out_doc, out_canon, out_sim, out_hash = [], [], [], []
    for i, doc_id in enumerate(doc_ids):
        if doc_id in kept:
            canon, sim = kept[doc_id]
        elif i in placed:
            c, sim = placed[i]
            canon = doc_ids[c]
        else:
            continue
        out_doc.append(doc_id)
        out_canon.append(canon)
        out_sim.append(sim)
        out_hash.append(hashes[i])
    n = len(out_doc)
    table = pa.table(
        {
            "doc_id": pa.array(out_doc, pa.string()),
            "canonical_doc_id": pa.array(out_canon, pa.string()),
            "similarity": pa.array(out_sim, pa.float32()),
            "input_hash": pa.array(out_hash, pa.string()),
            "embedding_version": pa.array([version] * n, pa.string()),
            "linked_at": pa.array([datetime.now(UTC)] * n, NEAR_DUPLICATE_LINKS.field("linked_at").type),
            "embed_run_id": pa.array([run_id] * n, pa.string()),
        },
        schema=NEAR_DUPLICATE_LINKS,
    )
    lake.overwrite(*LINKS_TABLE, table)
