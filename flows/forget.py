"""Flow ``forget``: erase one person from every layer, the vault and every registered index."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.governance.erasure import forget, submitted
from feedbackloop.settings import get_settings
from flows._runtime import current_run_id


@task(retries=2, retry_delay_seconds=10)
def erase_subject(request_key: str) -> dict[str, Any]:
    """Resolve, delete and purge; a retry resumes from the journal, never starts over."""
    logger = get_run_logger()
    settings = get_settings()
    result = forget(
        settings,
        submitted(settings, request_key),
        progress=lambda step, rows: logger.info("erased %s rows from %s", rows, step),
    )
    return result.as_dict()


@flow(name="forget", log_prints=True)
def forget_person(request_key: str) -> dict[str, Any]:
    """Right to erasure for one person, by a request submitted to the vault (``feedbackloop forget``).

    The flow takes a request key, not the identifiers: Prefect stores run parameters and shows
    them in its UI, and an erasure must not leave the person's email there.
    """
    current_run_id()
    return erase_subject(request_key)
