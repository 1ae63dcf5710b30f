"""Which docs a gold build must look at: the keys of every row its inputs changed since its last build.

Gold's incremental models compare their rows with their inputs to find the ones a full rebuild
would now compute differently. Compared whole, that is a million-row join on every run. The Delta
log says which rows changed since gold's last successful build: the files its commits removed and
added. A row that is in a removed file but in no added file went away; one in an added file only
is new or changed; a row a rewrite merely carried over is in both, and cancels. The models then
compare only the docs and records whose keys such rows hold (``macros/changed_since_last_build.sql``).

Whenever that cannot be told exactly (a file vacuumed away, a log entry gone, a table dropped and
made again, a remote lake), no key file is left, and the models compare everything, as before.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import parquet_files, source_tables

# Every table gold's bounded models read or write, with the columns that hold the doc ids of a
# changed row (silver.int_feedback__latest_changes is keyed by record instead: RECORD_TABLES).
DOC_TABLES: dict[str, tuple[str, ...]] = {
    "silver.stg_bronze__feedback": ("doc_id",),
    "silver.int_feedback__deduplicated": ("doc_id",),
    "silver.feedback_enrichment": ("doc_id",),
    "silver.feedback_redacted": ("doc_id",),
    # a link that comes or goes moves its canonical's count as well
    "silver.feedback_near_duplicate_links": ("doc_id", "canonical_doc_id"),
    "gold.fct_feedback": ("doc_id",),
    "gold.fct_feedback_near_duplicates": ("doc_id",),
}
RECORD_KEY = ("source_system", "source_record_id")
RECORD_TABLES: dict[str, tuple[str, ...]] = {"silver.int_feedback__latest_changes": RECORD_KEY}
TRACKED = {**DOC_TABLES, **RECORD_TABLES}
FEEDBACK = "silver.stg_bronze__feedback"
# Past this many bytes of changed files (a rebuilt table, say), comparing every row costs no more.
MAX_CHANGED_BYTES = 64 * 2**20
# Only a gold-only build can use them: a build that also builds silver changes its inputs as it goes.
LAYER = "gold"


def _state_path(settings: Settings) -> Path:
    return settings.state_dir / "gold_inputs.json"


def doc_keys_path(settings: Settings) -> Path:
    """Where a gold build finds the changed doc ids (``macros/changed_since_last_build.sql`` reads it)."""
    return settings.state_dir / "changed_doc_ids.parquet"


def record_keys_path(settings: Settings) -> Path:
    return settings.state_dir / "changed_records.parquet"


def feedback_rows_path(settings: Settings) -> Path:
    """The silver feedback rows added since the last gold build, when silver only appended: what
    ``fct_feedback`` reads instead of all of silver when every changed doc is among them."""
    return settings.state_dir / "changed_feedback_rows.parquet"


def table_versions(settings: Settings) -> dict[str, int]:
    """The current Delta version of every tracked table that exists."""
    lake = Lake(settings)
    versions = {}
    for key in TRACKED:
        version = lake.version(*key.split(".", 1))
        if version is not None:
            versions[key] = version
    return versions


def record_build(settings: Settings, select: str, before: dict[str, int]) -> None:
    """After a successful build that included gold: the versions of the tracked tables it covered,
    with each commit's stamp.

    The tables the build wrote as they are now; every other table (one a stage outside dbt writes)
    as of ``before``, read when the build started: rows a concurrent writer committed during the
    build may have been missed, so the next build must still see them as changed.
    """
    if LAYER not in select.split():
        return
    lake = Lake(settings)
    written_elsewhere = {f"{layer}.{name}" for layer, name in source_tables()}
    covered = {}
    for key, version in table_versions(settings).items():
        layer, name = key.split(".", 1)
        if (layer not in select.split() or key in written_elsewhere) and key in before:
            version = before[key]
        covered[key] = lake.stamped(layer, name, version)
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(covered, indent=2, sort_keys=True))


def changed_keys(files: tuple[list[str], list[str]], columns: tuple[str, ...]) -> pa.Table | None:
    """The ``columns`` of every row that the ``(added, removed)`` files changed; None when unknown."""
    import duckdb

    added, removed = files
    select = ", ".join(f'"{column}"' for column in columns)
    if not added and not removed:
        return pa.table({column: pa.array([], pa.string()) for column in columns})
    if not removed or not added:
        query = f"select {select} from {parquet_files(added or removed)}"
    else:
        # A rewrite carries rows over into its new file: only rows that differ, value for value, changed.
        old, new = parquet_files(removed), parquet_files(added)
        query = (
            f"select {select} from ((select * from {old} except all select * from {new}) "
            f"union all (select * from {new} except all select * from {old}))"
        )
    try:
        return duckdb.connect().sql(query).to_arrow_table()
    except duckdb.Error:
        return None  # a key column missing from a file, say: compare everything


def write_changed_keys(settings: Settings) -> bool:
    """Write the keys of every row the tracked tables changed since the last gold build; False (and
    no files) when any of them cannot be told."""
    recorded = json.loads(_state_path(settings).read_text()) if _state_path(settings).exists() else None
    if not settings.is_local_lake or not recorded:
        return False
    current = table_versions(settings)
    lake = Lake(settings)
    docs: list[pa.Table] = []
    records: list[pa.Table] = []
    for key, columns in TRACKED.items():
        if key not in current:
            if key in recorded:
                return False  # a table that went away
            continue
        if key not in recorded:
            return False  # a table gold has not seen yet
        layer, name = key.split(".", 1)
        if not lake.same_commit(layer, name, recorded[key]):
            return False  # the table was dropped and made again since
        version = recorded[key][0]
        if current[key] == version:
            continue
        files = lake.data_files_changed_since(layer, name, version, MAX_CHANGED_BYTES)
        keys = None if files is None else changed_keys(files, columns)
        if files is None or keys is None:
            return False
        if key == FEEDBACK:
            _copy_appended_rows(files, feedback_rows_path(settings))
        if key in RECORD_TABLES:
            records.append(keys)
        else:
            docs.extend(keys.select([column]).rename_columns(["doc_id"]) for column in columns)
    write_keys(doc_keys_path(settings), docs, ["doc_id"])
    write_keys(record_keys_path(settings), records, list(RECORD_KEY))
    return True


def _copy_appended_rows(files: tuple[list[str], list[str]], target: Path) -> None:
    """Copy the rows of the ``(added, removed)`` files into ``target`` when they only added rows."""
    import duckdb

    added, removed = files
    if added and not removed:
        target.parent.mkdir(parents=True, exist_ok=True)
        escaped = str(target).replace("'", "''")
        duckdb.connect().execute(f"copy (select * from {parquet_files(added)}) to '{escaped}' (format parquet)")


def write_keys(path: Path, tables: list[pa.Table], columns: list[str]) -> None:
    schema = pa.schema([pa.field(column, pa.string()) for column in columns])
    parts = [table.select(columns).cast(schema) for table in tables]
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    table = table.filter(pc.is_valid(table.column(0))).group_by(columns).aggregate([])
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.select(columns), path)


@contextlib.contextmanager
def changed_keys_for_build(settings: Settings, select: str, enabled: bool = True) -> Iterator[bool]:
    """The changed keys on disk for the length of one gold-only build, and never longer: a ``dbt
    build`` run by hand, or one that builds silver too, compares everything. Yields whether they are."""
    paths = (doc_keys_path(settings), record_keys_path(settings), feedback_rows_path(settings))
    for path in paths:
        path.unlink(missing_ok=True)  # left by a build that was killed
    written = enabled and select.split() == [LAYER] and write_changed_keys(settings)
    try:
        yield written
    finally:
        for path in paths:
            path.unlink(missing_ok=True)
