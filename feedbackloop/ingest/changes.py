"""Change events: a source record inserted, updated or deleted at a known time and log position.

PostgreSQL logical replication, Debezium files and support-tool webhooks all become ``ChangeEvent``s.
Each lands as one ``bronze.feedback_changes`` row (op, LSN, commit time) and, unless it is a delete,
as the record's content in ``bronze.feedback`` through the same ``RowMapper`` batch files use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from feedbackloop.contracts import SEP, sha256_hex
from feedbackloop.ingest.base import RowError

if TYPE_CHECKING:
    from feedbackloop.ingest.runner import BronzeWriter, RowMapper


class ChangeOp(StrEnum):
    insert = "insert"
    update = "update"
    delete = "delete"
    # A row read from a consistent snapshot (first capture, or re-sync after a lost slot).
    snapshot = "snapshot"


@dataclass(slots=True)
class ChangeEvent:
    """One change to one source record. ``row`` is the record after the change, in the source's layout."""

    source_system: str
    source_record_id: str
    op: ChangeOp
    changed_at: datetime
    row: dict[str, Any] | None
    source_file: str
    source_offset: int
    # What identifies this change at its source (LSN and position, an event id), so a change that is
    # captured twice (a restart before the slot advanced, a webhook retried) has one change_id.
    position: str
    lsn: int | None = None
    commit_lsn: int | None = None
    txn_id: int | None = None
    raw: str = ""

    @property
    def change_id(self) -> str:
        return sha256_hex(SEP.join((self.source_system, self.source_record_id, self.position)))[:32]

    def raw_payload(self) -> str:
        if self.raw:
            return self.raw
        return json.dumps(
            {"op": self.op.value, "key": self.source_record_id, "row": self.row}, ensure_ascii=False, default=str
        )


def format_lsn(lsn: int | None) -> str:
    """PostgreSQL's own spelling of a WAL position, e.g. ``0/16B3748``."""
    return "" if lsn is None else f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


class ChangeApplier:
    """Lands change events in bronze; the record's content goes through the shared ``RowMapper``."""

    def __init__(self, mapper: RowMapper, writer: BronzeWriter) -> None:
        self.mapper = mapper
        self.writer = writer
        self.versions_written = 0

    def add(self, change: ChangeEvent) -> bool:
        """Queue the change (and its record version); False when bronze already has this change.

        Raises RowError / ValidationError when the row cannot become a canonical record, so the caller
        quarantines it with the reason.
        """
        doc_id = status = None
        raw = change.raw_payload()
        if change.op is not ChangeOp.delete:
            if change.row is None:
                raise ValueError(f"{change.op.value} change of {change.source_record_id} carries no row")
            _, row = self.mapper.to_row(change.row, change.source_offset, raw)
            if row["source_record_id"] != change.source_record_id:
                raise RowError(
                    f"row maps to source_record_id {row['source_record_id']!r}, "
                    f"change key is {change.source_record_id!r}"
                )
            if self.writer.add("feedback", row):
                self.versions_written += 1
            doc_id, status = row["doc_id"], row["resolution_status"]
        return self.writer.add(
            "feedback_changes",
            {
                "change_id": change.change_id,
                "source_system": change.source_system,
                "source_record_id": change.source_record_id,
                "op": change.op.value,
                "changed_at": change.changed_at,
                "lsn": change.lsn,
                "commit_lsn": change.commit_lsn,
                "txn_id": change.txn_id,
                "doc_id": doc_id,
                "resolution_status": None if status is None else str(status),
                "raw_payload": raw,
                "source_file": change.source_file,
                "source_offset": change.source_offset,
                "ingested_at": self.mapper.now,
                "ingest_run_id": self.writer.run_id,
            },
        )
