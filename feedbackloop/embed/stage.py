"""The embed stage: vectors for new or changed text, one row per (doc_id, text_kind, embedding_version).

Incremental by ``input_hash``: a doc whose text did not change is never embedded twice in one space.
A model change is a new ``embedding_version`` (the embedder's model_id), so two spaces never mix:
readers always select one version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from feedbackloop.embed.model import Embedder, VectorError, check_dim
from feedbackloop.embed.tables import REJECTS, embeddings_schema
from feedbackloop.embed.texts import embedding_inputs
from feedbackloop.embed.vectors import EMBEDDINGS_TABLE
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

REJECTS_TABLE = ("silver", "feedback_embedding_rejects")
ROWS_PER_WRITE = 4096  # about 12 s of MiniLM on 2 cores per Delta commit: commits stay ~1% of the stage
MAX_RECORDED = 20  # examples kept in the run summary; every reject is in the rejects table
MERGE_KEY = "t.doc_id = s.doc_id and t.text_kind = s.text_kind and t.embedding_version = s.embedding_version"


@dataclass
class EmbedStats:
    embedding_version: str
    texts_seen: int = 0
    texts_pending: int = 0
    texts_embedded: int = 0
    texts_changed: int = 0
    texts_empty: int = 0
    texts_rejected: int = 0
    distinct_texts: int = 0
    rejects: list[dict[str, str]] = field(default_factory=list)
    empty_doc_ids: list[str] = field(default_factory=list)


def existing_keys(lake: Lake, version: str, dim: int) -> pa.Table:
    """(doc_id, text_kind, input_hash) already embedded in this space; refuses a space of another width."""
    dt = lake.table(*EMBEDDINGS_TABLE)
    if dt is None:
        return pa.table({"doc_id": pa.array([], pa.string()), "text_kind": pa.array([], pa.string()),
                         "input_hash": pa.array([], pa.string())})  # fmt: skip
    rows = dt.to_pyarrow_dataset().to_table(
        columns=["doc_id", "text_kind", "input_hash", "dim"], filter=pc.field("embedding_version") == version
    )
    widths = set(pc.unique(rows.column("dim")).to_pylist())
    if widths - {dim}:
        raise ValueError(
            f"silver/feedback_embeddings holds {sorted(widths)}-d vectors for embedding_version {version!r} but the "
            f"embedder gives {dim}-d: a different model must report a different model_id"
        )
    return rows.select(["doc_id", "text_kind", "input_hash"])


def pending_inputs(inputs: pa.Table, done: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(pending, changed-keys): inputs whose (doc_id, text_kind, input_hash) is not embedded yet."""
    keys = ["doc_id", "text_kind", "input_hash"]
    pending = inputs.join(done, keys=keys, join_type="left anti")
    changed = pending.select(["doc_id", "text_kind"]).join(
        done.select(["doc_id", "text_kind"]), keys=["doc_id", "text_kind"], join_type="left semi"
    )
    return pending, changed


def embed_new_texts(
    settings: Settings,
    embedder: Embedder,
    run_id: str,
    progress: Callable[[int, int], None] | None = None,
    inputs: pa.Table | None = None,
) -> EmbedStats:
    """Embed every text not yet embedded (or changed since) with ``embedder``; write vectors and rejects."""
    lake = Lake(settings)
    stats = EmbedStats(embedding_version=embedder.model_id)
    inputs = embedding_inputs(settings) if inputs is None else inputs
    stats.texts_seen = inputs.num_rows
    texts = inputs.column("text")
    empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(texts), ""), True)
    empties = inputs.filter(empty)
    stats.texts_empty = empties.num_rows
    stats.empty_doc_ids = empties.column("doc_id").to_pylist()[:MAX_RECORDED]
    pending, changed = pending_inputs(
        inputs.filter(pc.invert(empty)), existing_keys(lake, embedder.model_id, embedder.dim)
    )
    stats.texts_pending = pending.num_rows
    stats.texts_changed = changed.num_rows
    changed_keys = set(zip(changed.column("doc_id").to_pylist(), changed.column("text_kind").to_pylist(), strict=True))
    for start in range(0, pending.num_rows, ROWS_PER_WRITE):
        chunk = pending.slice(start, ROWS_PER_WRITE)
        vectors, problems, distinct = _embed_chunk(embedder, chunk.column("text").to_pylist())
        stats.distinct_texts += distinct
        good = np.ones(chunk.num_rows, dtype=bool)
        good[list(problems)] = False
        _write_vectors(lake, chunk, vectors, good, embedder, run_id, changed_keys)
        if problems:
            _write_rejects(lake, chunk, problems, embedder.model_id, run_id, stats)
        stats.texts_embedded += int(good.sum())
        if progress:
            progress(start + chunk.num_rows, pending.num_rows)
    return stats


