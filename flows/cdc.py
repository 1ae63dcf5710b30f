"""Flow ``cdc``: changes from the PostgreSQL log (logical replication slot) -> bronze, until caught up."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.cdc.postgres import capture
from feedbackloop.settings import get_settings
from feedbackloop.warehouse import ensure_source_tables
from flows._runtime import current_run_id


@task(retries=2, retry_delay_seconds=5)
def prepare_lake() -> None:
    """Create any missing source table so downstream readers never see a missing source."""
    ensure_source_tables(get_settings())


@task(retries=2, retry_delay_seconds=10)
def capture_changes(run_id: str, max_seconds: float | None) -> dict[str, Any]:
    """Stream committed changes into bronze; the slot advances only after each bronze commit."""
    return capture(get_settings(), run_id, max_seconds=max_seconds).as_dict()


@flow(name="cdc", log_prints=True)
def cdc(max_seconds: float | None = None) -> dict[str, Any]:
    """Capture until caught up (at most ``max_seconds``); a no-op when no database is configured."""
    settings = get_settings()
    if not settings.cdc_dsn.get_secret_value() or not settings.cdc_tables:
        return {"skipped": "no FEEDBACKLOOP_CDC_DSN / FEEDBACKLOOP_CDC_TABLES configured"}
    prepare_lake()
    stats = capture_changes(current_run_id(), max_seconds)
    get_run_logger().info(
        "cdc: %s transactions, %s changes, %s written, %s duplicate, %s quarantined, confirmed %s",
        stats["transactions"], stats["changes_read"], stats["changes_written"], stats["changes_duplicate"],
        stats["changes_quarantined"], stats["confirmed_lsn"] or "-",
    )  # fmt: skip
    return stats


if __name__ == "__main__":
    cdc()
