"""Small real Delta tables for the index tests: gold feedback rows and their vectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from feedbackloop.embed.tables import embeddings_schema
from feedbackloop.index.base import IndexDoc, fingerprint
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

PLATFORMS = ("ios", "android", "web")
LOCALES = ("en-US", "de-DE", "fr-FR", "ja-JP")
START = datetime(2026, 10, 1, tzinfo=UTC)


def random_unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def doc_fields(i: int, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "source_system": "app_store" if i % 2 else "zendesk",
        "platform": PLATFORMS[i % 3],
        "locale": "ja-JP" if i % 50 == 0 else LOCALES[i % 3],
        "severity": ("low", "medium", "high")[i % 3] if i % 4 else None,
        "category": ("bug", "billing", "praise", "feature")[i % 4],
        "event_at": START + timedelta(hours=i),
        "text": f"feedback number {i}",
    }
    fields.update(overrides)
    return fields


def index_docs(vectors: np.ndarray, version: str = "v1") -> list[IndexDoc]:
    docs = []
    for i, vector in enumerate(vectors):
        fields = doc_fields(i)
        docs.append(IndexDoc(f"d{i:05d}", vector, fields, fingerprint(version, str(i), fields)))
    return docs


def gold_row(doc_id: str, text: str, i: int = 0, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "doc_id": doc_id, "source_system": "app_store", "channel": "app_review", "product": "shop",
        "product_area": "checkout", "app_version": "5.4.0", "platform": PLATFORMS[i % 3], "locale": LOCALES[i % 3],
        "country": "US", "language": "en", "resolution_status": None, "rating": 2,
        "event_at": START + timedelta(hours=i), "redacted_text": text,
    }  # fmt: skip
    row.update(overrides)
    return row


GOLD = pa.schema(
    [(name, pa.string()) for name in ("doc_id", "source_system", "channel", "product", "product_area", "app_version",
                                      "platform", "locale", "country", "language", "resolution_status")]
    + [("rating", pa.int32()), ("event_at", pa.timestamp("us", tz="UTC")), ("redacted_text", pa.string())]
)  # fmt: skip


def write_gold(settings: Settings, rows: list[dict[str, Any]]) -> None:
    Lake(settings).overwrite("gold", "fct_feedback", pa.Table.from_pylist(rows, schema=GOLD))


def write_vectors(
    settings: Settings, version: str, doc_ids: list[str], vectors: np.ndarray, hashes: list[str] | None = None
) -> None:
    """Rows of silver/feedback_embeddings as the embed stage writes them (overwrites the table)."""
    n, dim = vectors.shape
    schema = embeddings_schema(dim)
    table = pa.table(
        {
            "doc_id": pa.array(doc_ids, pa.string()),
            "text_kind": pa.array(["text"] * n, pa.string()),
            "embedding_version": pa.array([version] * n, pa.string()),
            "dim": pa.array([dim] * n, pa.int32()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dim),
            "input_hash": pa.array(hashes or [f"h-{d}" for d in doc_ids], pa.string()),
            "embedded_at": pa.array([START] * n, schema.field("embedded_at").type),
            "embed_run_id": pa.array(["test"] * n, pa.string()),
        },
        schema=schema,
    )
    Lake(settings).overwrite("silver", "feedback_embeddings", table)


def exact_top_k(vectors: np.ndarray, query: np.ndarray, mask: np.ndarray, k: int) -> list[int]:
    """numpy brute force: the reference every backend is checked against."""
    scores = vectors @ query
    scores[~mask] = -np.inf
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[: min(k, int(mask.sum()))]]
