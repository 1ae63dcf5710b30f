"""Delete rows from a Delta table so that no version of the table still holds them.

A delete only writes a new version: older versions keep pointing at the old files,
and the transaction log keeps per-file min/max statistics, which can quote the deleted values.
So after the delete: vacuum with zero retention (the old data files go), checkpoint, and clean
the log up to that checkpoint (old versions and their statistics go). Time travel to a version
before the erasure is then impossible, which is the point.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.transaction import AddAction, RemoveAction

LOG_RETENTION = "delta.logRetentionDuration"
DEFAULT_LOG_RETENTION = "interval 30 days"


def delete_keys(
    dt: DeltaTable,
    key: str,
    values: Iterable[str],
    key_is_list: bool = False,
) -> int:
    """Delete rows whose ``key`` is (or, for a list column, contains) one of ``values``; returns rows deleted.

    Only files holding such rows are rewritten, in one commit (remove old files, add new ones).
    Done here rather than with ``DeltaTable.delete``: that rewrites strings as Arrow string_view,
    and every later pyarrow filter on those columns fails (string vs string_view). The new files
    carry a row count but no min/max statistics, so the log never quotes a surviving value either.
    """
    value_set = pa.array(sorted(set(values)), pa.string())
    if len(value_set) == 0:
        return 0
    dataset = dt.to_pyarrow_dataset()
    schema = dataset.schema
    actions: list[AddAction | RemoveAction] = []
    deleted = 0
    now_ms = int(time.time() * 1000)
    for fragment in dataset.get_fragments():
        keys = fragment.to_table(schema=schema, columns=[key]).column(key)
        hit = _matches(keys, value_set, key_is_list)
        count = int(pc.sum(hit).as_py() or 0)
        if not count:
            continue
        deleted += count
        kept = fragment.to_table(schema=schema).filter(pc.invert(hit))
        actions.append(RemoveAction(fragment.path, True, now_ms, None, {}))
        if kept.num_rows:
            name = f"part-00000-{uuid.uuid4()}-c000.zstd.parquet"
            pq.write_table(kept, name, filesystem=fragment.filesystem, compression="zstd")
            size = fragment.filesystem.get_file_info(name).size
            stats = json.dumps({"numRecords": kept.num_rows})
            actions.append(AddAction(name, size, {}, now_ms, True, stats))
    if actions:
        dt.create_write_transaction(actions, mode="append", schema=schema)
    return deleted


def erase_rows(dt: DeltaTable, key: str, values: Iterable[str], key_is_list: bool = False) -> tuple[int, int]:
    """Delete the rows (``delete_keys``), then purge the old versions that still hold them.

    Returns (rows deleted, files purged); nothing is purged when no row matched.
    """
    rows = delete_keys(dt, key, values, key_is_list)
    return rows, (purge_history(dt) if rows else 0)


def _matches(keys: pa.ChunkedArray, value_set: pa.Array, key_is_list: bool) -> pa.Array:
    keys = keys.combine_chunks()
    if not key_is_list:
        return pc.fill_null(pc.is_in(keys, value_set=value_set), False)
    # A row listing any erased doc goes whole: an action triggered by a person's feedback is theirs.
    flat_hits = pc.is_in(pc.list_flatten(keys), value_set=value_set)
    parents = pc.filter(pc.list_parent_indices(keys), flat_hits).to_pylist()
    hit_rows = set(parents)
    return pa.array([i in hit_rows for i in range(len(keys))])


def purge_history(dt: DeltaTable) -> int:
    """Remove every file and log entry older than the current version; returns data files removed."""
    dt.update_incremental()
    removed = dt.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
    dt.update_incremental()
    previous = dt.metadata().configuration.get(LOG_RETENTION)
    dt.alter.set_table_properties({LOG_RETENTION: "interval 0 seconds"})
    dt.create_checkpoint()
    dt.cleanup_metadata()
    # Restore the table's own log retention (Delta's default when it had none) for later time travel.
    dt.alter.set_table_properties({LOG_RETENTION: previous or DEFAULT_LOG_RETENTION})
    return len(removed)


def rebuild_warehouse(warehouse_path: Path) -> int:
    """Recreate the embedded DuckDB warehouse file with its views only; returns the views kept.

    dbt on DuckDB computes each model in a staging table before streaming it to Delta; the table
    is dropped, but its rows linger in the WAL and in freed blocks of the file. The warehouse
    holds nothing else of value (views over Delta), so a fresh file is the clean way to forget.
    """
    import duckdb

    if not warehouse_path.exists():
        return 0
    with duckdb.connect(str(warehouse_path)) as old:
        schemas = [r[0] for r in old.execute(
            "select schema_name from duckdb_schemas() where not internal and database_name = current_database()"
        ).fetchall()]  # fmt: skip
        views = old.execute(
            "select schema_name, sql from duckdb_views() where not internal and database_name = current_database()"
        ).fetchall()
    fresh = warehouse_path.with_name(warehouse_path.name + ".rebuild")
    fresh.unlink(missing_ok=True)
    with duckdb.connect(str(fresh)) as new:
        new.execute("load delta")
        for schema in schemas:
            new.execute(f'create schema if not exists "{schema}"')
        for schema, sql in views:
            new.execute("set schema = ?", [schema])
            new.execute(sql)
        new.execute("checkpoint")
    Path(str(warehouse_path) + ".wal").unlink(missing_ok=True)
    fresh.replace(warehouse_path)
    return len(views)
