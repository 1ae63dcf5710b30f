"""Flow ``index``: bring the vector index in line with gold (idempotent; a failed run catches up next time)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task

from feedbackloop.index import open_index
from feedbackloop.index.sync import sync_index
from feedbackloop.progress import progress_bar
from feedbackloop.settings import get_settings


@task(retries=1, retry_delay_seconds=5)
def sync_gold_to_index() -> dict[str, Any]:
    """Upsert gold docs whose fingerprint changed, delete docs gone from gold, then commit."""
    settings = get_settings()
    with progress_bar("index feedback") as update:
        stats = sync_index(settings, open_index(settings), progress=update)
    return asdict(stats)


@flow(name="index", log_prints=True)
def index() -> dict[str, Any]:
    """Sync the configured vector index (local or Elasticsearch) with gold."""
    return sync_gold_to_index()


if __name__ == "__main__":
    index()
