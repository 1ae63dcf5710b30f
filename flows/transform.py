"""Flow ``transform``: ``dbt build`` of the silver and/or gold layer; any dbt failure fails the flow."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.settings import get_settings
from feedbackloop.transform import changes, silver_changes, test_scope
from feedbackloop.transform.databricks_job import run_dbt_job
from feedbackloop.transform.dbt import access_vars, run_dbt
from feedbackloop.transform.state import (
    build_selection,
    input_versions,
    is_up_to_date,
    project_fingerprint,
    record_success,
    watermarks_for_build,
)


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
    """``dbt build`` of that layer: models, data tests and unit tests, downstream of what changed only."""
    settings = get_settings()
    command = f"dbt build --select {select}"
    if settings.dbt_runner == "databricks_job":
        if not force and is_up_to_date(settings, select):
            get_run_logger().info("%s skipped: no input table changed since its last build", command)
            return {"command": command, "skipped": True, "nodes": 0, "passed": 0}
        before = input_versions(settings, select)
        outcome = run_dbt_job(settings, select)
        record_success(settings, select, before=before)
        return outcome
    fingerprint = project_fingerprint(settings, access_vars(settings))
    selection = build_selection(settings, select, fingerprint, force)
    if selection is None:
        get_run_logger().info("%s skipped: no input table changed since its last build", command)
        return {"command": command, "skipped": True, "nodes": 0, "passed": 0}
    # Tests of a later layer that merely touch this one wait for that layer's own build.
    args = ["build", *selection, "--indirect-selection", "cautious"]
    if force and "gold" in select.split():
        # The daily full pass rebuilds incremental gold from scratch: compact files, full file statistics,
        # and nothing an incremental run got wrong survives more than a day.
        args.append("--full-refresh")
    before = input_versions(settings, select)
    if "--full-refresh" in args:
        test_scope.forget(settings, select)  # the tests themselves may have changed: each checks every row once
    with (
        watermarks_for_build(settings, select),
        # a forced build compares everything; otherwise a layer compares only the rows whose inputs changed, when known
        changes.changed_keys_for_build(settings, select, enabled=not force) as gold_changed_only,
        silver_changes.new_keys_for_build(settings, select, enabled=not force) as silver_changed_only,
        test_scope.scoped_tests() as scoped,
    ):
        result = run_dbt(settings, args)
    record_success(settings, select, fingerprint, before)
    changes.record_build(settings, select, before)
    silver_changes.record_build(settings, select, before)
    test_scope.record_passed(settings, result.passed_tests)
    changed_only = gold_changed_only or silver_changed_only
    return {**result.as_dict(), "skipped": False, "changed_rows_only": changed_only, "tests_scoped": len(scoped)}


@flow(name="transform", log_prints=True)
def transform(select: str = "silver gold", force: bool = False) -> dict[str, Any]:
    """Build and test the selected dbt layers (skipped when their inputs are unchanged, unless forced)."""
    return dbt_build(select, force)


if __name__ == "__main__":
    transform()
