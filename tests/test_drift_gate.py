"""The drift gate end to end on a real local Prefect server: prefect.yaml's trigger on the `retrain`
deployment becomes an Automation, the drift flow's retrain-candidate event fires it, and a process
worker runs the retrain flow for that decision."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from feedbackloop.settings import PROJECT_ROOT, Settings
from feedbackloop.warehouse import connect
from flows.drift import RETRAIN_EVENT
from tests.drift_data import shifted_lake
from tests.test_prefect_deploy import prefect, server  # noqa: F401  (the server fixture)

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def api(env: dict[str, str], path: str, body: dict | None = None) -> list[dict]:
    return httpx.post(f"{env['PREFECT_API_URL']}{path}", json=body or {}, timeout=30).json()


def test_deploying_creates_the_retrain_trigger_on_the_drift_event(server: dict[str, str]) -> None:  # noqa: F811
    prefect(server, "work-pool", "create", "feedbackloop-process", "--type", "process")
    prefect(server, "deploy", "--name", "retrain", "--no-prompt")
    (automation,) = [a for a in api(server, "/automations/filter") if a["name"] == "retrain-on-drift-candidate"]
    assert automation["trigger"]["expect"] == [RETRAIN_EVENT]
    assert automation["trigger"]["match"] == {"prefect.resource.id": "feedbackloop.retrain-decision.*"}
    (action,) = automation["actions"]
    assert action["type"] == "run-deployment"
    assert action["parameters"] == {"decision_id": "{{ event.payload.decision_id }}"}


def test_a_drift_candidate_event_leads_to_a_completed_retrain_run_for_that_decision(
    server: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = Settings(lake_uri=server["FEEDBACKLOOP_LAKE_URI"])
    shifted_lake(settings)
    prefect(server, "work-pool", "create", "feedbackloop-process", "--type", "process")
    prefect(server, "deploy", "--name", "retrain", "--no-prompt")

    done = subprocess.run(
        [sys.executable, "-m", "flows.drift"], env=server, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with connect(settings) as conn:
        (decision_id, emitted) = conn.execute(
            "select decision_id, is_event_emitted from gold.fct_retrain_decisions where should_retrain"
        ).fetchone()
    assert emitted

    deployment_id = next(d["id"] for d in api(server, "/deployments/filter") if d["name"] == "retrain")
    deadline = time.monotonic() + 120
    runs: list[dict] = []
    while time.monotonic() < deadline and not runs:
        runs = [r for r in api(server, "/flow_runs/filter") if r["deployment_id"] == deployment_id]
        time.sleep(1)
    (run,) = runs
    assert run["parameters"] == {"decision_id": decision_id}

    prefect(server, "worker", "start", "--pool", "feedbackloop-process", "--run-once")
    state = httpx.get(f"{server['PREFECT_API_URL']}/flow_runs/{run['id']}", timeout=30).json()["state"]
    assert state["type"] == "COMPLETED", json.dumps(state)[:2000]
    with connect(settings) as conn:
        (reason,) = conn.execute(
            "select reason from gold.fct_model_evaluations where decision_id = ?", [decision_id]
        ).fetchone()
    assert "training labels" in reason  # the drift lake has no accepted labels to train on: nothing promoted
