"""Small gold lakes for the drift tests: labelled docs in two windows, with stored vectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from feedbackloop.embed.model import embedding_version
from feedbackloop.embed.tables import embeddings_schema
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

ANCHOR = datetime(2026, 11, 20, 12, tzinfo=UTC)
DIM = 384
_TS = pa.timestamp("us", tz="UTC")
LABELS = pa.schema(
    [
        ("doc_id", pa.string()),
        ("event_at", _TS),
        ("category", pa.string()),
        ("sentiment_label", pa.string()),
        ("severity", pa.string()),
        ("sentiment_score", pa.float32()),
        ("confidence", pa.float32()),
        ("rating", pa.int32()),
        ("label_source", pa.string()),
        ("label_status", pa.string()),
        ("tier", pa.string()),
    ]
)
FEEDBACK = pa.schema([("doc_id", pa.string()), ("event_at", _TS), ("redacted_text", pa.string())])
CALM = {"praise": 0.5, "billing": 0.2, "login": 0.15, "ux": 0.15}
BILLING_STORM = {"billing": 0.7, "praise": 0.2, "login": 0.05, "ux": 0.05}
WORDS = {
    "praise": "love the app it is great",
    "billing": "charged twice for one order please refund the payment now",
    "login": "cannot log in the code never arrives",
    "ux": "the menu is confusing",
}


def make_docs(
    prefix: str,
    n: int,
    end: datetime,
    days: float,
    mix: dict[str, float] = CALM,
    seed: int = 0,
    center: float = 0.0,
    **fixed: Any,
) -> list[dict[str, Any]]:
    """n labelled docs spread over (end - days, end]; ``center`` shifts every vector along one direction."""
    rng = np.random.default_rng(seed)
    names = list(mix)
    categories = rng.choice(names, size=n, p=np.array([mix[k] for k in names]) / sum(mix.values()))
    direction = np.zeros(DIM, dtype=np.float32)
    direction[0] = 1.0
    docs = []
    for i, category in enumerate(categories):
        negative = category != "praise"
        vector = rng.normal(size=DIM).astype(np.float32) * 0.1 + direction * center
        docs.append(
            {
                "doc_id": f"{prefix}-{i:04d}",
                "event_at": end - timedelta(days=days) * ((i + 0.5) / n),
                "category": str(category),
                "sentiment_label": "negative" if negative else "positive",
                "severity": "high" if category == "billing" else "low",
                "sentiment_score": float(rng.normal(-0.6 if negative else 0.7, 0.1)),
                "confidence": float(rng.uniform(0.8, 1.0)),
                "rating": 2 if negative else 5,
                "label_source": "model",
                "label_status": "accepted",
                "tier": "local",
                "text": " ".join([WORDS.get(str(category), str(category))] * int(rng.integers(1, 4))),
                "vector": vector / np.linalg.norm(vector),
                **fixed,
            }
        )
    return docs


def write_gold(settings: Settings, docs: list[dict[str, Any]], vectors: bool = True) -> None:
    """gold.fct_feedback_labels + gold.fct_feedback as dbt would leave them, and the embed stage's vectors."""
    lake = Lake(settings)
    lake.append("gold", "fct_feedback_labels", pa.Table.from_pylist(docs, schema=LABELS))
    feedback = [{"doc_id": d["doc_id"], "event_at": d["event_at"], "redacted_text": d["text"]} for d in docs]
    lake.append("gold", "fct_feedback", pa.Table.from_pylist(feedback, schema=FEEDBACK))
    if vectors:
        rows = [
            {
                "doc_id": d["doc_id"],
                "text_kind": "text",
                "embedding_version": embedding_version(settings),
                "dim": DIM,
                "vector": d["vector"].tolist(),
                "input_hash": "h",
                "embedded_at": d["event_at"],
                "embed_run_id": "test",
            }
            for d in docs
        ]
        lake.append("silver", "feedback_embeddings", pa.Table.from_pylist(rows, schema=embeddings_schema(DIM)))


def shifted_lake(settings: Settings, n: int = 60) -> None:
    """A calm reference month, then a week where billing complaints dominate and the vectors move."""
    reference = make_docs("ref", n * 2, ANCHOR - timedelta(days=7), 28, CALM, seed=1)
    current = make_docs("cur", n, ANCHOR, 7, BILLING_STORM, seed=2, center=0.3)
    write_gold(settings, reference + current)


def calm_lake(settings: Settings, n: int = 60) -> None:
    """The same population in both windows."""
    reference = make_docs("ref", n * 2, ANCHOR - timedelta(days=7), 28, CALM, seed=1)
    current = make_docs("cur", n, ANCHOR, 7, CALM, seed=2)
    write_gold(settings, reference + current)
