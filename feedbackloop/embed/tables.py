"""Schemas of the Delta tables the embed stage writes (the embeddings one is shared with the label stage)."""

from __future__ import annotations

import pyarrow as pa


def embeddings_schema(dim: int) -> pa.Schema:
    """``silver/feedback_embeddings``: one row per (doc_id, text_kind, embedding_version)."""
    return pa.schema(
        [
            ("doc_id", pa.string()),
            ("text_kind", pa.string()),  # 'text' (the customer's words) or 'summary' (the LLM summary)
            ("embedding_version", pa.string()),  # the embedder's model_id: one version = one vector space
            ("dim", pa.int32()),
            ("vector", pa.list_(pa.float32(), dim)),
            ("input_hash", pa.string()),  # md5 of the embedded text: a changed text is re-embedded
            ("embedded_at", pa.timestamp("us", tz="UTC")),
            ("embed_run_id", pa.string()),
        ]
    )


REJECTS = pa.schema(
    [
        ("doc_id", pa.string()),
        ("text_kind", pa.string()),
        ("embedding_version", pa.string()),
        ("input_hash", pa.string()),
        ("reason", pa.string()),
        ("rejected_at", pa.timestamp("us", tz="UTC")),
        ("embed_run_id", pa.string()),
    ]
)

NEAR_DUPLICATE_LINKS = pa.schema(
    [
        ("doc_id", pa.string()),
        ("canonical_doc_id", pa.string()),  # the doc itself when it is canonical
        ("similarity", pa.float32()),  # cosine to the canonical doc (1.0 for a canonical doc)
        ("input_hash", pa.string()),
        ("embedding_version", pa.string()),
        ("linked_at", pa.timestamp("us", tz="UTC")),
        ("embed_run_id", pa.string()),
    ]
)
