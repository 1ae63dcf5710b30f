"""Delta table maintenance: compact the small files incremental runs leave, vacuum files no recent version reads.

Every hourly run appends a small file to each table it touches, and every rebuild leaves the files
of the version it replaced. Left alone, each read opens more files every hour and the lake only
grows. Databricks optimizes the tables dbt writes there (autoOptimize); the embedded lake, and the
tables the pipeline writes through deltalake in either world, get it here.

Maintenance commits change no data (Delta marks them ``dataChange: false``), so the layer builds do
not count them as new input (``MAINTENANCE_OPERATIONS``, used by transform/state.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import lake_tables

# Delta history operations that rewrite files without changing a table's rows.
MAINTENANCE_OPERATIONS = frozenset({"OPTIMIZE", "VACUUM START", "VACUUM END"})


@dataclass
class TableMaintenance:
    table: str
    files_before: int
    files_after: int
    files_compacted: int = 0
    files_vacuumed: int = 0
    seconds: float = 0.0
    error: str | None = None


def describe(table: dict[str, Any]) -> str | None:
    """One line for a table maintenance did something to (or failed on); None for an untouched table."""
    if table["error"]:
        return f"{table['table']}: failed: {table['error']}"
    if not (table["files_compacted"] or table["files_vacuumed"]):
        return None
    return (
        f"{table['table']}: {table['files_before']} -> {table['files_after']} files ({table['files_compacted']} "
        f"compacted, {table['files_vacuumed']} vacuumed) in {table['seconds']:.1f}s"
    )


def _file_sizes(dt: DeltaTable) -> list[int]:
    return pa.table(dt.get_add_actions(flatten=True)).column("size_bytes").to_pylist()


def maintain_table(dt: DeltaTable, name: str, settings: Settings) -> TableMaintenance:
    """Compact ``dt`` when it has enough small files, then vacuum what the retention window no longer needs."""
    start = time.perf_counter()
    target = settings.lake_compact_target_mb * 2**20
    sizes = _file_sizes(dt)
    result = TableMaintenance(table=name, files_before=len(sizes), files_after=len(sizes))
    if sum(size < target for size in sizes) >= settings.lake_compact_min_files:
        metrics = dt.optimize.compact(target_size=target)
        result.files_compacted = int(metrics["numFilesRemoved"])
        # a reader replays the log from the last checkpoint: start it after the rewrite
        dt.create_checkpoint()
    result.files_vacuumed = len(
        dt.vacuum(retention_hours=settings.lake_vacuum_retention_hours, dry_run=False, enforce_retention_duration=False)
    )
    dt.cleanup_metadata()  # log entries past the table's log retention (30 days by default)
    result.files_after = len(dt.file_uris())
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def maintain_lake(settings: Settings, progress: Callable[[TableMaintenance], None] | None = None) -> dict[str, Any]:
    """Maintain every Delta table of the lake; a table that fails (a concurrent writer won) is reported, not fatal."""
    lake = Lake(settings)
    tables = []
    for layer, name in lake_tables(settings):
        dt = lake.table(layer, name)
        if dt is None:
            continue
        try:
            outcome = maintain_table(dt, f"{layer}.{name}", settings)
        except Exception as exc:  # the next run retries this table; the others still get done
            outcome = TableMaintenance(table=f"{layer}.{name}", files_before=0, files_after=0, error=str(exc)[:300])
        if progress:
            progress(outcome)
        tables.append(outcome)
    return {
        "tables": [asdict(t) for t in tables],
        "files_compacted": sum(t.files_compacted for t in tables),
        "files_vacuumed": sum(t.files_vacuumed for t in tables),
        "tables_failed": sum(t.error is not None for t in tables),
    }


def data_changed_since(lake: Lake, layer: str, name: str, version: int) -> bool:
    """Whether any commit after ``version`` changed rows (anything but maintenance); True when unknown."""
    operations = lake.operations_since(layer, name, version)
    return operations is None or any(op not in MAINTENANCE_OPERATIONS for op in operations)
