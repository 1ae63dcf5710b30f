"""Flow ``maintain``: compact each Delta table's small files and vacuum files past the time-travel window."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.lake_maintenance import TableMaintenance, describe, maintain_lake
from feedbackloop.settings import get_settings


@task(retries=1, retry_delay_seconds=60)
def maintain_tables() -> dict[str, Any]:
    """OPTIMIZE (bin-packing) and VACUUM every table of the lake; a failed table is retried by the next run."""
    logger = get_run_logger()

    def report(table: TableMaintenance) -> None:
        line = describe(asdict(table))
        if line:
            (logger.warning if table.error else logger.info)(line)

    return maintain_lake(get_settings(), progress=report)


@flow(name="maintain", log_prints=True)
def maintain() -> dict[str, Any]:
    """Keep reads fast and storage bounded: compact small files, vacuum unreferenced ones."""
    return maintain_tables()


if __name__ == "__main__":
    maintain()
