"""Flow ``transform``: ``dbt build`` of the silver and/or gold layer; any dbt failure fails the flow."""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from feedbackloop.settings import get_settings
from feedbackloop.transform.dbt import run_dbt


@task(retries=1, retry_delay_seconds=5)
def dbt_build(select: str) -> dict[str, Any]:
    """``dbt build --select <select>``: models, data tests and unit tests of that layer."""
    # Tests of a later layer that merely touch this one wait for that layer's own build.
    return run_dbt(get_settings(), ["build", "--select", *select.split(), "--indirect-selection", "cautious"]).as_dict()


@flow(name="transform", log_prints=True)
def transform(select: str = "silver gold") -> dict[str, Any]:
    """Build and test the selected dbt layers."""
    return dbt_build(select)


if __name__ == "__main__":
    transform()
