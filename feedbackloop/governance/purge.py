"""Delete rows from a Delta table so that no version of the table still holds them.

A Delta ``DELETE`` only writes a new version: older versions keep pointing at the old files,
and the transaction log keeps per-file min/max statistics, which can quote the deleted values.
So after the delete: vacuum with zero retention (the old data files go), checkpoint, and clean
the log up to that checkpoint (old versions and their statistics go). Time travel to a version
before the erasure is then impossible, which is the point.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake

LOG_RETENTION = "delta.logRetentionDuration"
DEFAULT_LOG_RETENTION = "interval 30 days"


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(set(values)))


def delete_keys(
    dt: DeltaTable,
    key: str,
    values: Iterable[str],
    key_is_list: bool = False,
    storage_options: dict[str, str] | None = None,
) -> int:
    """Delete rows whose ``key`` is one of ``values``; returns rows deleted."""
    values = sorted(set(values))
    if not values:
        return 0
    if key_is_list:
        return _delete_list_keys(dt, key, values, storage_options)
    deleted = 0
    for start in range(0, len(values), 5_000):  # keeps each predicate a manageable size
        metrics = dt.delete(f"{key} IN ({_sql_list(values[start : start + 5_000])})")
        deleted += int(metrics.get("num_deleted_rows") or 0)
    return deleted


def delete_where(dt: DeltaTable, predicate: str) -> int:
    return int(dt.delete(predicate).get("num_deleted_rows") or 0)


def _delete_list_keys(dt: DeltaTable, key: str, values: list[str], storage_options: dict[str, str] | None) -> int:
    # Rows listing any erased doc are dropped whole: an action triggered by a person's feedback is theirs.
    table = dt.to_pyarrow_table()
    flat = pc.list_flatten(table.column(key))
    parents = pc.list_parent_indices(table.column(key))
    hit_rows = set(pc.filter(parents, pc.is_in(flat, value_set=pa.array(values))).to_pylist())
    if not hit_rows:
        return 0
    keep = pa.array([i not in hit_rows for i in range(table.num_rows)])
    write_deltalake(dt.table_uri, table.filter(keep), mode="overwrite", storage_options=storage_options)
    return len(hit_rows)


def purge_history(dt: DeltaTable) -> int:
    """Remove every file and log entry older than the current version; returns data files removed."""
    removed = dt.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
    previous = dt.metadata().configuration.get(LOG_RETENTION)
    dt.alter.set_table_properties({LOG_RETENTION: "interval 0 seconds"})
    dt.create_checkpoint()
    dt.cleanup_metadata()
    # Restore the table's own log retention (Delta's default when it had none) for later time travel.
    dt.alter.set_table_properties({LOG_RETENTION: previous or DEFAULT_LOG_RETENTION})
    return len(removed)
