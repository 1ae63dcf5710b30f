"""Flow ``enrich``: language detection for silver feedback not yet enriched."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task

from feedbackloop.progress import progress_bar
from feedbackloop.settings import get_settings
from feedbackloop.silver.enrich import enrich_new_feedback
from flows._runtime import current_run_id


@task(retries=2, retry_delay_seconds=5)
def enrich_pending(run_id: str) -> dict[str, Any]:
    """Detect the language of every silver doc_id that has none yet."""
    with progress_bar("detect language") as update:
        stats = enrich_new_feedback(get_settings(), run_id, progress=update)
    return asdict(stats)


@flow(name="enrich", log_prints=True)
def enrich() -> dict[str, Any]:
    """Enrich new silver feedback (incremental: already-enriched docs are skipped)."""
    return enrich_pending(current_run_id())


if __name__ == "__main__":
    enrich()
