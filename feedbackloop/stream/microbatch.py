"""Micro-batches from the landing zone into bronze, exactly once.

Each run takes every landed file not yet in ``bronze.ingest_checkpoint`` (the same checkpoint batch
files use), lands its records through the source's adapter, and sorts each bronze append by event
time, so late and out-of-order deliveries come out in the order things happened. Bronze is committed
before the checkpoint; a run killed in between re-reads those files next time and the writer's key
check (doc_id, event_id, change_id) turns the re-read into duplicates that are counted, not written.
Which version of a record is current is decided by the change log's event time, not by arrival.
"""

from __future__ import annotations

import fcntl
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from feedbackloop.ingest.base import RawRow, RowError, SourceAdapter, parse_timestamp
from feedbackloop.ingest.changes import ChangeEvent, ChangeOp
from feedbackloop.ingest.runner import BronzeWriter, FileIngester, IngestStats, checkpoint_row, checkpointed_files
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.stream.landing import LandingZone, landing_zone
from feedbackloop.stream.webhooks import webhook_sources

log = logging.getLogger("feedbackloop.stream")
EVENT_TIME = {"feedback": "event_at", "telemetry_events": "event_at", "feedback_changes": "changed_at"}


def _arrival_order(column: str) -> Callable[[dict[str, Any]], tuple[Any, str, int]]:
    """Sort key: event time, then where the row was landed (file, offset)."""
    return lambda row: (row[column], row.get("source_file", ""), row["source_offset"])


@dataclass
class StreamStats(IngestStats):
    rows_out_of_order: int = 0
    files_unknown_source: int = 0


class EventTimeWriter(BronzeWriter):
    """A bronze writer that appends each batch in event-time order and counts late arrivals."""

    def __init__(self, lake: Lake, run_id: str, batch_rows: int) -> None:
        super().__init__(lake, run_id, batch_rows)
        self.latest: dict[str, datetime] = {}
        self.out_of_order = 0

    def add(self, table: str, row: dict[str, Any]) -> bool:
        column = EVENT_TIME.get(table)
        if column is not None and row.get(column) is not None:
            latest = self.latest.get(table)
            if latest is not None and row[column] < latest:
                self.out_of_order += 1
            else:
                self.latest[table] = row[column]
        return super().add(table, row)

    def flush(self) -> None:
        for name, column in EVENT_TIME.items():
            self._buffers[name].sort(key=_arrival_order(column))
        super().flush()


class LandedAdapter:
    """Reads landing-zone envelopes and hands each record to the source's own adapter."""

    def __init__(self, inner: SourceAdapter, zone: LandingZone, changes: bool) -> None:
        self.inner = inner
        self.zone = zone
        self.source_system = inner.source_system
        self.kind = "changes" if changes else inner.kind

    def read(self, path: str) -> Iterator[RawRow]:
        for line_no, line in enumerate(self.zone.read_bytes(path).splitlines(), start=1):
            text = line.decode("utf-8", "backslashreplace")
            try:
                envelope = json.loads(text)
            except json.JSONDecodeError as exc:
                yield RawRow(line_no, None, text, f"invalid JSON in landed file: {exc.msg}")
                continue
            if not isinstance(envelope, dict) or not isinstance(envelope.get("record"), dict):
                yield RawRow(line_no, None, text, "landed line has no record object")
                continue
            # Changes need the envelope (op, key, event time); plain rows are just the source's record.
            payload = envelope if self.kind == "changes" else envelope["record"]
            yield RawRow(line_no, payload, json.dumps(envelope["record"], ensure_ascii=False))

    def to_canonical(self, record: dict[str, Any]) -> dict[str, Any]:
        return self.inner.to_canonical(record)

    def to_change(self, envelope: dict[str, Any], offset: int, source_file: str, raw: str) -> ChangeEvent:
        try:
            op = ChangeOp(str(envelope.get("op")))
        except ValueError:
            raise RowError(f"landed change has unknown op {envelope.get('op')!r}") from None
        record_id = envelope.get("record_id")
        if not record_id:
            raise RowError("landed change has no record_id")
        return ChangeEvent(
            source_system=self.source_system,
            source_record_id=str(record_id),
            op=op,
            changed_at=parse_timestamp(envelope.get("changed_at"), "changed_at"),
            row=None if op is ChangeOp.delete else envelope["record"],
            source_file=source_file,
            source_offset=offset,
            position=f"delivery:{envelope.get('delivery_id')}:{envelope.get('index', 0)}",
            raw=raw,
        )


@contextmanager
def _single_run(settings: Settings) -> Iterator[None]:
    """One micro-batch at a time per local lake: two at once would both miss each other's keys."""
    if not settings.is_local_lake:
        yield  # the deployment's concurrency_limit: 1 serialises runs in production
        return
    lock_path = Path(settings.lake_root) / "_locks" / "stream.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ingest_landed(settings: Settings, run_id: str) -> StreamStats:
    """Land every new landing-zone file in bronze; returns the counts for the run summary."""
    with _single_run(settings):
        return _ingest_landed(settings, run_id)


def _ingest_landed(settings: Settings, run_id: str) -> StreamStats:
    lake = Lake(settings)
    zone = landing_zone(settings)
    sources = webhook_sources(settings)
    done = checkpointed_files(lake)
    total = StreamStats()
    pending = []
    for landed in zone.list_files():
        if landed.fingerprint in done:
            total.files_skipped += 1
        elif landed.source_system not in sources:
            # Left in place, unchecked: ingested once the source is configured again.
            total.files_unknown_source += 1
            log.warning("landed file %s belongs to no configured source; left for a later run", landed.path)
        else:
            pending.append(landed)
    pending = pending[: settings.stream_max_files]
    writer = EventTimeWriter(lake, run_id, settings.ingest_batch_rows)
    for landed in pending:
        spec = sources[landed.source_system]
        adapter = LandedAdapter(spec.adapter, zone, spec.changes)
        stats = FileIngester(settings, writer, adapter, landed.path).run()  # type: ignore[arg-type]
        total.add(stats)
        writer.file_done(checkpoint_row(landed.source_system, landed.fingerprint, stats, run_id))
    writer.flush()  # bronze rows first, then the checkpoint rows that vouch for them
    total.rows_out_of_order = writer.out_of_order
    return total
