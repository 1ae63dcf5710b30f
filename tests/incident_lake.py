"""A small lake with the tables the monitor stage reads, built directly (no dbt): tests of detection.

Complaints come from topic vectors (one per category and subtopic) plus noise, so clustering and
drift behave as with real embeddings while staying tiny (dim 32). Telemetry has one session per
complaint and a deploy per product.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from feedbackloop.embed.model import embedding_version
from feedbackloop.embed.tables import embeddings_schema
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

DIM = 32
START = datetime(2026, 9, 1, tzinfo=UTC)
CATEGORIES = ("billing", "login", "performance", "ux")
PRODUCTS = (("com.acme.shop", "android", "5.3.0"), ("com.acme.bank", "ios", "8.1.0"))
WORDS = {
    "billing": "refund invoice price subscription",
    "login": "password code locked session",
    "performance": "slow loading lag battery",
    "ux": "layout button confusing menu",
    "accessibility": "screen reader contrast font",
}


@dataclass
class Scenario:
    seed: int = 5
    items: list[dict] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        centers = self.rng.standard_normal((64, DIM)).astype(np.float32)
        self.centers = centers / np.linalg.norm(centers, axis=1, keepdims=True)
        self.topic_of: dict[str, int] = {}

    def topic(self, name: str) -> np.ndarray:
        k = self.topic_of.setdefault(name, len(self.topic_of))
        return self.centers[k]

    def add(self, at: datetime, category: str, topic: str, product: int = 0, **extra: object) -> str:
        v = self.topic(topic) + 0.08 * self.rng.standard_normal(DIM).astype(np.float32)
        n = len(self.items)
        name, platform, version = PRODUCTS[product]
        doc_id = f"doc{n:05d}"
        words = WORDS.get(category, category).split()
        item = {
            "doc_id": doc_id,
            "event_at": at,
            "category": category,
            "severity": "medium",
            "sentiment_label": "negative",
            "recommended_action": "engineering_ticket",
            "confidence": 0.9,
            "review_reason": None,
            "product": name,
            "product_area": category,
            "platform": platform,
            "app_version": version,
            "source_system": "zendesk" if n % 3 == 0 else ("google_play" if platform == "android" else "app_store"),
            "channel": "support_ticket" if n % 3 == 0 else "app_review",
            "rating": None if n % 3 == 0 else 1,
            "user_id": str(1000 + n),
            "session_id": f"s{n}",
            "text": f"{topic.replace('_', ' ')} {words[n % len(words)]} problem again",
        }
        item.update(extra)
        self.items.append(item)
        self.vectors.append((v / np.linalg.norm(v)).astype(np.float32))
        return doc_id

    def background(self, days: int, per_day: int, start: datetime = START) -> None:
        """Steady complaints: each category has three subtopics, products alternate, times spread over the day."""
        for d in range(days):
            for _ in range(per_day):
                at = start + timedelta(days=d, minutes=int(self.rng.integers(0, 1440)))
                cat = CATEGORIES[int(self.rng.integers(0, len(CATEGORIES)))]
                self.add(at, cat, f"{cat}_{int(self.rng.integers(0, 3))}", int(self.rng.integers(0, 2)))

    def burst(self, start: datetime, hours: float, n: int, category: str, topic: str, product: int = 0, **kw) -> list:
        return [self.add(start + timedelta(hours=hours * i / n), category, topic, product, **kw) for i in range(n)]


def write(settings: Settings, scenario: Scenario, telemetry_errors_after: datetime | None = None) -> None:
    """Write fct_feedback, fct_feedback_labels, feedback_embeddings, telemetry and deploys for ``scenario``."""
    lake = Lake(settings)
    items = sorted(scenario.items, key=lambda r: (r["event_at"], r["doc_id"]))
    order = {r["doc_id"]: i for i, r in enumerate(scenario.items)}
    ts = pa.timestamp("us", tz="UTC")
    feedback = pa.table(
        {
            "doc_id": [r["doc_id"] for r in items],
            "event_at": pa.array([r["event_at"] for r in items], ts),
            "user_id": [r["user_id"] for r in items],
            "session_id": [r["session_id"] for r in items],
            "redacted_text": [r["text"] for r in items],
            "source_system": [r["source_system"] for r in items],
            "channel": [r["channel"] for r in items],
        }
    )
    label_cols = ["category", "severity", "sentiment_label", "recommended_action", "review_reason", "product",
                  "product_area", "platform", "app_version", "source_system"]  # fmt: skip
    labels = pa.table(
        {
            "doc_id": [r["doc_id"] for r in items],
            "event_at": pa.array([r["event_at"] for r in items], ts),
            "confidence": pa.array([r["confidence"] for r in items], pa.float32()),
            "label_product_area": [r["product_area"] for r in items],
            "rating": pa.array([r["rating"] for r in items], pa.int32()),
            **{c: pa.array([r[c] for r in items], pa.string()) for c in label_cols},
        }
    )
    version = embedding_version(settings)
    vectors = [scenario.vectors[order[r["doc_id"]]] for r in items]
    embeddings = pa.Table.from_pylist(
        [
            {
                "doc_id": r["doc_id"], "text_kind": "text", "embedding_version": version, "dim": DIM,
                "vector": v.tolist(), "input_hash": r["doc_id"], "embedded_at": r["event_at"], "embed_run_id": "t",
            }
            for r, v in zip(items, vectors, strict=True)
        ],
        schema=embeddings_schema(DIM),
    )  # fmt: skip
    events = []
    for r in items:
        failing = telemetry_errors_after is not None and r["event_at"] >= telemetry_errors_after
        for j, kind in enumerate(["session_start", "latency", "api_error" if failing else "latency"]):
            events.append(
                {
                    "event_id": f"e-{r['doc_id']}-{j}",
                    "user_id": r["user_id"],
                    "session_id": r["session_id"],
                    "event_at": r["event_at"] - timedelta(minutes=30 - j),
                    "event_type": kind,
                    "value": 502.0 if kind == "api_error" else 200.0 + 10 * j,
                    "platform": r["platform"],
                    "app_version": r["app_version"],
                    "deploy_sha": None,
                }
            )
    telemetry = pa.Table.from_pylist(
        events,
        schema=pa.schema([("event_id", pa.string()), ("user_id", pa.string()), ("session_id", pa.string()),
                          ("event_at", ts), ("event_type", pa.string()), ("value", pa.float64()),
                          ("platform", pa.string()), ("app_version", pa.string()), ("deploy_sha", pa.string())]),
    )  # fmt: skip
    deploys = pa.Table.from_pylist(
        [
            {"deploy_id": f"d{i}", "deploy_sha": f"abc{i}def", "product": name, "app_version": version,
             "platform": platform, "deployed_at": START - timedelta(days=1), "superseded_at": None}
            for i, (name, platform, version) in enumerate(PRODUCTS)
        ],
        schema=pa.schema([("deploy_id", pa.string()), ("deploy_sha", pa.string()), ("product", pa.string()),
                          ("app_version", pa.string()), ("platform", pa.string()), ("deployed_at", ts),
                          ("superseded_at", ts)]),
    )  # fmt: skip
    lake.overwrite("gold", "fct_feedback", feedback)
    lake.overwrite("gold", "fct_feedback_labels", labels)
    lake.overwrite("silver", "feedback_embeddings", embeddings)
    lake.overwrite("silver", "stg_bronze__telemetry_events", telemetry)
    lake.overwrite("gold", "dim_deploys", deploys)
