"""Detection on the demo scenario, through the real pipeline: every planted incident is found with the
right category, product and telemetry evidence, within its time-to-detection budget; control opens none.

The pipeline runs once per scenario over a reduced demo, then the monitor replays every day at 00:00 UTC
(``run_monitor`` with ``as_of``: a replay in data time behaves exactly like the run that day; see
docs/incidents.md; the ``monitor`` flow itself is covered by test_monitor_flow.py). The budgets, in
daily runs after the first run past the onset, are what the shipped rules achieve at this volume
(docs/benchmarks.md, "Issue 5: detection"). The login outage is caught by that first run. The other two
leave nothing to detect by then: the 5.4.0 roll-out has 3 sessions, no error event and no complaint before
the first run after its deploy, and the latency creep has barely started (no performance ticket, p95
within its usual range), so each is caught by the first run after its evidence appears: the double charge
by the release-regression rule (complaints per session on 5.4.0 against the other versions) with the
error z-score, the creep by the p95 latency z-score backing a smaller rise of performance tickets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from feedbackloop.demo import DemoConfig, write_demo_inbox
from feedbackloop.incidents.report import list_incidents
from feedbackloop.incidents.stage import run_monitor
from feedbackloop.settings import Settings
from flows.pipeline import STAGES, feedback_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.dbt, pytest.mark.model]

REDUCED = {"days": 28, "reviews_per_day": 80, "end_date": date(2026, 11, 20)}
BUDGET = {  # daily runs after the onset's first run
    "inc-login-ios-auth-outage": timedelta(0),
    "inc-billing-android-double-charge": timedelta(days=1),
    "inc-performance-dashboard-latency-creep": timedelta(days=2),
}


def daily_runs(config: DemoConfig) -> list[datetime]:
    start = config.end_date - timedelta(days=config.days - 1)
    first = datetime.combine(start + timedelta(days=3), datetime.min.time(), UTC)
    return [first + timedelta(days=i) for i in range(config.days - 1)]


def run_demo(settings: Settings, scenario: str) -> tuple[dict[str, Any], list[datetime], list[dict[str, Any]]]:
    config = DemoConfig(scenario=scenario, **REDUCED)
    manifest = write_demo_inbox(config, settings.inbox_dir)
    feedback_pipeline(only=[s for s in STAGES if s != "monitor"])
    runs = daily_runs(config)
    for as_of in runs:
        run_monitor(settings, f"demo-{as_of:%Y%m%d}", as_of=as_of)
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
        assert first_run <= incident["detected_at"] <= first_run + BUDGET[planted["id"]], planted["id"]
        assert incident["telemetry_rows"] >= 1, planted["id"]
    assert len(incidents) == len(manifest["incidents"])  # one incident per regression, nothing else paged


def test_the_control_scenario_opens_no_incident(settings: Settings) -> None:
    manifest, runs, incidents = run_demo(settings, "control")
    assert manifest["incidents"] == [] and manifest["counterfactual_windows"]
    assert len(runs) == 27 and incidents == []
