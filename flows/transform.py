"""Flow ``transform``: ``dbt build`` of the silver and/or gold layer; any dbt failure fails the flow."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.settings import get_settings
from feedbackloop.transform.databricks_job import run_dbt_job
from feedbackloop.transform.dbt import run_dbt
from feedbackloop.transform.state import is_up_to_date, record_success


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Retry crashes and timeouts; a failing dbt test or a refused request fails the same way twice."""
    try:
        state.result()
    except Exception as exc:
        name = type(exc).__name__
        status = getattr(getattr(exc, "response", None), "status_code", 500)
        return not (name in {"DbtError", "DatabricksJobTerminated"} or 400 <= status < 500)
    return True


@task(retries=1, retry_delay_seconds=5, retry_condition_fn=_worth_retrying)
def dbt_build(select: str, force: bool) -> dict[str, Any]:
    """``dbt build --select <select>``: models, data tests and unit tests of that layer."""
    settings = get_settings()
    if not force and is_up_to_date(settings, select):
        get_run_logger().info("dbt build --select %s skipped: no input table changed since its last build", select)
        return {"command": f"dbt build --select {select}", "skipped": True, "nodes": 0, "passed": 0}
    if settings.dbt_runner == "databricks_job":
        outcome = run_dbt_job(settings, select)
    else:
        # Tests of a later layer that merely touch this one wait for that layer's own build.
        result = run_dbt(settings, ["build", "--select", *select.split(), "--indirect-selection", "cautious"])
        outcome = {**result.as_dict(), "skipped": False}
    # Recorded after the build: the build itself appends to silver, which gold then reads.
    record_success(settings, select)
    return outcome


@flow(name="transform", log_prints=True)
def transform(select: str = "silver gold", force: bool = False) -> dict[str, Any]:
    """Build and test the selected dbt layers (skipped when their inputs are unchanged, unless forced)."""
    return dbt_build(select, force)


if __name__ == "__main__":
    transform()
