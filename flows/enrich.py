"""Flow ``enrich``: language detection, then PII redaction, for silver feedback not yet seen."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task

from feedbackloop.progress import progress_bar
from feedbackloop.settings import get_settings
from feedbackloop.silver.enrich import enrich_new_feedback
from feedbackloop.silver.redact import redact_new_feedback
from flows._runtime import current_run_id


@task(retries=2, retry_delay_seconds=5)
def enrich_pending(run_id: str) -> dict[str, Any]:
    """Detect the language of every silver doc_id that has none yet."""
    with progress_bar("enrich feedback") as update:
        stats = enrich_new_feedback(get_settings(), run_id, progress=update)
    return asdict(stats)


@task(retries=2, retry_delay_seconds=5)
def redact_pending(run_id: str) -> dict[str, Any]:
    """Redact PII in every silver doc not yet redacted; the mapping goes to the vault."""
    with progress_bar("redact PII") as update:
        stats = redact_new_feedback(get_settings(), run_id, progress=update)
    return asdict(stats)


@flow(name="enrich", log_prints=True)
def enrich() -> dict[str, Any]:
    """Enrich new silver feedback (incremental: already-enriched and already-redacted docs are skipped)."""
    run_id = current_run_id()
    # Language first: redaction reads it (a lone capitalised word is a name only in English text).
    stats = enrich_pending(run_id)
    redaction = redact_pending(run_id)
    stats.update({f"redact_{key}": value for key, value in redaction.items()})
    return stats


if __name__ == "__main__":
    enrich()
