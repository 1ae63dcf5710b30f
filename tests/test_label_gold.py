"""Labels flow into gold through dbt; the review queue works end to end and corrections win downstream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from feedbackloop.label.exchange import export_queue, import_answers
from feedbackloop.label.review import ReviewDecision, latest_labels, open_queue, record_reviews, request_review
from feedbackloop.label.taxonomy import load_taxonomy
from feedbackloop.settings import Settings, get_settings
from feedbackloop.transform.dbt import run_dbt
from feedbackloop.warehouse import connect
from flows.pipeline import feedback_pipeline
from tests.fake_openai import fake_openai
from tests.label_samples import decision, feedback_text
from tests.samples import app_store_row, write_app_store

pytestmark = [pytest.mark.slow, pytest.mark.dbt, pytest.mark.prefect]

REVIEWS = {
    "sure": "The app crashes every time I open the camera. Please fix it!",
    "unsure-1": "Something about the export is odd.",
    "unsure-2": "Not sure what happened to my order.",
    "unsure-3": "The screen looks different now.",
    "unsure-4": "Hmm, the menu changed.",
}


def reply(request: dict[str, Any]) -> str:
    text = feedback_text(request)
    sure = "crashes" in text
    return json.dumps(decision(text, confidence=0.95 if sure else 0.3, category="bug" if sure else "ux"))


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One pipeline run (ingest -> silver -> enrich -> label -> gold) with an LLM endpoint behind it."""
    root = tmp_path_factory.mktemp("labelled")
    with pytest.MonkeyPatch.context() as patch, fake_openai(reply) as fake:
        env = {
            "FEEDBACKLOOP_LAKE_URI": str(root / "lake"),
            "FEEDBACKLOOP_INBOX_DIR": str(root / "inbox"),
            "FEEDBACKLOOP_WAREHOUSE_PATH": str(root / "lake" / "warehouse.duckdb"),
            "FEEDBACKLOOP_LABEL_MODEL_DIR": str(root / "models"),
            "FEEDBACKLOOP_LLM_ENDPOINT_KIND": "openai",
            "FEEDBACKLOOP_LLM_BASE_URL": fake.base_url,
            "FEEDBACKLOOP_LLM_MODEL": "gpt-4o-mini",
            "FEEDBACKLOOP_LABEL_LOCAL_ACCEPT_THRESHOLD": "1.0",
        }
        for key, value in env.items():
            patch.setenv(key, value)
        get_settings.cache_clear()
        settings = get_settings()
        rows = [app_store_row(key, body=text, title="") for key, text in REVIEWS.items()]
        write_app_store(settings.inbox_dir / "app_store" / "r.csv", rows)
        summary = feedback_pipeline()
        assert summary["label"]["llm"] == len(REVIEWS)
        yield settings
    get_settings.cache_clear()


def doc_id(settings: Settings, record_id: str) -> str:
    with connect(settings) as conn:
        return str(
            conn.execute("select doc_id from gold.fct_feedback where source_record_id = ?", [record_id]).fetchone()[0]
        )


def test_gold_has_one_audited_label_per_feedback_item(lake: Settings) -> None:
    with connect(lake) as conn:
        rows = conn.execute(
            "select category, label_source, label_status, prompt_version, model_id, endpoint_kind, "
            "code_version, label_run_id from gold.fct_feedback_labels"
        ).fetchall()
    assert len(rows) == len(REVIEWS)
    assert all(all(value is not None for value in row) for row in rows)
    assert {row[2] for row in rows} == {"accepted", "needs_review"}


def test_the_review_queue_says_why_each_item_is_there(lake: Settings) -> None:
    queue = {item["doc_id"]: item for item in open_queue(lake)}
    item = queue[doc_id(lake, "unsure-1")]
    assert item["review_reason"] == "low_confidence"
    assert item["proposed_category"] == "ux"
    assert doc_id(lake, "sure") not in queue


