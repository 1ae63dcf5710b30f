"""Thin helpers over deltalake so every stage reads and writes Delta tables the same way."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from feedbackloop.settings import Settings, is_volume_path


def untyped_columns(schema: pa.Schema) -> list[str]:
    """Columns whose every value was null when built from plain values (Arrow type null): Delta stores
    them as ``void``, and DuckDB then refuses to read the whole table."""
    return [field.name for field in schema if pa.types.is_null(field.type)]


class LakeLocationError(RuntimeError):
    """The configured lake location cannot be reached from this process."""


class Lake:
    """The Delta tables under ``settings.lake_uri``, addressed as ``(layer, name)``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.storage_options = settings.storage_options or None
        if is_volume_path(settings.lake_uri) and not Path(settings.volumes_root).is_dir():
            raise LakeLocationError(
                f"lake_uri {settings.lake_uri!r} is a Unity Catalog volume, but {settings.volumes_root!r} is not "
                "mounted here: run on a Databricks cluster, set FEEDBACKLOOP_VOLUMES_ROOT to a mount of the volumes, "
                "or point FEEDBACKLOOP_LAKE_URI at the volume's storage location (s3://, abfss://, gs://)"
            )

    def uri(self, layer: str, name: str) -> str:
        uri = self.settings.table_uri(layer, name)
        if self.settings.is_local_lake:
            return str(Path(uri).resolve())
        return uri

    def table(self, layer: str, name: str, version: int | None = None) -> DeltaTable | None:
        """The table as it is now, or as of ``version``; None when there is no table."""
        try:
            return DeltaTable(self.uri(layer, name), version=version, storage_options=self.storage_options)
        except TableNotFoundError:
            return None

    def version(self, layer: str, name: str) -> int | None:
        """The table's current Delta version; None when there is no table.

        On a local lake, read off the commit and checkpoint file names in ``_delta_log``: opening the
        table replays its log (10-30 ms), and a pipeline run asks for every table's version several
        times. Commits appear by rename, so a listed ``<version>.json`` is committed.
        """
        if not self.settings.is_local_lake:
            table = self.table(layer, name)
            return None if table is None else table.version()
        try:
            entries = os.scandir(Path(self.uri(layer, name)) / "_delta_log")
        except (FileNotFoundError, NotADirectoryError):
            return None
        with entries:
            versions = [
                int(entry.name[:20])
                for entry in entries
                if entry.name[:20].isdigit() and (entry.name.endswith(".json") or ".checkpoint." in entry.name)
            ]
        return max(versions, default=None)

    def operations_since(self, layer: str, name: str, version: int) -> list[str] | None:
        """The operation (WRITE, DELETE, OPTIMIZE, ...) of every commit after ``version``, oldest first;
        None when the log no longer holds them all. A local lake reads the commit files themselves."""
        if not self.settings.is_local_lake:
            current = self.version(layer, name)
            table = self.table(layer, name)
            if current is None or current < version or table is None:
                return None
            history = table.history(limit=current - version)
            return [str(c.get("operation")) for c in reversed(history)] if len(history) == current - version else None
        commits = self._local_commits_since(layer, name, version)
        if commits is None:
            return None
        operations = []
        for actions in commits:
            infos = [action["commitInfo"] for action in actions if "commitInfo" in action]
            operations.append(str(infos[0].get("operation")) if infos else "UNKNOWN")
        return operations

    def files_added_since(self, layer: str, name: str, version: int) -> list[dict[str, Any]] | None:
        """The ``add`` actions that brought new rows (``dataChange``; compaction's rewrites do not) in
        the commits after ``version``, with their statistics; None when that is unknown: a log entry
        gone, or a remote lake, where reading each commit costs a request."""
        commits = self._local_commits_since(layer, name, version) if self.settings.is_local_lake else None
        if commits is None:
            return None
        return [action["add"] for actions in commits for action in actions if action.get("add", {}).get("dataChange")]

    def data_files_changed_since(
        self, layer: str, name: str, version: int, max_bytes: int | None = None, until: int | None = None
    ) -> tuple[list[str], list[str]] | None:
        """The data files the commits after ``version`` added and removed (rows, not compaction), as
        local paths, each still on disk; None when that cannot be told: a log entry gone, a file
        vacuumed away, a deletion vector, or a remote lake. Also None when they hold more than
        ``max_bytes``: after an overwrite, say, reading the whole table costs no more.

        A file both added and removed in that span cancels out: its rows are in neither version.
        ``until`` ends the span at that version instead of the current one.
        """
        commits = self._local_commits_since(layer, name, version, until) if self.settings.is_local_lake else None
        if commits is None:
            return None
        added: list[str] = []
        removed: list[str] = []
        for actions in commits:
            for action in actions:
                for kind, files in (("add", added), ("remove", removed)):
                    entry = action.get(kind)
                    if not entry or not entry.get("dataChange", kind == "remove"):
                        continue
                    if entry.get("deletionVector") or "://" in entry["path"]:
                        return None  # rows hidden inside a file, or a file outside the table (a shallow clone)
                    files.append(entry["path"])
        both = set(added) & set(removed)
        root = Path(self.uri(layer, name))
        paths = [[str(root / unquote(path)) for path in files if path not in both] for files in (added, removed)]
        try:
            size = sum(os.stat(path).st_size for path in [*paths[0], *paths[1]])
        except FileNotFoundError:
            return None
        if max_bytes is not None and size > max_bytes:
            return None
        return paths[0], paths[1]

    def oldest_added_since(self, layer: str, name: str, version: int, column: str) -> datetime | None:
        """The oldest ``column`` value (a timestamp) among the rows committed after ``version``, read
        off the file statistics in the log; None when there is no such file or it cannot be told (a
        file without statistics, a log entry gone, a remote lake)."""
        added = self.files_added_since(layer, name, version)
        if not added:
            return None
        lows = [(json.loads(add.get("stats") or "{}").get("minValues") or {}).get(column) for add in added]
        if not all(isinstance(low, str) for low in lows):
            return None
        # Delta keeps timestamp statistics to the millisecond (truncated); a millisecond more covers rounding.
        return min(datetime.fromisoformat(str(low)) for low in lows) - timedelta(milliseconds=1)

    def commit_stamp(self, layer: str, name: str, version: int) -> int | None:
        """When commit ``version`` was written (ns), to tell it from a commit of the same number in a
        table since dropped and made again; None when unknown (a remote lake, the entry gone)."""
        if not self.settings.is_local_lake:
            return None
        try:
            return (Path(self.uri(layer, name)) / "_delta_log" / f"{version:020d}.json").stat().st_mtime_ns
        except OSError:
            return None

    def stamped(self, layer: str, name: str, version: int) -> list[int | None]:
        """``[version, stamp]``: commit ``version`` recorded so that ``same_commit`` can tell it later
        from a commit of the same number in a table since dropped and made again."""
        return [version, self.commit_stamp(layer, name, version)]

    def same_commit(self, layer: str, name: str, recorded: list[int | None] | None) -> bool:
        """Whether a ``stamped`` record still names a commit of this table; False when it cannot be told."""
        version, stamp = recorded or (None, None)
        return version is not None and stamp is not None and self.commit_stamp(layer, name, version) == stamp

    def rows_appended_since(self, layer: str, name: str, version: int) -> int | None:
        """How many rows the commits after ``version`` added, when all they did was add rows (or
        compact them) and the log counts them; None otherwise (rows removed, no statistics, unknown)."""
        commits = self._local_commits_since(layer, name, version) if self.settings.is_local_lake else None
        if commits is None:
            return None
        added = 0
        for actions in commits:
            for action in actions:
                if "remove" in action and action["remove"].get("dataChange", True):
                    return None
                add = action.get("add")
                if add and add.get("dataChange"):
                    records = json.loads(add.get("stats") or "{}").get("numRecords")
                    if not isinstance(records, int):
                        return None
                    added += records
                elif "metaData" in action or "protocol" in action:
                    return None  # a schema or protocol change (an overwrite may come with it)
        return added

    def _local_commits_since(
        self, layer: str, name: str, version: int, until: int | None = None
    ) -> list[list[dict[str, Any]]] | None:
        """The actions of each commit after ``version`` (up to ``until``, else the current one) on a
        local lake, oldest first; None when the table is gone, went back in version, or the log no
        longer holds every commit."""
        current = self.version(layer, name)
        if current is None or current < version or (until is not None and not version <= until <= current):
            return None
        log = Path(self.uri(layer, name)) / "_delta_log"
        commits = []
        for v in range(version + 1, (current if until is None else until) + 1):
            try:
                lines = (log / f"{v:020d}.json").read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                return None
            commits.append([json.loads(line) for line in lines if line.strip()])
        return commits

    def exists(self, layer: str, name: str) -> bool:
        return self.version(layer, name) is not None

    def read(
        self, layer: str, name: str, columns: list[str] | None = None, filter_: Any = None, version: int | None = None
    ) -> pa.Table:
        """Rows of the table as it is now, or as of ``version``."""
        dt = self.table(layer, name, version)
        if dt is None:
            raise FileNotFoundError(f"Delta table {layer}/{name} does not exist yet at {self.uri(layer, name)}")
        return dt.to_pyarrow_dataset().to_table(columns=columns, filter=filter_)

    def column_values(self, layer: str, name: str, column: str) -> set[str]:
        """Every value of one column; used for idempotent appends (a million ids is ~100 MB)."""
        dt = self.table(layer, name)
        if dt is None:
            return set()
        return set(dt.to_pyarrow_dataset().to_table(columns=[column]).column(column).to_pylist())

    def count(self, layer: str, name: str) -> int:
        dt = self.table(layer, name)
        if dt is None:
            return 0
        # The log's per-file row counts, when every file has one and no deletion vector hides rows:
        # no data file is opened (a run summary counts every table of the lake).
        if "deletionVectors" not in (dt.protocol().reader_features or []):
            counts = pa.table(dt.get_add_actions(flatten=True)).column("num_records")
            if counts.null_count == 0:
                return int(pc.sum(counts).as_py() or 0)
        return int(dt.to_pyarrow_dataset().count_rows())

    def append(self, layer: str, name: str, data: pa.Table | pa.RecordBatchReader) -> None:
        write_deltalake(
            self.uri(layer, name),
            self._typed(layer, name, data),
            mode="append",
            storage_options=self.storage_options,
        )

    def overwrite(self, layer: str, name: str, data: pa.Table | pa.RecordBatchReader) -> None:
        write_deltalake(
            self.uri(layer, name),
            self._typed(layer, name, data),
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=self.storage_options,
        )

    def _typed(self, layer: str, name: str, data: pa.Table | pa.RecordBatchReader) -> pa.Table | pa.RecordBatchReader:
        """Untyped columns (``untyped_columns``) take the table's type for them, or the write is
        refused, naming them."""
        untyped = untyped_columns(data.schema)
        if not untyped:
            return data
        table = self.table(layer, name)
        known = table.to_pyarrow_dataset().schema if table is not None else pa.schema([])
        missing = [c for c in untyped if c not in known.names or pa.types.is_null(known.field(c).type)]
        if missing or isinstance(data, pa.RecordBatchReader):
            raise ValueError(
                f"{layer}.{name}: column(s) {', '.join(missing or untyped)} have no type (every value is null); "
                "write them with the table's schema"
            )
        return data.cast(pa.schema([known.field(f.name) if f.name in untyped else f for f in data.schema]))
