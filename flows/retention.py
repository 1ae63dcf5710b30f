"""Flow ``retention``: erase docs and events older than their source's retention period."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.governance.retention import enforce_retention
from feedbackloop.settings import get_settings
from flows._runtime import current_run_id


@task(retries=2, retry_delay_seconds=30)
def erase_expired() -> dict[str, Any]:
    """Plan what expired per source and erase it everywhere (journaled: a retry resumes)."""
    logger = get_run_logger()
    result = enforce_retention(get_settings(), progress=lambda step, rows: logger.info("%s: %s rows", step, rows))
    return result.as_dict()


@flow(name="retention", log_prints=True)
def retention() -> dict[str, Any]:
    """Enforce FEEDBACKLOOP_RETENTION_DAYS across every layer, the vault and registered indexes."""
    current_run_id()
    return erase_expired()


if __name__ == "__main__":
    retention()
