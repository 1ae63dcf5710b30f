"""Retraining the local tier on accepted labels: LLM labels that passed every check, and human reviews.

The local tier's own labels are left out, so it never learns from itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from feedbackloop.label.local_tier import train_tier
from feedbackloop.label.stage import prepare
from feedbackloop.label.vectors import vectors_for
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect

ACCEPTED_SQL = """
with latest as (
    select *, row_number() over (partition by doc_id order by labeled_at desc, label_id desc) as recency
    from silver.feedback_labels
),
reviews as (
    select *, row_number() over (partition by doc_id order by reviewed_at desc, review_id desc) as recency
    from silver.feedback_label_reviews
)
select
    latest.doc_id,
    coalesce(reviews.category, latest.category) as category,
    coalesce(reviews.sentiment_label, latest.sentiment_label) as sentiment_label,
    reviews.review_id is not null as is_reviewed
from latest
left join reviews on latest.doc_id = reviews.doc_id and reviews.recency = 1
where latest.recency = 1
  and latest.taxonomy_version = ?
  and (reviews.review_id is not null or (latest.tier = 'llm' and latest.status = 'accepted'))
"""


def retrain_local(settings: Settings) -> dict[str, Any]:
    """Train both heads when there are enough accepted labels; otherwise keep the current tier."""
    from feedbackloop.silver.texts import model_inputs

    setup = prepare(settings)
    with connect(settings) as conn:
        tables = {n for (n,) in conn.execute("select table_name from information_schema.tables").fetchall()}
        if not {"feedback_labels", "feedback_label_reviews"} <= tables:
            return {"trained": False, "reason": "no labels yet", "labels": 0}
        accepted = conn.execute(ACCEPTED_SQL, [setup.taxonomy.version_id]).fetch_arrow_table().to_pylist()
    inputs = {r["doc_id"]: r for r in model_inputs(settings).to_pylist()}
    accepted = [a for a in accepted if a["doc_id"] in inputs and a["category"] in setup.taxonomy.names]
    stats: dict[str, Any] = {
        "labels": len(accepted),
        "reviewed": sum(a["is_reviewed"] for a in accepted),
        "classes": len({a["category"] for a in accepted}),
    }
    if len(accepted) < settings.label_min_training_labels or stats["classes"] < 2:
        return {**stats, "trained": False, "reason": f"needs {settings.label_min_training_labels} labels in 2+ classes"}
    docs = [inputs[a["doc_id"]] for a in accepted]
    vectors, _ = vectors_for(
        Lake(settings), setup.embedder, [d["doc_id"] for d in docs], [d["input_hash"] for d in docs],
        [d["text"] or "" for d in docs],
    )  # fmt: skip
    tier = train_tier(
        setup.taxonomy,
        setup.embedder,
        vectors,
        [d["text"] or "" for d in docs],
        [a["category"] for a in accepted],
        [a["sentiment_label"] for a in accepted],
        [d.get("rating") for d in docs],
    )
    directory = tier.save(Path(settings.label_model_dir), setup.taxonomy, setup.embedder)
    return {**stats, "trained": True, "model_id": tier.model_id, "directory": str(directory)}
