"""Production dbt: ``dbt build`` as a Databricks job run (dbt task on a SQL warehouse, project from git).

Submitted and watched through prefect-databricks; any terminal state but SUCCESS raises, so a
failed job fails the Prefect flow that submitted it.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from feedbackloop.settings import Settings

DBT_PACKAGE = "dbt-databricks==1.12.7"  # the same adapter version the embedded world pins


def credentials(settings: Settings) -> Any:
    from prefect_databricks import DatabricksCredentials

    client_kwargs: dict[str, Any] = {"timeout": 60}
    if settings.databricks_ca_bundle:
        # Corporate proxies (and the tests' local Jobs API) present certificates from a private CA.
        client_kwargs["verify"] = settings.databricks_ca_bundle
    return DatabricksCredentials(
        databricks_instance=settings.databricks_host,
        token=settings.databricks_token.get_secret_value(),
        client_kwargs=client_kwargs,
    )


def warehouse_id(settings: Settings) -> str:
    """The SQL warehouse: the explicit id, else the last part of the http_path dbt connects with."""
    return settings.databricks_warehouse_id or settings.databricks_http_path.rstrip("/").rsplit("/", 1)[-1]


def dbt_job_tasks(settings: Settings, select: str) -> list[dict[str, Any]]:
    """One dbt task running the same command the embedded world runs, against the databricks target.

    The access policy travels as --vars, as it does locally: it sets the grants and the row filter.
    """
    from feedbackloop.transform.dbt import access_vars

    command = ["dbt", "build", "--select", *select.split(), "--indirect-selection", "cautious"]
    command += ["--target", "databricks", "--vars", json.dumps(access_vars(settings), sort_keys=True)]
    return [
        {
            "task_key": "dbt_build_" + "_".join(select.split()),
            "dbt_task": {
                "commands": [shlex.join(command)],
                "project_directory": "dbt_project",
                "profiles_directory": "dbt_project",
                "warehouse_id": warehouse_id(settings),
                "catalog": settings.databricks_catalog,
                "schema": "default",
            },
            "libraries": [{"pypi": {"package": DBT_PACKAGE}}],
            **compute(settings),
        }
    ]


def compute(settings: Settings) -> dict[str, Any]:
    """Where the dbt CLI itself runs; the SQL runs on the warehouse. A single-node job cluster by default."""
    if settings.databricks_cluster_id:
        return {"existing_cluster_id": settings.databricks_cluster_id}
    return {
        "new_cluster": {
            "spark_version": settings.databricks_spark_version,
            "node_type_id": settings.databricks_node_type,
            "num_workers": 0,
            "spark_conf": {"spark.databricks.cluster.profile": "singleNode", "spark.master": "local[*]"},
            "custom_tags": {"ResourceClass": "SingleNode", "app": "feedbackloop"},
        }
    }


def git_source(settings: Settings) -> dict[str, str]:
    return {
        "git_url": settings.databricks_git_url,
        "git_provider": settings.databricks_git_provider,
        "git_branch": settings.databricks_git_branch,
    }


def run_dbt_job(settings: Settings, select: str) -> dict[str, Any]:
    """Submit the dbt build as a one-time job run and wait; raises when the run does not succeed."""
    from prefect.utilities.asyncutils import run_coro_as_sync
    from prefect_databricks.flows import jobs_runs_submit_and_wait_for_completion

    if not settings.databricks_host or not warehouse_id(settings):
        raise ValueError("dbt_runner=databricks_job needs FEEDBACKLOOP_DATABRICKS_HOST and _WAREHOUSE_ID or _HTTP_PATH")
    # prefect-databricks' flow is async; the transform task is sync.
    outputs_and_metadata: Any = run_coro_as_sync(
        jobs_runs_submit_and_wait_for_completion(
            databricks_credentials=credentials(settings),
            tasks=dbt_job_tasks(settings, select),
            run_name=f"feedbackloop dbt build {select}",
            git_source=git_source(settings),
            max_wait_seconds=settings.databricks_job_timeout_seconds,
            poll_frequency_seconds=settings.databricks_poll_seconds,
            return_metadata=True,
        )
    )
    _, metadata = outputs_and_metadata
    return {"command": f"dbt build --select {select}", "databricks_run": metadata, "skipped": False}
