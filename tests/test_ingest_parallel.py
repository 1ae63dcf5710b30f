"""Large runs ingest independent sources in worker processes with the same outcome as in-process."""

from __future__ import annotations

import pytest

from feedbackloop.ingest.runner import PendingFile, discover, ingest_inbox, largest_first
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.samples import app_store_row, telemetry_event, write_app_store, write_jsonl, write_zendesk, zendesk_ticket


@pytest.fixture
def inbox(settings: Settings) -> Settings:
    write_app_store(settings.inbox_dir / "app_store" / "w1.csv", [app_store_row("a1"), app_store_row("")])
    write_app_store(settings.inbox_dir / "app_store" / "w2.csv", [app_store_row("a1"), app_store_row("a2")])
    write_zendesk(settings.inbox_dir / "zendesk" / "t.json", [zendesk_ticket(1), zendesk_ticket(2)])
    write_jsonl(settings.inbox_dir / "telemetry" / "t.jsonl", [telemetry_event("e1"), telemetry_event("e1")])
    return settings


def test_worker_processes_give_the_same_counts_as_in_process(inbox: Settings) -> None:
    parallel = inbox.model_copy(update={"ingest_workers": 2, "ingest_parallel_min_bytes": 0})
    stats = ingest_inbox(parallel, "run-1")
    assert (stats.files_processed, stats.rows_written, stats.rows_duplicate, stats.rows_quarantined) == (4, 5, 2, 1)
    lake = Lake(inbox)
    assert (lake.count("bronze", "feedback"), lake.count("bronze", "telemetry_events")) == (4, 1)
    assert lake.count("bronze", "ingest_checkpoint") == 4


def test_a_parallel_rerun_skips_every_file(inbox: Settings) -> None:
    parallel = inbox.model_copy(update={"ingest_workers": 2, "ingest_parallel_min_bytes": 0})
    ingest_inbox(parallel, "run-1")
    assert ingest_inbox(parallel, "run-2").files_skipped == 4


def test_workers_take_the_largest_source_first(inbox: Settings) -> None:
    groups: dict[str, list[PendingFile]] = {}
    for source, path, product in discover(inbox):
        groups.setdefault(source, []).append((source, path, product, (str(path), path.stat().st_size, 0)))
    order = [files[0][0] for files in largest_first(groups)]
    sizes = [sum(f[3][1] for f in groups[source]) for source in order]
    assert sorted(order) == ["app_store", "telemetry", "zendesk"]
    assert sizes == sorted(sizes, reverse=True)
