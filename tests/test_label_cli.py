"""The two commands for any file: ``feedbackloop label --input ... --output ...`` and ``feedbackloop eval``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedbackloop.cli import app
from feedbackloop.settings import PROJECT_ROOT, Settings, get_settings
from tests.fake_openai import fake_openai
from tests.label_samples import valid_reply

pytestmark = pytest.mark.slow
runner = CliRunner()


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_label_labels_any_csv_into_jsonl_and_a_rerun_makes_no_llm_calls(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_csv(
        tmp_path / "any.csv",
        [
            {"ticket": "T1", "body": "My boarding pass did not load at the gate."},
            {"ticket": "T2", "body": ""},
            {"ticket": "T3", "body": "The crew was wonderful, thank you!"},
        ],
    )
    output = tmp_path / "out.jsonl"
    taxonomy = PROJECT_ROOT / "config" / "taxonomies" / "airline.yaml"
    with fake_openai(lambda request: valid_reply(request).replace('"bug"', '"check_in"')) as fake:
        for key, value in {
            "FEEDBACKLOOP_LLM_ENDPOINT_KIND": "vllm",
            "FEEDBACKLOOP_LLM_BASE_URL": fake.base_url,
            "FEEDBACKLOOP_LLM_MODEL": "qwen2.5-coder-1.5b",
            "FEEDBACKLOOP_LABEL_LOCAL_ACCEPT_THRESHOLD": "1.0",
        }.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        args = ["label", "--input", str(source), "--text-column", "body", "--taxonomy", str(taxonomy)]
        args += ["--id-column", "ticket", "--output", str(output)]
        first = runner.invoke(app, args)
        second = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["ticket"] for line in lines] == ["T1", "T2", "T3"]
    assert lines[0]["category"] == "check_in" and lines[0]["taxonomy_version"].startswith("airline@0.1.0")
    assert lines[1]["tier"] == "rule"
    assert len(fake.requests) == 2
    assert second.exit_code == 0 and json.loads(second.stdout)["llm_calls"] == 0


def test_label_names_a_missing_text_column(settings: Settings, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "any.csv", [{"comment": "hi"}])
    result = runner.invoke(app, ["label", "--input", str(source), "--output", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "no column 'text'" in said and "comment" in said


def test_eval_reports_accuracy_macro_f1_and_a_confusion_matrix(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "labelled.csv",
        [
            {"gold": "Bug", "category": "bug"},
            {"gold": "Bug", "category": "bug"},
            {"gold": "Feature", "category": "feature_request"},
            {"gold": "Rating", "category": "bug"},
        ],
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("Bug: bug\nFeature: feature_request\nRating: praise\n")
    result = runner.invoke(
        app, ["eval", "--input", str(source), "--gold-column", "gold", "--mapping", str(mapping), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["accuracy"] == 0.75
    assert report["macro_f1"] == pytest.approx((0.8 + 1.0 + 0.0) / 3, abs=1e-4)
    assert report["confusion"] == [[2, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]]


def test_eval_names_a_missing_gold_column(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "labelled.csv", [{"category": "bug"}])
    result = runner.invoke(app, ["eval", "--input", str(source), "--gold-column", "truth"])
    assert result.exit_code == 2
    assert "no column 'truth'" in " ".join(result.output.split())
