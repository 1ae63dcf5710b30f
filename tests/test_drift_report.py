"""The drift stage on real Evidently reports over small Delta lakes: drift shows when the data moves,
stays quiet when it does not, and empty or missing windows become skipped reports with a reason."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from feedbackloop.drift.config import DriftConfigError, load_drift_config
from feedbackloop.drift.stage import reports_dir, run_drift
from feedbackloop.settings import PROJECT_ROOT, Settings
from feedbackloop.warehouse import connect
from tests.drift_data import ANCHOR, CALM, make_docs, shifted_lake, write_gold

pytestmark = pytest.mark.slow


def report_rows(settings: Settings) -> list[dict]:
    with connect(settings) as conn:
        return conn.execute("select * from gold.fct_drift_reports order by created_at").fetch_arrow_table().to_pylist()


def test_a_shifted_current_window_shows_label_and_embedding_drift(settings: Settings) -> None:
    shifted_lake(settings)
    run = run_drift(settings, "run-1")
    (row,) = report_rows(settings)
    assert row["status"] == "ok" and row["dataset_drift"]
    assert "category" in {c["column"] for c in json.loads(row["drifted_columns"])}
    assert row["embedding_drift"] > 0.55 and row["is_embedding_drift"]
    assert row["current_rows"] == 60 and row["reference_rows"] == 120
    assert run.decision.should_retrain
    assert [s.signal for s in run.decision.reasons] == ["label_drift"]


def test_the_report_lands_under_a_stable_path_and_a_per_run_copy(settings: Settings) -> None:
    shifted_lake(settings)
    run_drift(settings, "run-1")
    (row,) = report_rows(settings)
    latest = reports_dir(settings)
    assert Path(row["html_path"]).read_bytes() == (latest / "latest.html").read_bytes()
    assert "<html" in (latest / "latest.html").read_text()[:2000].lower()
    saved = json.loads((latest / "latest.json").read_text())
    assert saved["report_id"] == row["report_id"]
    assert {m["config"]["type"].rsplit(":", 1)[-1] for m in saved["evidently"]["metrics"]} >= {
        "ValueDrift",
        "EmbeddingsDrift",
        "DriftedColumnsCount",
    }


def test_an_identical_window_shows_no_drift(settings: Settings) -> None:
    reference = make_docs("ref", 80, ANCHOR - timedelta(days=7), 28, CALM, seed=1)
    # the same feedback again in the current week: same labels, texts and vectors
    current = [
        {**d, "doc_id": f"cur-{i}", "event_at": ANCHOR - timedelta(days=7) * ((i + 0.5) / len(reference))}
        for i, d in enumerate(reference)
    ]
    write_gold(settings, reference + current)
    run = run_drift(settings, "run-1", as_of=ANCHOR)
    (row,) = report_rows(settings)
    assert row["status"] == "ok"
    assert not row["dataset_drift"] and json.loads(row["drifted_columns"]) == []
    assert not row["is_embedding_drift"]
    assert not run.decision.should_retrain


@pytest.mark.parametrize(
    ("current_docs", "reference_docs", "reason"),
    [
        pytest.param(0, 100, "current window has 0 labelled docs", id="empty-current-window"),
        pytest.param(10, 100, "current window has 10 labelled docs, fewer than min_rows 30", id="too-few-current"),
        pytest.param(60, 0, "reference window has 0 labelled docs", id="missing-reference"),
    ],
)
def test_a_thin_window_records_a_skipped_report_with_the_reason(
    settings: Settings, current_docs: int, reference_docs: int, reason: str
) -> None:
    docs = make_docs("ref", reference_docs, ANCHOR - timedelta(days=7), 28) + make_docs("cur", current_docs, ANCHOR, 7)
    write_gold(settings, docs)
    run = run_drift(settings, "run-1", as_of=ANCHOR)
    (row,) = report_rows(settings)
    assert row["status"] == "skipped" and reason in row["skip_reason"]
    assert (
        row["html_path"] is None and json.loads(Path(row["json_path"]).read_text())["skip_reason"] == row["skip_reason"]
    )
    assert not (reports_dir(settings) / "latest.html").exists()
    assert run.decision.signals[0].detail == "no drift report for this window"


def test_a_lake_without_gold_labels_is_a_skipped_report_not_an_error(settings: Settings) -> None:
    run = run_drift(settings, "run-1")
    assert run.report["status"] == "skipped"
    assert run.report["skip_reason"] == "no labelled feedback in gold yet"
    assert not run.decision.should_retrain


def test_without_stored_vectors_the_report_still_covers_the_columns(settings: Settings) -> None:
    docs = make_docs("ref", 100, ANCHOR - timedelta(days=7), 28) + make_docs("cur", 50, ANCHOR, 7, seed=3)
    write_gold(settings, docs, vectors=False)
    run_drift(settings, "run-1")
    (row,) = report_rows(settings)
    assert row["status"] == "ok" and row["embedding_drift"] is None
    assert "category" in {c["column"] for c in json.loads(row["column_drift"])}
    notes = json.loads(Path(row["json_path"]).read_text())["notes"]
    assert any("embedding drift not computed" in n for n in notes)


def test_a_second_candidate_within_the_cooldown_is_suppressed(settings: Settings) -> None:
    from feedbackloop.drift.stage import record_decision

    shifted_lake(settings)
    first = run_drift(settings, "run-1")
    record_decision(settings, first.decision_row)
    second = run_drift(settings, "run-2")
    assert first.decision.should_retrain
    assert not second.decision.should_retrain
    assert second.decision.suppressed_by.startswith("cooldown")
    assert [s.signal for s in second.decision.reasons] == ["label_drift"]


def test_a_typo_in_the_drift_config_names_its_line(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "monitors" / "drift.yaml").read_text().replace("min_cluster_size", "min_clustr_size")
    path = tmp_path / "drift.yaml"
    path.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if "min_clustr_size" in t)
    with pytest.raises(DriftConfigError, match=rf"line {line}: policy\.min_clustr_size: Extra inputs"):
        load_drift_config(path)


def test_a_wrongly_typed_threshold_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "drift.yaml"
    path.write_text("windows:\n  current_days: 7\nreport:\n  min_rows: lots\n")
    with pytest.raises(DriftConfigError, match=r"line 4: report\.min_rows: Input should be a valid integer"):
        load_drift_config(path)
