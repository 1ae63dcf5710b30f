"""App telemetry as JSON Lines: one event per line, field names as in the TelemetryEvent contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from feedbackloop.ingest.base import RawRow, RowError, blank_to_none, parse_timestamp, read_jsonl_rows


class TelemetryAdapter:
    source_system = "telemetry"
    kind = "telemetry"

    def read(self, path: Path) -> Iterator[RawRow]:
        return read_jsonl_rows(path)

    def to_canonical(self, payload: dict[str, Any]) -> dict[str, Any]:
        event_id = blank_to_none(payload.get("event_id"))
        if event_id is None:
            raise RowError("missing event_id")
        value = payload.get("value")
        if value is not None and not isinstance(value, int | float):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise RowError(f"value is not a number: {str(value)[:20]!r}") from None
        return {
            "event_id": str(event_id),
            "event_at": parse_timestamp(payload.get("event_at"), "event_at"),
            "user_id": blank_to_none(payload.get("user_id")),
            "session_id": blank_to_none(payload.get("session_id")),
            "product": blank_to_none(payload.get("product")),
            "app_version": blank_to_none(payload.get("app_version")),
            "platform": blank_to_none(payload.get("platform")) or "unknown",
            "event_type": payload.get("event_type"),
            "value": value,
            "deploy_sha": blank_to_none(payload.get("deploy_sha")),
        }
