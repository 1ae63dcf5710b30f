"""Retraining the local classifier with a holdout: the candidate replaces the current model only if it
is not worse on the same held-out accepted labels, and every attempt is a row in gold."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from feedbackloop.drift.config import RetrainConfig
from feedbackloop.embed.model import get_embedder
from feedbackloop.embed.tables import embeddings_schema
from feedbackloop.label.tables import FEEDBACK_LABEL_REVIEWS, FEEDBACK_LABELS
from feedbackloop.label.taxonomy import load_taxonomy
from feedbackloop.label.training import current_holdout_f1, is_holdout, model_directory, read_manifest, retrain_local
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect
from tests.label_samples import write_silver_docs

pytestmark = [pytest.mark.slow, pytest.mark.model]
CONFIG = RetrainConfig(holdout_share=0.3, min_holdout_labels=8)
TEMPLATES = {
    "billing": "I was charged twice for order {i} and want my money refunded",
    "login": "I cannot sign in to account {i}, the password reset code never arrives",
    "performance": "the app is so slow, screen {i} takes forever to load and lags",
}
SWAPPED = {"billing": "login", "login": "billing", "performance": "performance"}


@pytest.fixture
def local(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"label_model_dir": tmp_path / "models", "label_min_training_labels": 20})


def docs(n_per_class: int = 20) -> list[dict]:
    return [
        {"doc_id": f"{category}-{i}", "text": template.format(i=i), "category": category}
        for category, template in TEMPLATES.items()
        for i in range(n_per_class)
    ]


def write_labels(settings: Settings, rows: list[dict], at: datetime) -> None:
    version = load_taxonomy(settings.label_taxonomy_path).version_id
    labels = [
        {"label_id": str(uuid.uuid4()), "doc_id": r["doc_id"], "tier": "llm", "status": "accepted",
         "category": r["category"], "sentiment_label": "negative", "taxonomy_version": version, "labeled_at": at}
        for r in rows
    ]  # fmt: skip
    lake = Lake(settings)
    lake.append("silver", "feedback_labels", pa.Table.from_pylist(labels, schema=FEEDBACK_LABELS))
    if not lake.exists("silver", "feedback_label_reviews"):
        lake.append("silver", "feedback_label_reviews", pa.Table.from_pylist([], schema=FEEDBACK_LABEL_REVIEWS))


def evaluations(settings: Settings) -> list[dict]:
    with connect(settings) as conn:
        query = "select * from gold.fct_model_evaluations order by evaluated_at"
        return conn.execute(query).fetch_arrow_table().to_pylist()


def test_a_candidate_not_worse_than_the_current_model_is_promoted(local: Settings) -> None:
    write_silver_docs(local, docs())
    write_labels(local, docs(), datetime(2026, 11, 1, tzinfo=UTC))
    result = retrain_local(local, run_id="r1", decision_id="d1", config=CONFIG)
    (row,) = evaluations(local)
    assert result["promoted"] and row["is_promoted"]
    assert row["candidate_f1"] >= row["current_f1"] and row["candidate_f1"] > 0.9
    assert row["decision_id"] == "d1" and row["current_model_id"].startswith("local:zero-shot")
    assert row["holdout_labels"] == sum(is_holdout(d["doc_id"], 0.3) for d in docs()) >= 8
    assert row["train_labels"] + row["holdout_labels"] == 60
    manifest = read_manifest(model_directory(local))
    assert manifest["model_id"] == row["candidate_model_id"] and manifest["holdout_f1"] == row["candidate_f1"]


def test_a_worse_candidate_is_refused_and_the_current_model_stays(local: Settings) -> None:
    write_silver_docs(local, docs())
    write_labels(local, docs(), datetime(2026, 11, 1, tzinfo=UTC))
    retrain_local(local, run_id="r1", config=CONFIG)
    model = model_directory(local) / "category.npz"
    before = model.read_bytes()
    # Newer accepted labels swap billing and login, but only outside the holdout: the holdout stays right.
    wrong = [{**d, "category": SWAPPED[d["category"]]} for d in docs() if not is_holdout(d["doc_id"], 0.3)]
    write_labels(local, wrong, datetime(2026, 11, 10, tzinfo=UTC))
    result = retrain_local(local, run_id="r2", config=CONFIG)
    first, second = evaluations(local)
    assert not result["promoted"] and not second["is_promoted"]
    assert second["candidate_f1"] < second["current_f1"]
    assert second["current_model_id"] == first["candidate_model_id"]
    assert "worse than current" in second["reason"]
    assert model.read_bytes() == before


def test_too_few_accepted_labels_is_an_unpromoted_evaluation_with_the_reason(local: Settings) -> None:
    write_silver_docs(local, docs(3))
    write_labels(local, docs(3), datetime(2026, 11, 1, tzinfo=UTC))
    result = retrain_local(local, run_id="r1", config=CONFIG)
    (row,) = evaluations(local)
    assert not result["promoted"] and not row["is_promoted"]
    assert row["reason"].startswith("needs 20 training labels in 2+ classes")
    assert not (model_directory(local) / "category.npz").exists()


def test_the_drift_policy_measures_the_promoted_model_on_todays_holdout(local: Settings) -> None:
    write_silver_docs(local, docs())
    write_labels(local, docs(), datetime(2026, 11, 1, tzinfo=UTC))
    embedder = get_embedder(local)
    rows = [
        {"doc_id": d["doc_id"], "text_kind": "text", "embedding_version": embedder.model_id, "dim": embedder.dim,
         "vector": v.tolist(), "input_hash": hashlib.md5(d["text"].encode()).hexdigest(),
         "embedded_at": datetime(2026, 11, 1, tzinfo=UTC), "embed_run_id": "t"}
        for d, v in zip(docs(), embedder.embed([d["text"] for d in docs()]), strict=True)
    ]  # fmt: skip
    Lake(local).append("silver", "feedback_embeddings", pa.Table.from_pylist(rows, schema=embeddings_schema(384)))
    retrain_local(local, run_id="r1", config=CONFIG)
    (row,) = evaluations(local)
    f1, holdout, _ = current_holdout_f1(local, CONFIG.holdout_share)
    assert holdout == row["holdout_labels"] and f1 == pytest.approx(row["candidate_f1"])
    # Newer accepted labels call every held-out complaint billing: the promoted model's F1 falls.
    relabelled = [{**d, "category": "billing"} for d in docs() if is_holdout(d["doc_id"], 0.3)]
    write_labels(local, relabelled, datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=9))
    later, _, _ = current_holdout_f1(local, CONFIG.holdout_share)
    assert later < f1 - 0.05
