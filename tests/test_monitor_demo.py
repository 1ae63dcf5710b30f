"""Detection on the demo scenario, through the real pipeline: every planted incident is found by the
first daily pass past its onset, with the right category, product and telemetry evidence; control opens none.

The pipeline runs once per scenario over a reduced demo with the monitor left out, then the monitor stage
catches up as it does on any lake that got its history at once: a pass as of every day at 00:00 UTC
from the third day on, then one at the newest data (``run_monitor_catching_up``; a replay in data time
behaves exactly like the run that day, see docs/incidents.md; the ``monitor`` flow itself is covered by
test_monitor_flow.py). The figures are in docs/benchmarks.md ("Issue 5: detection").
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from feedbackloop.demo import DemoConfig, write_demo_inbox
from feedbackloop.incidents.report import list_incidents
from feedbackloop.incidents.stage import run_monitor_catching_up
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect
from flows.pipeline import STAGES, feedback_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.dbt, pytest.mark.model]

REDUCED = {"days": 28, "reviews_per_day": 80, "end_date": date(2026, 11, 20)}


def run_demo(settings: Settings, scenario: str) -> tuple[dict[str, Any], list[datetime], list[dict[str, Any]]]:
    manifest = write_demo_inbox(DemoConfig(scenario=scenario, **REDUCED), settings.inbox_dir)
    feedback_pipeline(only=[s for s in STAGES if s != "monitor"])
    run_monitor_catching_up(settings, "demo")
    runs = [r[0] for r in connect(settings).execute("select as_of from gold.fct_monitor_runs order by 1").fetchall()]
    return manifest, runs, list_incidents(settings, status=None)


def test_every_planted_incident_is_detected_with_its_category_and_telemetry(settings: Settings) -> None:
    manifest, runs, incidents = run_demo(settings, "incidents")
    assert len(manifest["incidents"]) == 3
    for planted in manifest["incidents"]:
        onset = datetime.fromisoformat(planted["onset"].replace("Z", "+00:00"))
        first_run = min(r for r in runs if r > onset)
        found = [i for i in incidents if (i["category"], i["product"]) == (planted["category"], planted["product"])]
        assert found, f"{planted['id']} not detected; incidents: {[(i['category'], i['product']) for i in incidents]}"
        incident = min(found, key=lambda i: i["detected_at"])
        assert incident["detected_at"] == first_run, planted["id"]
        assert incident["telemetry_rows"] >= 1, planted["id"]
    assert len(incidents) == len(manifest["incidents"])  # one incident per regression, nothing else paged


def test_the_control_scenario_opens_no_incident(settings: Settings) -> None:
    manifest, runs, incidents = run_demo(settings, "control")
    assert manifest["incidents"] == [] and manifest["counterfactual_windows"]
    assert len(runs) == 26 and incidents == []  # 25 daily passes, then the newest data