def test_a_correction_overrides_the_model_label_in_gold_and_leaves_the_queue(lake: Settings) -> None:
    target = doc_id(lake, "unsure-2")
    taxonomy = load_taxonomy(lake.label_taxonomy_path)
    written, errors = record_reviews(
        lake, taxonomy, [ReviewDecision(target, "kim", "correct", {"category": "billing", "severity": "medium"})]
    )
    assert (written, errors) == (1, [])
    run_dbt(lake, ["build", "--select", "gold"])
    with connect(lake) as conn:
        row = conn.execute(
            "select category, model_category, label_source, is_corrected, reviewer, severity "
            "from gold.fct_feedback_labels where doc_id = ?",
            [target],
        ).fetchone()
        before, after = conn.execute(
            "select before_json, after_json from silver.feedback_label_reviews where doc_id = ?", [target]
        ).fetchone()
    assert row == ("billing", "ux", "human", True, "kim", "medium")
    assert json.loads(before)["category"] == "ux" and json.loads(after)["category"] == "billing"
    assert target not in {item["doc_id"] for item in open_queue(lake)}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"category": "teleportation"}, "not in taxonomy", id="unknown-category"),
        pytest.param({"severity": "apocalyptic"}, "severity 'apocalyptic' is not one of", id="unknown-severity"),
        pytest.param({"sublabel": "refund"}, "sublabel 'refund' is not one of ux", id="sublabel-of-another-category"),
        pytest.param({}, "needs at least one new value", id="nothing-to-correct"),
    ],
)
def test_an_invalid_correction_is_rejected_naming_the_doc(
    lake: Settings, changes: dict[str, Any], message: str
) -> None:
    target = doc_id(lake, "unsure-1")
    taxonomy = load_taxonomy(lake.label_taxonomy_path)
    written, errors = record_reviews(lake, taxonomy, [ReviewDecision(target, "kim", "correct", changes)])
    assert written == 0
    assert len(errors) == 1 and target in errors[0] and message in errors[0]


@pytest.mark.parametrize("fmt", ["label_studio", "argilla"])
def test_the_queue_round_trips_through_annotation_tool_formats(lake: Settings, fmt: str) -> None:
    target = doc_id(lake, "unsure-3" if fmt == "label_studio" else "unsure-4")
    [exported] = [r for r in export_queue(open_queue(lake), fmt) if target in json.dumps(r)]
    if fmt == "label_studio":
        assert exported["predictions"][0]["result"][0]["value"] == {"choices": ["ux"]}
        exported["annotations"] = [
            {
                "completed_by": {"email": "ana@example.com"},
                "updated_at": "2030-01-01T00:00:00Z",
                "result": [{"from_name": "category", "type": "choices", "value": {"choices": ["feature_request"]}}],
            }
        ]
    else:
        assert exported["suggestions"]["category"]["value"] == "ux"
        exported["responses"] = {"category": [{"value": "feature_request", "user_id": "ana", "status": "submitted"}]}
    decisions, problems = import_answers([exported], fmt, latest_labels(lake, [target]))  # type: ignore[arg-type]
    assert problems == []
    assert [(d.doc_id, d.action, d.changes) for d in decisions] == [
        (target, "correct", {"category": "feature_request"})
    ]
    written, errors = record_reviews(lake, load_taxonomy(lake.label_taxonomy_path), decisions)
    assert (written, errors) == (1, [])


def test_other_stages_can_ask_for_review_with_a_reason(lake: Settings) -> None:
    target = doc_id(lake, "sure")
    assert request_review(lake, [target], "new_cluster", "cluster") == 1
    run_dbt(lake, ["build", "--select", "fct_label_review_queue"])
    queue = {item["doc_id"]: item for item in open_queue(lake)}
    assert queue[target]["review_reason"] == "new_cluster"


def test_the_review_cli_lists_the_queue_and_accepts_a_label(lake: Settings) -> None:
    from typer.testing import CliRunner

    from feedbackloop.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["review", "list", "--reason", "low_confidence"])
    assert listed.exit_code == 0, listed.output
    assert "review queue (" in listed.output
    target = doc_id(lake, "unsure-1")
    accepted = runner.invoke(app, ["review", "accept", target, "--reviewer", "kim"])
    assert accepted.exit_code == 0, accepted.output
    assert target not in {item["doc_id"] for item in open_queue(lake)}
    rejected = runner.invoke(app, ["review", "correct", target, "--reviewer", "kim", "--category", "nope"])
    assert rejected.exit_code == 1
    assert "not in taxonomy" in " ".join(rejected.output.split())