def _embed_chunk(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, dict[int, str], int]:
    """Vectors for ``texts`` (copies embedded once) and row -> reason for the unusable ones."""
    unique = list(dict.fromkeys(texts))
    position = {text: i for i, text in enumerate(unique)}
    try:
        vectors = embedder.embed(unique)
        unique_problems: dict[int, str] = {}
    except VectorError as error:
        vectors, unique_problems = error.vectors, error.problems
    vectors = check_dim(vectors, embedder.dim, embedder.model_id)
    if vectors.shape[0] != len(unique):
        raise ValueError(f"{embedder.model_id} returned {vectors.shape[0]} vectors for {len(unique)} texts")
    rows = np.fromiter((position[text] for text in texts), dtype=np.int64, count=len(texts))
    problems = {row: unique_problems[int(u)] for row, u in enumerate(rows) if int(u) in unique_problems}
    return vectors[rows], problems, len(unique)


def _write_vectors(
    lake: Lake,
    chunk: pa.Table,
    vectors: np.ndarray,
    good: np.ndarray,
    embedder: Embedder,
    run_id: str,
    changed_keys: set[tuple[str, str]],
) -> None:
    if not good.any():
        return
    keep = pa.array(good)
    kept = chunk.filter(keep)
    flat = pa.array(np.ascontiguousarray(vectors[good]).reshape(-1), pa.float32())
    n = kept.num_rows
    schema = embeddings_schema(embedder.dim)
    table = pa.table(
        {
            "doc_id": kept.column("doc_id"),
            "text_kind": kept.column("text_kind"),
            "embedding_version": pa.array([embedder.model_id] * n, pa.string()),
            "dim": pa.array([embedder.dim] * n, pa.int32()),
            "vector": pa.FixedSizeListArray.from_arrays(flat, embedder.dim),
            "input_hash": kept.column("input_hash"),
            "embedded_at": pa.array([datetime.now(UTC)] * n, schema.field("embedded_at").type),
            "embed_run_id": pa.array([run_id] * n, pa.string()),
        },
        schema=schema,
    )
    is_changed = pa.array(
        [
            key in changed_keys
            for key in zip(table.column("doc_id").to_pylist(), table.column("text_kind").to_pylist(), strict=True)
        ],
        pa.bool_(),
    )
    fresh, updates = table.filter(pc.invert(is_changed)), table.filter(is_changed)
    if fresh.num_rows:
        lake.append(*EMBEDDINGS_TABLE, fresh)
    if updates.num_rows:
        dt = lake.table(*EMBEDDINGS_TABLE)
        assert dt is not None  # a changed key means the table already holds its old row
        (
            dt.merge(
                updates,
                predicate=MERGE_KEY,
                source_alias="s",
                target_alias="t",
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )


def _write_rejects(
    lake: Lake, chunk: pa.Table, problems: dict[int, str], version: str, run_id: str, stats: EmbedStats
) -> None:
    rows = sorted(problems)
    rejected = chunk.take(pa.array(rows, pa.int64()))
    reasons = [problems[row] for row in rows]
    table = pa.table(
        {
            "doc_id": rejected.column("doc_id"),
            "text_kind": rejected.column("text_kind"),
            "embedding_version": pa.array([version] * len(rows), pa.string()),
            "input_hash": rejected.column("input_hash"),
            "reason": pa.array(reasons, pa.string()),
            "rejected_at": pa.array([datetime.now(UTC)] * len(rows), REJECTS.field("rejected_at").type),
            "embed_run_id": pa.array([run_id] * len(rows), pa.string()),
        },
        schema=REJECTS,
    )
    lake.append(*REJECTS_TABLE, table)
    stats.texts_rejected += len(rows)
    for doc_id, kind, reason in zip(
        table.column("doc_id").to_pylist(), table.column("text_kind").to_pylist(), reasons, strict=True
    ):
        if len(stats.rejects) < MAX_RECORDED:
            stats.rejects.append({"doc_id": doc_id, "text_kind": kind, "reason": reason})
