"""Debezium change events from files (JSON Lines, with or without the ``schema`` wrapper).

For teams that already run Debezium: its sink files go to ``inbox/<source>/`` and the source's mapping
(``format: debezium``) says which columns of ``before``/``after`` become canonical fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from feedbackloop.ingest.base import RawRow, RowError, mapping_or_empty, read_jsonl_rows
from feedbackloop.ingest.changes import ChangeEvent, ChangeOp
from feedbackloop.ingest.mapped import MappedAdapter

OPS = {"c": ChangeOp.insert, "u": ChangeOp.update, "d": ChangeOp.delete, "r": ChangeOp.snapshot}
# Debezium's logical types for temporal columns, as integers since the epoch in these units.
_EPOCH_UNITS = {
    "io.debezium.time.Timestamp": 1e3,
    "org.apache.kafka.connect.data.Timestamp": 1e3,
    "io.debezium.time.MicroTimestamp": 1e6,
    "io.debezium.time.NanoTimestamp": 1e9,
}
_DATES = {"io.debezium.time.Date", "org.apache.kafka.connect.data.Date"}
# Source fields that locate a change in its database's log, by connector.
_POSITION_FIELDS = ("lsn", "txId", "sequence", "file", "pos", "row", "gtid", "change_lsn", "commit_lsn",
                    "event_serial_no", "ord")  # fmt: skip


def _row_types(schema: dict[str, Any] | None, side: str) -> dict[str, str]:
    for field in (schema or {}).get("fields", []):
        if field.get("field") == side:
            return {f["field"]: f.get("name", "") for f in field.get("fields", []) if "field" in f}
    return {}


def _convert(row: dict[str, Any] | None, types: dict[str, str]) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    for column, logical in types.items():
        value = out.get(column)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if logical in _EPOCH_UNITS:
            out[column] = datetime.fromtimestamp(value / _EPOCH_UNITS[logical], tz=UTC).isoformat()
        elif logical in _DATES:
            out[column] = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=int(value))).isoformat()
    return out


class DebeziumAdapter(MappedAdapter):
    """Debezium envelopes -> change events; rows map onto the contract through the source's mapping."""

    kind = "changes"

    def read(self, path: Path) -> Iterator[RawRow]:
        for row in read_jsonl_rows(path):
            if row.raw.strip() == "null":
                continue  # a Kafka tombstone after a delete: it only tells compaction to drop the key
            yield row

    def to_change(self, envelope: dict[str, Any], offset: int, source_file: str, raw: str) -> ChangeEvent:
        schema = envelope.get("schema") if isinstance(envelope.get("schema"), dict) else None
        payload = envelope.get("payload", envelope) if "payload" in envelope else envelope
        if not isinstance(payload, dict) or "op" not in payload:
            raise RowError("not a Debezium change event: no op field")
        code = payload["op"]
        if code not in OPS:
            raise RowError(f"Debezium op {code!r} is not applied (only c, u, d, r)")
        op = OPS[code]
        before = _convert(payload.get("before"), _row_types(schema, "before"))
        after = _convert(payload.get("after"), _row_types(schema, "after"))
        image = before if op is ChangeOp.delete else after
        if not isinstance(image, dict):
            raise RowError(f"Debezium {code!r} event has no {'before' if op is ChangeOp.delete else 'after'} row")
        key_column = self.mapping.columns["source_record_id"]
        if not isinstance(key_column, str):
            raise RowError("Debezium sources need a single-column source_record_id")
        key = image.get(key_column)
        if key in (None, ""):
            raise RowError(f"Debezium event has no {key_column!r} key")
        source = mapping_or_empty(payload.get("source"))
        ts_ms = source.get("ts_ms", payload.get("ts_ms"))
        if not isinstance(ts_ms, int | float):
            raise RowError("Debezium event has no source.ts_ms commit time")
        located = {name: source[name] for name in _POSITION_FIELDS if source.get(name) is not None}
        lsn = source.get("lsn")
        return ChangeEvent(
            source_system=self.source_system,
            source_record_id=str(key),
            op=op,
            changed_at=datetime.fromtimestamp(ts_ms / 1000, tz=UTC),
            row=None if op is ChangeOp.delete else image,
            source_file=source_file,
            source_offset=offset,
            position=json.dumps({"op": code, "ts_ms": ts_ms, **located}, sort_keys=True, default=str),
            lsn=int(lsn) if isinstance(lsn, int) else None,
            txn_id=int(source["txId"]) if isinstance(source.get("txId"), int) else None,
            raw=raw,
        )
