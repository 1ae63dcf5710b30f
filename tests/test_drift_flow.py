"""The `drift` flow on the Prefect API: it records the decision, emits the retrain event when due,
and publishes the report as artifacts; the CLI prints the report path and the decision."""

from __future__ import annotations

import pytest
from prefect.client.orchestration import get_client
from typer.testing import CliRunner

from feedbackloop.cli import app
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect
from flows.drift import drift
from tests.drift_data import calm_lake, shifted_lake

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def test_a_retrain_candidate_is_recorded_with_its_emitted_event_and_published(settings: Settings) -> None:
    shifted_lake(settings)
    result = drift()
    assert result["should_retrain"] and result["reasons"] == ["label_drift"]
    assert result["event_id"] is not None
    with connect(settings) as conn:
        row = conn.execute(
            "select should_retrain, is_event_emitted, report_id from gold.fct_retrain_decisions"
        ).fetchone()
    assert row == (True, True, result["report_id"])
    run_folder = result["html_path"].split("/")[-2]
    with get_client(sync_client=True) as client:  # the session's API also holds other tests' drift runs
        artifacts = client.read_artifacts()
    ours = [a for a in artifacts if (a.key or "").startswith("drift-report") and run_folder in str(a.data)]
    assert {a.key for a in ours} == {"drift-report", "drift-report-html"}
    (link,) = [a for a in ours if a.key == "drift-report-html"]
    assert link.type == "markdown"  # Prefect stores a link artifact as a markdown link
    assert link.data.endswith("report.html)")


def test_the_cli_prints_the_report_path_and_the_decision(settings: Settings) -> None:
    calm_lake(settings)
    outcome = CliRunner().invoke(app, ["drift"])
    assert outcome.exit_code == 0, outcome.output
    assert "report: " in outcome.output and "report.html" in outcome.output
    assert "decision: no retrain (no signal fired)" in outcome.output
