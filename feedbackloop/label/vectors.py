"""Vectors for the local tier: precomputed ones from ``silver/feedback_embeddings`` when they match, else computed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow.compute as pc

from feedbackloop.embed.model import Embedder
from feedbackloop.lake import Lake

EMBEDDINGS = ("silver", "feedback_embeddings")


def precomputed(
    lake: Lake, embedder: Embedder, doc_ids: Sequence[str], input_hashes: Sequence[str]
) -> dict[str, np.ndarray]:
    """doc_id -> vector from the embed stage, only for this embedder's space and the text as it is now."""
    if not doc_ids or not lake.exists(*EMBEDDINGS):
        return {}
    wanted = dict(zip(doc_ids, input_hashes, strict=True))
    expr = (
        (pc.field("text_kind") == "text")
        & (pc.field("embedding_version") == embedder.model_id)
        & pc.field("doc_id").isin(list(wanted))
    )
    table = lake.read(*EMBEDDINGS, columns=["doc_id", "input_hash", "vector"], filter_=expr)
    if table.num_rows == 0:
        return {}
    ids = table.column("doc_id").to_pylist()
    hashes = table.column("input_hash").to_pylist()
    flat = table.column("vector").combine_chunks()
    matrix = np.asarray(flat.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(len(ids), -1)
    return {d: matrix[i] for i, (d, h) in enumerate(zip(ids, hashes, strict=True)) if h == wanted[d]}


def vectors_for(
    lake: Lake | None, embedder: Embedder, doc_ids: Sequence[str], input_hashes: Sequence[str], texts: Sequence[str]
) -> tuple[np.ndarray, int]:
    """(n, dim) vectors row for row, and how many came precomputed."""
    found = precomputed(lake, embedder, doc_ids, input_hashes) if lake is not None else {}
    missing = [i for i, d in enumerate(doc_ids) if d not in found]
    out = np.zeros((len(doc_ids), embedder.dim), dtype=np.float32)
    for i, d in enumerate(doc_ids):
        if d in found:
            out[i] = found[d]
    if missing:
        out[missing] = embedder.embed([texts[i] or "" for i in missing])
    return out, len(doc_ids) - len(missing)
