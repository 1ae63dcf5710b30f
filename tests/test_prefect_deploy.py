"""prefect.yaml deploys to a real local Prefect server, and a process worker runs a deployment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from feedbackloop.settings import PROJECT_ROOT
from tests.samples import app_store_row, write_app_store

pytestmark = [pytest.mark.prefect, pytest.mark.slow]
PREFECT = str(Path(sys.executable).parent / "prefect")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "FEEDBACKLOOP_HOME": str(PROJECT_ROOT),
        "FEEDBACKLOOP_LAKE_URI": str(tmp_path / "lake"),
        "FEEDBACKLOOP_INBOX_DIR": str(tmp_path / "inbox"),
        "FEEDBACKLOOP_WAREHOUSE_PATH": str(tmp_path / "lake" / "warehouse.duckdb"),
    }
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            raise TimeoutError(
                f"prefect server did not become healthy: {(tmp_path / 'server.log').read_text()[-2000:]}"
            )
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def prefect(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PREFECT, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_every_deployment_registers_and_a_process_worker_runs_one(server: dict[str, str], tmp_path: Path) -> None:
    write_app_store(tmp_path / "inbox" / "app_store" / "r.csv", [app_store_row("a1")])
    prefect(server, "work-pool", "create", "feedbackloop-process", "--type", "process")
    prefect(server, "deploy", "--all", "--no-prompt")
    deployments = httpx.post(f"{server['PREFECT_API_URL']}/deployments/filter", json={}).json()
    assert {d["name"] for d in deployments} >= {"feedback-pipeline", "ingest", "transform", "enrich"}
    pipeline = next(d for d in deployments if d["name"] == "feedback-pipeline")
    schedules = {s["slug"]: (s["schedule"]["cron"], s["parameters"]) for s in pipeline["schedules"]}
    assert schedules == {"hourly-micro-batch": ("15 * * * *", {"force": False}),
                         "daily-full-pass": ("0 3 * * *", {"force": True})}  # fmt: skip
    assert pipeline["global_concurrency_limit"]["limit"] == 1
    assert pipeline["concurrency_options"]["collision_strategy"] == "ENQUEUE"

    prefect(server, "deployment", "run", "ingest/ingest")
    prefect(server, "worker", "start", "--pool", "feedbackloop-process", "--run-once")
    ingest_id = next(d["id"] for d in deployments if d["name"] == "ingest")
    runs = httpx.post(f"{server['PREFECT_API_URL']}/flow_runs/filter", json={}).json()
    # Other deployments' schedules may also have put runs in the queue; only ours is asserted on.
    (run,) = [r for r in runs if r["deployment_id"] == ingest_id and r["state"]["type"] != "SCHEDULED"]
    assert run["state"]["type"] == "COMPLETED", json.dumps(run["state"])[:2000]
    assert (tmp_path / "lake" / "bronze" / "feedback" / "_delta_log").is_dir()
