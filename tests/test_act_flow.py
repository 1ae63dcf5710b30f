"""The ``act`` flow and CLI run for real (ephemeral Prefect API) over small contract tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedbackloop.cli import app
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings, get_settings
from flows.act import act
from flows.pipeline import STAGES
from tests.act_data import incident, write_incidents

pytestmark = [pytest.mark.prefect]


def test_act_is_the_last_pipeline_stage() -> None:
    assert STAGES[-1] == "act"


@pytest.mark.slow
def test_the_act_flow_delivers_to_a_file_webhook_and_records_metrics(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "actions.jsonl"
    monkeypatch.setenv("FEEDBACKLOOP_ACTION_WEBHOOK_URL", out.as_uri())
    monkeypatch.setenv("FEEDBACKLOOP_ACTION_WEBHOOK_SECRET", "s3cret")
    get_settings.cache_clear()
    write_incidents(settings, [incident(outcome="model_quality")])
    summary = act()
    assert summary["created"] == 1 and summary["sent"] == 1
    assert json.loads(json.loads(out.read_text().splitlines()[0])["body"])["kind"] == "retrain_candidate"
    assert Lake(settings).count("gold", "fct_run_metrics") == 1
    assert summary["metrics"]["open_incidents"] == 1


@pytest.mark.slow
def test_the_act_flow_fails_on_a_matrix_typo_naming_the_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "decisions.yaml"
    bad.write_text((Path(settings.decisions_path)).read_text().replace("sink: jira", "sink: jria", 1))
    monkeypatch.setenv("FEEDBACKLOOP_DECISIONS_PATH", str(bad))
    get_settings.cache_clear()
    with pytest.raises(Exception, match=r"line \d+: outcomes.product_behaviour.sink: 'jria' is not allowed"):
        act()
    assert not Lake(settings).exists("gold", "fct_actions")


def test_cli_act_refuses_a_bad_matrix_with_exit_code_2(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "decisions.yaml"
    bad.write_text("outcomes:\n  product_behaviour:\n    action: engineering_tiket\n")
    monkeypatch.setenv("FEEDBACKLOOP_DECISIONS_PATH", str(bad))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["act"])
    assert result.exit_code == 2
    assert "line 3" in result.output and "engineering_ticket" in result.output


def test_cli_actions_lists_the_outbox(settings: Settings) -> None:
    from feedbackloop.act.stage import plan_and_dispatch

    write_incidents(settings, [incident()])
    plan_and_dispatch(settings, "run-1")
    result = CliRunner().invoke(app, ["actions", "--status", "pending", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["kind"] == "engineering_ticket" and row["sink"] == "jira" and row["status"] == "pending"
    assert "FEEDBACKLOOP_JIRA_URL" in row["last_error"]
