"""The ``monitor`` flow and the ``feedbackloop monitor`` / ``incidents`` commands."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedbackloop.cli import app
from feedbackloop.incidents.stage import run_monitor
from feedbackloop.settings import PROJECT_ROOT, Settings, get_settings
from flows.monitor import monitor
from tests.incident_lake import START, Scenario, write

runner = CliRunner()
BURST_AT = START + timedelta(days=30, hours=5)


def _lake(settings: Settings) -> None:
    scenario = Scenario()
    scenario.background(35, 20)
    scenario.burst(BURST_AT, 30, 40, "billing", "double_charge")
    write(settings, scenario, telemetry_errors_after=BURST_AT)


@pytest.mark.prefect
@pytest.mark.slow
def test_the_monitor_flow_opens_the_incident_and_reports_its_figures(settings: Settings) -> None:
    _lake(settings)
    stats = monitor(as_of=START + timedelta(days=31, hours=12))
    assert stats["incidents_opened"] == 1 and stats["telemetry_rows"] >= 1
    assert stats["complaints_assigned"] == stats["complaints"]


def test_incidents_lists_open_incidents_with_their_evidence_as_json(settings: Settings) -> None:
    _lake(settings)
    run_monitor(settings, "r1", as_of=START + timedelta(days=31, hours=12))
    result = runner.invoke(app, ["incidents", "--json"])
    assert result.exit_code == 0, result.output
    (incident,) = json.loads(result.output)
    assert incident["category"] == "billing" and incident["evidence"]["similar_tickets"]


def test_incidents_on_an_empty_lake_prints_an_empty_table(settings: Settings) -> None:
    result = runner.invoke(app, ["incidents"])
    assert result.exit_code == 0 and "open incidents" in result.output


def test_monitor_with_a_broken_rule_file_exits_naming_the_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text((PROJECT_ROOT / "monitors" / "rules.yaml").read_text().replace("kind: zscore", "kind: zscor"))
    monkeypatch.setenv("FEEDBACKLOOP_MONITOR_RULES_PATH", str(bad))
    get_settings.cache_clear()
    result = runner.invoke(app, ["monitor"])
    assert result.exit_code == 2
    assert "line" in result.output and "daily_volume_zscore" in result.output and "kind" in result.output
