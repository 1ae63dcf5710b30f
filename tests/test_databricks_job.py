"""In production, the transform flow runs dbt as a Databricks job; its outcome is the flow's outcome.

The Jobs API is a local HTTPS server speaking the 2.1 subset used (runs/submit, runs/get, get-output).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedbackloop.settings import Settings, get_settings
from flows.transform import transform
from tests.fakes.databricks_jobs import JobsApi, serve_jobs_api

pytestmark = [pytest.mark.prefect]


@pytest.fixture
def jobs_api(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobsApi]:
    with serve_jobs_api(tmp_path) as (api, host, ca_bundle):
        for key, value in {
            "FEEDBACKLOOP_DBT_RUNNER": "databricks_job",
            "FEEDBACKLOOP_DATABRICKS_HOST": host,
            "FEEDBACKLOOP_DATABRICKS_TOKEN": api.token,
            "FEEDBACKLOOP_DATABRICKS_WAREHOUSE_ID": "abc123def456",
            "FEEDBACKLOOP_DATABRICKS_CA_BUNDLE": str(ca_bundle),
            "FEEDBACKLOOP_DATABRICKS_POLL_SECONDS": "1",
        }.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        yield api


def test_transform_submits_a_dbt_task_on_the_warehouse_and_waits_for_success(jobs_api: JobsApi) -> None:
    outcome = transform(select="silver", force=True)
    (submit,) = [body for method, path, body in jobs_api.requests if path.endswith("/runs/submit")]
    (task,) = submit["tasks"]
    (command,) = task["dbt_task"]["commands"]
    assert shlex.split(command)[:8] == [
        "dbt", "build", "--select", "silver", "--indirect-selection", "cautious", "--target", "databricks"
    ]  # fmt: skip
    # grants and the row filter come from config/access.yaml, as in the embedded world
    assert json.loads(shlex.split(command)[-1])["access_row_filter"] == "access.source_filter"
    assert task["dbt_task"]["warehouse_id"] == "abc123def456"
    assert submit["git_source"]["git_branch"] == "main"
    assert outcome["databricks_run"]["state"]["result_state"] == "SUCCESS"


def test_a_failed_job_run_fails_the_flow(jobs_api: JobsApi) -> None:
    jobs_api.result_state = "FAILED"
    with pytest.raises(Exception, match="terminated with result state, FAILED: dbt build failed"):
        transform(select="gold", force=True)


def test_a_wrong_token_is_refused_clearly(jobs_api: JobsApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACKLOOP_DATABRICKS_TOKEN", "dapi-wrong")
    get_settings.cache_clear()
    with pytest.raises(Exception, match=r"unauthorized.*Invalid access token"):
        transform(select="silver", force=True)


def test_a_failed_job_run_is_not_resubmitted(jobs_api: JobsApi) -> None:
    jobs_api.result_state = "FAILED"
    with pytest.raises(Exception, match="FAILED"):
        transform(select="gold", force=True)
    # a failing dbt test fails the same way twice: the task's retry is kept for crashes and timeouts
    assert len([path for _, path, _ in jobs_api.requests if path.endswith("/runs/submit")]) == 1


def test_a_failed_job_run_fails_the_pipeline_too(jobs_api: JobsApi) -> None:
    from flows.pipeline import feedback_pipeline

    jobs_api.result_state = "FAILED"
    with pytest.raises(Exception, match="terminated with result state, FAILED"):
        feedback_pipeline(only=["gold"], force=True)
