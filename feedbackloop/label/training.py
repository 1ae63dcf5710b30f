"""Retraining the local tier on accepted labels: LLM labels that passed every check, and human reviews.

The local tier's own labels are left out, so it never learns from itself. A stable share of the
accepted labels (by doc_id hash) is held out: the candidate is trained on the rest, candidate and
current model are scored on the same holdout, and the candidate replaces the current model only if
it is not worse. Every attempt is a row in ``gold.fct_model_evaluations``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from feedbackloop.drift.config import RetrainConfig, load_drift_config
from feedbackloop.drift.tables import MODEL_EVALUATIONS
from feedbackloop.embed.model import embedding_version
from feedbackloop.label.evaluate import scores
from feedbackloop.label.local import LocalClassifier
from feedbackloop.label.local_tier import LocalTier, train_tier
from feedbackloop.label.stage import prepare
from feedbackloop.label.taxonomy import load_taxonomy
from feedbackloop.label.tuned import TuneConfig, resolve_precision
from feedbackloop.label.vectors import precomputed, vectors_for
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect

EVALUATIONS = ("gold", "fct_model_evaluations")
MANIFEST = "training.json"  # beside the model: what it was trained on and its holdout F1 at promotion

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


def is_holdout(doc_id: str, share: float) -> bool:
    """Stable across runs: a doc stays in the holdout, so F1 figures of different runs compare."""
    return int(hashlib.sha256(doc_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def accepted_examples(settings: Settings, taxonomy_version: str, names: set[str]) -> list[dict[str, Any]]:
    """Accepted labels of the current taxonomy joined to the text the models see."""
    from feedbackloop.silver.texts import model_inputs

    with connect(settings) as conn:
        tables = {n for (n,) in conn.execute("select table_name from information_schema.tables").fetchall()}
        if not {"feedback_labels", "feedback_label_reviews"} <= tables:
            return []
        accepted = conn.execute(ACCEPTED_SQL, [taxonomy_version]).fetch_arrow_table().to_pylist()
    table = model_inputs(settings)
    # Only the accepted docs' rows become Python objects: silver can hold millions.
    table = table.filter(pc.is_in(table["doc_id"], pa.array([a["doc_id"] for a in accepted], pa.string())))
    inputs = {r["doc_id"]: r for r in table.to_pylist()}
    return [
        {**inputs[a["doc_id"]], **a, "text": inputs[a["doc_id"]]["text"] or ""}
        for a in accepted
        if a["doc_id"] in inputs and a["category"] in names
    ]


def read_manifest(directory: Path) -> dict[str, Any] | None:
    path = Path(directory) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tmp.replace(directory / MANIFEST)


def model_directory(settings: Settings) -> Path:
    """Where the local tier of the configured taxonomy and embedding space lives (no model is loaded)."""
    taxonomy = load_taxonomy(settings.label_taxonomy_path)
    space = SimpleNamespace(model_id=embedding_version(settings))
    return LocalTier.directory(Path(settings.label_model_dir), taxonomy, space)  # type: ignore[arg-type]


def retrain_local(
    settings: Settings,
    run_id: str | None = None,
    decision_id: str | None = None,
    config: RetrainConfig | None = None,
) -> dict[str, Any]:
    """Train a candidate on the non-holdout accepted labels; promote it only if not worse on the holdout."""
    config = config or load_drift_config(settings.drift_config_path).retrain
    setup = prepare(settings)
    examples = accepted_examples(settings, setup.taxonomy.version_id, set(setup.taxonomy.names))
    holdout = [e for e in examples if is_holdout(e["doc_id"], config.holdout_share)]
    train = [e for e in examples if not is_holdout(e["doc_id"], config.holdout_share)]
    row: dict[str, Any] = {
        "evaluation_id": str(uuid.uuid4()),
        "run_id": run_id,
        "decision_id": decision_id,
        "evaluated_at": datetime.now(UTC),
        "taxonomy_version": setup.taxonomy.version_id,
        "embedding_version": setup.embedder.model_id,
        "current_model_id": setup.local.model_id,
        "train_labels": len(train),
        "holdout_labels": len(holdout),
        "is_promoted": False,
        "training_categories": json.dumps(dict(Counter(e["category"] for e in train))),
    }
    stats: dict[str, Any] = {
        "labels": len(examples),
        "reviewed": sum(e["is_reviewed"] for e in examples),
        "classes": len({e["category"] for e in train}),
        "train_labels": len(train),
        "holdout_labels": len(holdout),
    }
    if len(train) < settings.label_min_training_labels or stats["classes"] < 2:
        reason = f"needs {settings.label_min_training_labels} training labels in 2+ classes, has {len(train)}"
    elif len(holdout) < config.min_holdout_labels:
        reason = f"needs {config.min_holdout_labels} holdout labels, has {len(holdout)}"
    else:
        reason = ""
    if reason:
        _record(settings, {**row, "reason": reason})
        return {**stats, "trained": False, "promoted": False, "reason": reason, "evaluation_id": row["evaluation_id"]}

    vectors, _ = vectors_for(
        Lake(settings), setup.embedder, [e["doc_id"] for e in examples], [e["input_hash"] for e in examples],
        [e["text"] for e in examples],
    )  # fmt: skip
    is_held = [is_holdout(e["doc_id"], config.holdout_share) for e in examples]
    train_idx = [i for i, h in enumerate(is_held) if not h]
    hold_idx = [i for i, h in enumerate(is_held) if h]
    candidate = train_tier(
        setup.taxonomy,
        setup.embedder,
        vectors[train_idx],
        [examples[i]["text"] for i in train_idx],
        [examples[i]["category"] for i in train_idx],
        [examples[i]["sentiment_label"] for i in train_idx],
        [examples[i].get("rating") for i in train_idx],
        tune=TuneConfig(epochs=settings.label_tuned_epochs),
        tune_heads=settings.label_tuned_heads,
        tune_min_labels=settings.label_tuned_min_labels,
    )
    candidate.escalate_below = settings.label_tuned_escalate_below
    candidate.precision = resolve_precision(settings.label_tuned_precision)
    gold = [examples[i]["category"] for i in hold_idx]
    texts = [examples[i]["text"] for i in hold_idx]
    ratings = [examples[i].get("rating") for i in hold_idx]
    labels = sorted(set(gold))
    current_scores = scores(gold, setup.local.predict(vectors[hold_idx], texts, ratings).category, labels)
    candidate_scores = scores(gold, candidate.predict(vectors[hold_idx], texts, ratings).category, labels)
    promoted = candidate_scores.macro_f1 >= current_scores.macro_f1 - config.promotion_tolerance
    verdict = "not worse than" if promoted else "worse than"
    reason = (
        f"candidate macro-F1 {candidate_scores.macro_f1:.4f} {verdict} current {current_scores.macro_f1:.4f}"
        f" (tolerance {config.promotion_tolerance}) on {len(hold_idx)} holdout labels"
    )
    directory = None
    if promoted:
        directory = candidate.save(Path(settings.label_model_dir), setup.taxonomy, setup.embedder)
        _write_manifest(
            directory,
            {
                "model_id": candidate.model_id,
                "promoted_at": row["evaluated_at"].isoformat(),
                "evaluation_id": row["evaluation_id"],
                "holdout_share": config.holdout_share,
                "holdout_f1": candidate_scores.macro_f1,
                "categories": json.loads(row["training_categories"]),
            },
        )
    per_class = {
        label: {
            "current_f1": current_scores.per_class[label]["f1"],
            "candidate_f1": candidate_scores.per_class[label]["f1"],
            "support": current_scores.per_class[label]["support"],
        }
        for label in labels
    }
    _record(
        settings,
        {
            **row,
            "candidate_model_id": candidate.model_id,
            "current_f1": current_scores.macro_f1,
            "candidate_f1": candidate_scores.macro_f1,
            "current_accuracy": current_scores.accuracy,
            "candidate_accuracy": candidate_scores.accuracy,
            "is_promoted": promoted,
            "reason": reason,
            "per_class": json.dumps(per_class),
        },
    )
    return {
        **stats,
        "trained": promoted,
        "promoted": promoted,
        "reason": reason,
        "current_f1": round(current_scores.macro_f1, 4),
        "candidate_f1": round(candidate_scores.macro_f1, 4),
        "model_id": candidate.model_id if promoted else setup.local.model_id,
        "directory": str(directory) if directory else None,
        "evaluation_id": row["evaluation_id"],
    }


def _record(settings: Settings, row: dict[str, Any]) -> None:
    Lake(settings).append(*EVALUATIONS, pa.Table.from_pylist([row], schema=MODEL_EVALUATIONS))


def current_holdout_f1(settings: Settings, holdout_share: float) -> tuple[float | None, int, dict[str, Any] | None]:
    """(macro-F1 of the promoted category head on today's holdout, holdout size, its manifest).

    Reads stored vectors only and loads no embedding model: holdout docs without one are left out.
    """
    directory = model_directory(settings)
    manifest = read_manifest(directory)
    if manifest is None or not (directory / "category.npz").is_file():
        return None, 0, manifest
    taxonomy = load_taxonomy(settings.label_taxonomy_path)
    holdout = [
        e
        for e in accepted_examples(settings, taxonomy.version_id, set(taxonomy.names))
        if is_holdout(e["doc_id"], holdout_share)
    ]
    space = SimpleNamespace(model_id=embedding_version(settings))
    found = precomputed(Lake(settings), space, [e["doc_id"] for e in holdout], [e["input_hash"] for e in holdout])  # type: ignore[arg-type]
    holdout = [e for e in holdout if e["doc_id"] in found]
    if not holdout:
        return None, 0, manifest
    import numpy as np

    from feedbackloop.label.features import extra_features

    texts = [e["text"] for e in holdout]
    head = LocalClassifier.load(directory / "category.npz")
    vectors = np.vstack([found[e["doc_id"]] for e in holdout])
    predicted = head.predict(vectors, extra_features(texts, [e.get("rating") for e in holdout]), texts).labels
    gold = [e["category"] for e in holdout]
    return scores(gold, predicted, sorted(set(gold))).macro_f1, len(holdout), manifest
