"""Flow ``ingest``: new inbox files -> bronze Delta tables, with quarantine and checkpoint."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.progress import progress_bar
from feedbackloop.settings import get_settings
from feedbackloop.warehouse import ensure_source_tables
from flows._runtime import current_run_id


@task(retries=2, retry_delay_seconds=5)
def prepare_lake() -> None:
    """Create any missing source table so downstream readers never see a missing source."""
    ensure_source_tables(get_settings())


@task(retries=2, retry_delay_seconds=10)
def ingest_new_files(run_id: str) -> dict[str, Any]:
    """Ingest every file not yet checkpointed; safe to retry because appends skip known keys."""
    with progress_bar("ingest files") as update:
        stats = ingest_inbox(get_settings(), run_id, progress=lambda done, total: update(done, total))
    return stats.as_dict()


@flow(name="ingest", log_prints=True)
def ingest() -> dict[str, Any]:
    """Land new source files in bronze and report rows written, duplicate and quarantined."""
    prepare_lake()
    stats = ingest_new_files(current_run_id())
    logger = get_run_logger()
    logger.info(
        "ingest: %s files, %s rows read, %s written, %s duplicate, %s quarantined %s",
        stats["files_processed"],
        stats["rows_read"],
        stats["rows_written"],
        stats["rows_duplicate"],
        stats["rows_quarantined"],
        stats["quarantine_reasons"] or "",
    )
    return stats


if __name__ == "__main__":
    ingest()
