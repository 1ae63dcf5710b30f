"""Flow ``redact``: PII redaction of silver feedback not yet redacted; the mapping goes to the vault."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task

from feedbackloop.progress import progress_bar
from feedbackloop.settings import get_settings
from feedbackloop.silver.redact import redact_new_feedback
from flows._runtime import current_run_id


@task(retries=2, retry_delay_seconds=5)
def redact_pending(run_id: str) -> dict[str, Any]:
    """Redact PII in every silver doc not yet redacted."""
    with progress_bar("redact PII") as update:
        stats = redact_new_feedback(get_settings(), run_id, progress=update)
    return asdict(stats)


@flow(name="redact", log_prints=True)
def redact() -> dict[str, Any]:
    """Redact new silver feedback; runs after enrich because a lone capitalised word is a name only in English."""
    return redact_pending(current_run_id())


if __name__ == "__main__":
    redact()
