"""Flow ``stream``: webhook deliveries in the landing zone -> bronze, one micro-batch, exactly once."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.settings import get_settings
from feedbackloop.stream.microbatch import ingest_landed
from feedbackloop.warehouse import ensure_source_tables
from flows._runtime import current_run_id


@task(retries=2, retry_delay_seconds=5)
def prepare_lake() -> None:
    """Create any missing source table so downstream readers never see a missing source."""
    ensure_source_tables(get_settings())


@task(retries=2, retry_delay_seconds=5)
def ingest_landed_files(run_id: str) -> dict[str, Any]:
    """Land every landed file not yet checkpointed; a retry re-reads and skips known keys."""
    return ingest_landed(get_settings(), run_id).as_dict()


@flow(name="stream", log_prints=True)
def stream() -> dict[str, Any]:
    """One micro-batch: new landing-zone files into bronze, in event-time order, then the checkpoint."""
    prepare_lake()
    stats = ingest_landed_files(current_run_id())
    get_run_logger().info(
        "stream: %s files, %s records read, %s written, %s duplicate, %s quarantined, %s out of order",
        stats["files_processed"], stats["rows_read"], stats["rows_written"], stats["rows_duplicate"],
        stats["rows_quarantined"], stats["rows_out_of_order"],
    )  # fmt: skip
    return stats


if __name__ == "__main__":
    stream()
