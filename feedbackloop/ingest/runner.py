"""Batch ingestion: every new file in the inbox, through its adapter, into the bronze Delta tables.

Idempotent twice over: a file already in the checkpoint is skipped (as Auto Loader does), and rows
whose key (doc_id / event_id / quarantine_id) is already in bronze are counted as duplicates, not
written. So a crash between the bronze append and the checkpoint write only costs a re-read.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
from pydantic import ValidationError

from feedbackloop.bronze.tables import TABLES
from feedbackloop.contracts import FeedbackRecord, TelemetryEvent
from feedbackloop.ingest.base import RowError, SourceAdapter
from feedbackloop.ingest.sources import adapters_for
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

Progress = Callable[[int, int], None]  # (files done, files in this run)


@dataclass
class IngestStats:
    files_processed: int = 0
    files_skipped: int = 0
    files_empty: int = 0
    rows_read: int = 0
    rows_written: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    rows_truncated: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestStats) -> None:
        for name in ("files_processed", "files_skipped", "files_empty", "rows_read", "rows_written",
                     "rows_duplicate", "rows_quarantined", "rows_truncated"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, n in other.quarantine_reasons.items():
            self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _reason_kind(reason: str) -> str:
    # Group reasons for the summary: "unparseable timestamp in createdDate: '31/02'" -> "unparseable timestamp"
    return reason.split(":")[0].split(" in ")[0][:60]


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid record: " + "; ".join(parts)


class BronzeWriter:
    """Buffers canonical rows per bronze table and appends them in bounded batches, skipping known keys.

    Checkpoint rows for finished files are written only after every bronze row buffered before them
    is committed, so a crash can cost a re-read but never a lost row.
    """

    def __init__(self, lake: Lake, run_id: str, batch_rows: int, source_systems: set[str] | None = None) -> None:
        self.lake = lake
        self.run_id = run_id
        self.batch_rows = batch_rows
        self.source_systems = source_systems  # a worker only ever sees keys of its own sources
        self._keys: dict[str, set[str]] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}

    def known(self, table: str) -> set[str]:
        if table not in self._keys:
            _, key = TABLES[table]
            self._keys[table] = self._load_keys(table, key)
        return self._keys[table]

    def _load_keys(self, table: str, key: str) -> set[str]:
        dt = self.lake.table("bronze", table)
        if dt is None:
            return set()
        dataset = dt.to_pyarrow_dataset()
        row_filter = None
        if self.source_systems is not None and "source_system" in dataset.schema.names:
            row_filter = ds.field("source_system").isin(sorted(self.source_systems))
        return set(dataset.to_table(columns=[key], filter=row_filter).column(key).to_pylist())

    def add(self, table: str, row: dict[str, Any]) -> bool:
        """Queue a row; False when its key is already in bronze (or earlier in this run)."""
        _, key = TABLES[table]
        keys = self.known(table)
        if row[key] in keys:
            return False
        keys.add(row[key])
        buffer = self._buffers[table]
        buffer.append(row)
        if len(buffer) >= self.batch_rows:
            self.flush()
        return True

    def file_done(self, checkpoint_row: dict[str, Any]) -> None:
        self._buffers["ingest_checkpoint"].append(checkpoint_row)

    def flush(self) -> None:
        # Data tables first, the checkpoint last: the order is what makes a crash harmless.
        for name in sorted(self._buffers, key=lambda n: n == "ingest_checkpoint"):
            rows = self._buffers[name]
            if rows:
                schema, _ = TABLES[name]
                self.lake.append("bronze", name, pa.Table.from_pylist(rows, schema=schema))
                self._buffers[name] = []


class RowMapper:
    """Maps one source payload onto a validated bronze row: the contract every path into bronze shares."""

    def __init__(
        self, settings: Settings, adapter: SourceAdapter, source_file: str, run_id: str, product: str | None = None
    ) -> None:
        self.settings = settings
        self.adapter = adapter
        self.product = product  # from the inbox folder, for exports that carry no product column
        self.source_file = source_file
        self.run_id = run_id
        self.now = datetime.now(UTC)
        self.rows_truncated = 0

    def to_row(self, payload: dict[str, Any], offset: int, raw: str) -> tuple[str, dict[str, Any]]:
        """(bronze table, row); raises RowError or ValidationError with the quarantine reason."""
        canonical = self.adapter.to_canonical(payload)
        if self.product and not canonical.get("product"):
            canonical["product"] = self.product
        if self.adapter.kind == "telemetry":
            return "telemetry_events", self._telemetry_row(canonical, offset, raw)
        return "feedback", self._feedback_row(canonical, offset, raw)

    def _feedback_row(self, canonical: dict[str, Any], offset: int, raw: str) -> dict[str, Any]:
        if not canonical.get("source_record_id"):
            raise RowError("missing source_record_id")
        text = canonical.get("customer_text") or ""
        if not text.strip():
            raise RowError("empty customer_text")
        limit = self.settings.max_text_bytes
        encoded = text.encode("utf-8")
        if len(encoded) > limit:
            # The raw payload keeps the full text; the canonical text is cut so downstream stays bounded.
            canonical["customer_text"] = encoded[:limit].decode("utf-8", "ignore")
            canonical["is_text_truncated"] = True
            self.rows_truncated += 1
        if canonical.get("event_at") is None:
            canonical["event_at"] = self.now
            canonical["is_event_at_inferred"] = True
        record = FeedbackRecord(
            source_system=self.adapter.source_system,
            ingested_at=self.now,
            raw_payload=raw,
            source_file=self.source_file,
            source_offset=offset,
            **canonical,
        )
        row = _fields(record)
        row["ingest_run_id"] = self.run_id
        return row

    def _telemetry_row(self, canonical: dict[str, Any], offset: int, raw: str) -> dict[str, Any]:
        record = TelemetryEvent(
            ingested_at=self.now,
            raw_payload=raw,
            source_file=self.source_file,
            source_offset=offset,
            **canonical,
        )
        row = _fields(record)
        row["ingest_run_id"] = self.run_id
        return row


def _fields(record: FeedbackRecord | TelemetryEvent) -> dict[str, Any]:
    """The validated record's fields as a row. They are plain values already (no nested models), and
    ``model_dump`` would serialize each one again (4 us a row, a third of what validating it takes)."""
    return dict(record.__dict__)


class FileIngester:
    """Turns one file's rows into bronze rows or quarantine rows; never raises on bad data."""

    def __init__(
        self,
        settings: Settings,
        writer: BronzeWriter,
        adapter: SourceAdapter,
        path: Path | str,
        product: str | None = None,
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.adapter = adapter
        self.path = path
        self.source_file = str(path)
        self.mapper = RowMapper(settings, adapter, self.source_file, writer.run_id, product)
        self.now = self.mapper.now
        self.stats = IngestStats(files_processed=1)

    def quarantine(self, offset: int, reason: str, raw: str) -> None:
        qid = hashlib.sha256(f"{self.source_file}\x1f{offset}\x1f{reason}".encode()).hexdigest()[:32]
        row = {
            "quarantine_id": qid,
            "source_system": self.adapter.source_system,
            "source_file": self.source_file,
            "source_offset": offset,
            "reason": reason,
            "raw_payload": raw,
            "quarantined_at": self.now,
            "ingest_run_id": self.writer.run_id,
        }
        self.writer.add("quarantine", row)
        self.stats.rows_quarantined += 1
        kind = _reason_kind(reason)
        self.stats.quarantine_reasons[kind] = self.stats.quarantine_reasons.get(kind, 0) + 1

    def _land(self, payload: dict[str, Any], offset: int, raw: str) -> bool:
        """Write one parsed row (or change); False when bronze already has it."""
        if self.adapter.kind == "changes":
            from feedbackloop.ingest.changes import ChangeApplier

            change = self.adapter.to_change(payload, offset, self.source_file, raw)  # type: ignore[attr-defined]
            return ChangeApplier(self.mapper, self.writer).add(change)
        table, bronze_row = self.mapper.to_row(payload, offset, raw)
        return self.writer.add(table, bronze_row)

    def run(self) -> IngestStats:
        for row in self.adapter.read(self.path):  # type: ignore[arg-type]
            self.stats.rows_read += 1
            if row.error is not None or row.payload is None:
                self.quarantine(row.offset, row.error or "unreadable row", row.raw)
                continue
            try:
                written = self._land(row.payload, row.offset, row.raw)
            except RowError as exc:
                self.quarantine(row.offset, str(exc), row.raw)
                continue
            except ValidationError as exc:
                self.quarantine(row.offset, _validation_reason(exc), row.raw)
                continue
            if written:
                self.stats.rows_written += 1
            else:
                self.stats.rows_duplicate += 1
        self.stats.rows_truncated = self.mapper.rows_truncated
        if self.stats.rows_read == 0:
            self.stats.files_empty = 1
        return self.stats


def _product_folder(source_dir: Path, path: Path) -> str | None:
    """``inbox/<source>/<product>/file``: exports made per app (App Store Connect) name their product by folder."""
    parts = path.relative_to(source_dir).parts
    return parts[0] if len(parts) > 1 else None


def discover(settings: Settings) -> Iterator[tuple[str, Path, str | None]]:
    """Files under ``inbox/<source>/[<product>/]``, in name order, with their source and product folder."""
    inbox = Path(settings.inbox_dir)
    if not inbox.exists():
        return
    adapters = adapters_for(settings)
    for source_dir in sorted(p for p in inbox.iterdir() if p.is_dir()):
        adapter_factory = adapters.get(source_dir.name)
        if adapter_factory is None:
            raise ValueError(
                f"inbox folder {source_dir.name!r} matches no source; known: {sorted(adapters)}. "
                "Add a mapping under config/sources/ for a new source."
            )
        for path in sorted(p for p in source_dir.rglob("*") if p.is_file() and not p.name.startswith(".")):
            yield source_dir.name, path, _product_folder(source_dir, path)


PendingFile = tuple[str, Path, str | None, tuple[str, int, int]]  # (source folder, path, product, fingerprint)


def ingest_inbox(settings: Settings, run_id: str, progress: Progress | None = None) -> IngestStats:
    """Ingest every file not yet in the checkpoint; returns the counts for the run summary.

    Sources are independent (doc_id includes source_system), so large runs ingest each source's files
    in a worker process; small runs stay in-process where spawning would cost more.
    """
    lake = Lake(settings)
    done = checkpointed_files(lake)
    total = IngestStats()
    groups: dict[str, list[PendingFile]] = {}
    for source, path, product in discover(settings):
        stat = path.stat()
        fingerprint = (str(path), stat.st_size, stat.st_mtime_ns)
        if fingerprint in done:
            total.files_skipped += 1
        else:
            groups.setdefault(source, []).append((source, path, product, fingerprint))
    files = sum(len(g) for g in groups.values())
    size = sum(f[3][1] for g in groups.values() for f in g)
    workers = min(settings.ingest_workers, len(groups))
    if workers <= 1 or size < settings.ingest_parallel_min_bytes:
        for stats in (_ingest_group(settings, run_id, group) for group in groups.values()):
            total.add(stats)
            if progress:
                progress(total.files_processed, files)
        return total
    context = multiprocessing.get_context("spawn")  # fork under Prefect's threads can deadlock
    settings_data = settings.model_dump()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # Each worker takes the next source as soon as it is free: bytes say little about the work a
        # source costs (a ticket export parses far faster per byte than a CSV), so a split made up
        # front by bytes left one core idle for 18 s of a 1M-record ingest's 124 s.
        futures = [
            pool.submit(_ingest_group_in_worker, settings_data, run_id, group) for group in largest_first(groups)
        ]
        for future in as_completed(futures):
            total.add(future.result())
            if progress:
                progress(total.files_processed, files)
    return total


def largest_first(groups: dict[str, list[PendingFile]]) -> list[list[PendingFile]]:
    """Each source's files, the source with the most bytes first: the order workers take them in."""
    return sorted(groups.values(), key=lambda files: -sum(f[3][1] for f in files))


def _ingest_group_in_worker(settings_data: dict[str, Any], run_id: str, files: list[PendingFile]) -> IngestStats:
    return _ingest_group(Settings(**settings_data), run_id, files)


def _ingest_group(settings: Settings, run_id: str, files: list[PendingFile]) -> IngestStats:
    adapters = adapters_for(settings)
    factories = {source: adapters[source] for source, *_ in files}
    source_systems = {factory().source_system for factory in factories.values()}
    writer = BronzeWriter(Lake(settings), run_id, settings.ingest_batch_rows, source_systems)
    total = IngestStats()
    for source, path, product, fingerprint in files:
        adapter = factories[source]()
        stats = FileIngester(settings, writer, adapter, path, product).run()
        writer.file_done(checkpoint_row(adapter.source_system, fingerprint, stats, run_id))
        total.add(stats)
    writer.flush()
    return total


def checkpointed_files(lake: Lake) -> set[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every file already ingested: the Auto Loader-style checkpoint."""
    if not lake.exists("bronze", "ingest_checkpoint"):
        return set()
    table = lake.read("bronze", "ingest_checkpoint", columns=["source_file", "file_size", "file_mtime_ns"])
    return set(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


def checkpoint_row(
    source_system: str, fingerprint: tuple[str, int, int], stats: IngestStats, run_id: str
) -> dict[str, Any]:
    return {
        "source_file": fingerprint[0],
        "file_size": fingerprint[1],
        "file_mtime_ns": fingerprint[2],
        "source_system": source_system,
        "rows_read": stats.rows_read,
        "rows_written": stats.rows_written,
        "rows_duplicate": stats.rows_duplicate,
        "rows_quarantined": stats.rows_quarantined,
        "ingest_run_id": run_id,
        "processed_at": datetime.now(UTC),
    }


def summarize(stats: IngestStats) -> str:
    return json.dumps(stats.as_dict(), indent=2)
