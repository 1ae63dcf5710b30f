"""Detection on the demo scenario, through the real pipeline: every planted incident is found in the
first weekly run after its onset, with the right category and telemetry evidence; control opens none.

The demo's exports arrive in weekly files, so the runs are weekly: the pipeline runs once over the
reduced demo, then the real ``monitor`` flow runs as of each Monday 00:00 UTC (a replay in data time
behaves exactly like the run that day; see docs/incidents.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from feedbackloop.demo import DemoConfig, write_demo_inbox
from feedbackloop.incidents.report import list_incidents
from feedbackloop.settings import Settings
from flows.monitor import monitor
from flows.pipeline import STAGES, feedback_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.dbt, pytest.mark.model]

REDUCED = {"days": 28, "reviews_per_day": 80, "end_date": date(2026, 11, 20)}


def weekly_runs(config: DemoConfig) -> list[datetime]:
    """Monday 00:00 UTC after each ISO week of data, and one run just after the last day."""
    start = config.end_date - timedelta(days=config.days - 1)
    first = start + timedelta(days=7 - start.weekday())
    runs = [datetime.combine(first + timedelta(weeks=i), datetime.min.time(), UTC) for i in range(10)]
    end = datetime.combine(config.end_date + timedelta(days=1), datetime.min.time(), UTC)
    return [r for r in runs if r < end] + [end]


def run_demo(settings: Settings, scenario: str) -> tuple[dict[str, Any], list[datetime], list[dict[str, Any]]]:
    config = DemoConfig(scenario=scenario, **REDUCED)
    manifest = write_demo_inbox(config, settings.inbox_dir)
    feedback_pipeline(only=[s for s in STAGES if s != "monitor"])
    runs = weekly_runs(config)
    for as_of in runs:
        monitor(as_of=as_of)
    return manifest, runs, list_incidents(settings, status=None)


def test_every_planted_incident_is_detected_in_the_first_run_after_its_onset(settings: Settings) -> None:
    manifest, runs, incidents = run_demo(settings, "incidents")
    assert len(manifest["incidents"]) == 3
    for planted in manifest["incidents"]:
        onset = datetime.fromisoformat(planted["onset"].replace("Z", "+00:00"))
        first_run = min(r for r in runs if r > onset)
        found = [i for i in incidents if (i["category"], i["product"]) == (planted["category"], planted["product"])]
        assert found, f"{planted['id']} not detected; incidents: {[(i['category'], i['product']) for i in incidents]}"
        incident = min(found, key=lambda i: i["detected_at"])
        assert incident["detected_at"] == first_run, f"{planted['id']} detected {incident['detected_at']}"
        assert incident["telemetry_rows"] >= 1
    assert len(incidents) == len(manifest["incidents"])  # nothing else paged


def test_the_control_scenario_opens_no_incident(settings: Settings) -> None:
    manifest, _, incidents = run_demo(settings, "control")
    assert manifest["incidents"] == [] and manifest["counterfactual_windows"]
    assert incidents == []
