"""Flow ``forget``: erase one person from every layer, the vault and every registered index."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.governance.erasure import Subject, forget
from feedbackloop.settings import get_settings
from flows._runtime import current_run_id


@task(retries=2, retry_delay_seconds=10)
def erase_subject(user_id: str | None, email: str | None, source_system: str | None) -> dict[str, Any]:
    """Resolve, delete and purge; a retry resumes from the journal, never starts over."""
    logger = get_run_logger()
    result = forget(
        get_settings(),
        Subject(user_id=user_id, email=email, source_system=source_system),
        progress=lambda step, rows: logger.info("erased %s rows from %s", rows, step),
    )
    return result.as_dict()


@flow(name="forget", log_prints=True)
def forget_person(
    user_id: str | None = None, email: str | None = None, source_system: str | None = None
) -> dict[str, Any]:
    """Right to erasure for one person (by user id and/or email); audited without the identifier."""
    current_run_id()
    return erase_subject(user_id, email, source_system)


if __name__ == "__main__":
    import sys

    forget_person(email=sys.argv[1])
