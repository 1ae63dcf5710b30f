"""Reading vectors back: one embedding version at a time, as a float32 matrix of checked width."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

EMBEDDINGS_TABLE = ("silver", "feedback_embeddings")


def read_vectors(settings: Settings, version: str, text_kind: str = "text") -> tuple[pa.Table, np.ndarray]:
    """(doc_id + input_hash rows, matrix) of one space; Delta stores the fixed-size list as a plain list."""
    dt = Lake(settings).table(*EMBEDDINGS_TABLE)
    if dt is None:
        return pa.table({"doc_id": pa.array([], pa.string()), "input_hash": pa.array([], pa.string())}), np.zeros(
            (0, 0), np.float32
        )
    rows = dt.to_pyarrow_dataset().to_table(
        columns=["doc_id", "input_hash", "dim", "vector"],
        filter=(pc.field("embedding_version") == version) & (pc.field("text_kind") == text_kind),
    )
    return rows.select(["doc_id", "input_hash"]), to_matrix(rows.column("vector"), rows.column("dim"), version)


def to_matrix(vectors: pa.ChunkedArray | pa.Array, dims: pa.ChunkedArray | pa.Array, version: str) -> np.ndarray:
    """A (n, dim) float32 matrix; refuses rows whose stored width disagrees with their ``dim``."""
    widths = set(pc.unique(dims).to_pylist())
    if len(widths) > 1:
        raise ValueError(f"embedding_version {version!r} mixes vector widths {sorted(widths)}")
    if not widths:
        return np.zeros((0, 0), np.float32)
    dim = int(widths.pop())
    flat = pc.list_flatten(vectors)
    if len(flat) != len(vectors) * dim or pc.any(pc.not_equal(pc.list_value_length(vectors), dim)).as_py():
        raise ValueError(f"embedding_version {version!r} has vectors whose length is not their dim {dim}")
    return np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(len(vectors), dim)
