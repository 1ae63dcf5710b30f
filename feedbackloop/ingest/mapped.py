"""Any CSV or JSON Lines export, mapped onto the contract by a small YAML file (see config/sources/)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from feedbackloop.ingest.app_store import parse_rating
from feedbackloop.ingest.base import (
    RawRow,
    RowError,
    blank_to_none,
    parse_timestamp,
    read_csv_rows,
    read_jsonl_rows,
)

MAPPABLE_FIELDS = {
    "source_record_id", "event_at", "account_id", "user_id", "session_id", "product", "product_area",
    "app_version", "platform", "device", "locale", "country", "channel", "rating", "customer_text",
    "agent_text", "system_notes", "resolution_status",
}  # fmt: skip


class SourceMapping(BaseModel):
    """How one export's columns become canonical fields."""

    model_config = ConfigDict(extra="forbid")

    source_system: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    # debezium: JSON Lines of Debezium change events whose before/after rows have these columns; the
    # same mapping serves PostgreSQL capture of that table (settings.cdc_tables).
    format: Literal["csv", "jsonl", "debezium"]
    columns: dict[str, str | list[str]]
    constants: dict[str, str] = Field(default_factory=dict)
    value_maps: dict[str, dict[str, str]] = Field(default_factory=dict)
    event_at_format: str | None = None
    # Some public datasets have no usable event time; falling back to ingestion time keeps the row.
    event_at_fallback: Literal["quarantine", "ingested_at"] = "quarantine"
    text_joiner: str = ". "

    def model_post_init(self, __context: Any) -> None:
        unknown = (set(self.columns) | set(self.constants) | set(self.value_maps)) - MAPPABLE_FIELDS
        if unknown:
            raise ValueError(f"unknown canonical fields {sorted(unknown)}; allowed: {sorted(MAPPABLE_FIELDS)}")
        for needed in ("source_record_id", "customer_text"):
            if needed not in self.columns:
                raise ValueError(f"columns must map {needed}")

    @property
    def required_columns(self) -> set[str]:
        cols: set[str] = set()
        for value in self.columns.values():
            cols.update([value] if isinstance(value, str) else value)
        return cols


def load_mapping(path: Path) -> SourceMapping:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return SourceMapping.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path}: invalid source mapping: {exc}") from exc


class MappedAdapter:
    kind = "feedback"

    def __init__(self, mapping: SourceMapping) -> None:
        self.mapping = mapping
        self.source_system = mapping.source_system

    def read(self, path: Path) -> Iterator[RawRow]:
        if self.mapping.format == "csv":
            return read_csv_rows(path, self.mapping.required_columns)
        return read_jsonl_rows(path)

    def _get(self, payload: dict[str, Any], spec: str | list[str]) -> Any:
        if isinstance(spec, str):
            return blank_to_none(payload.get(spec))
        parts = [str(p).strip() for p in (blank_to_none(payload.get(c)) for c in spec) if p is not None]
        return self.mapping.text_joiner.join(p for p in parts if p) or None

    def _event_at(self, raw: Any) -> datetime | None:
        fmt = self.mapping.event_at_format
        try:
            if fmt and raw is not None:
                try:
                    return parse_timestamp(datetime.strptime(str(raw).strip(), fmt).isoformat(), "event_at")
                except ValueError:
                    raise RowError(f"event_at {str(raw)[:40]!r} does not match format {fmt!r}") from None
            return parse_timestamp(raw, "event_at")
        except RowError:
            if self.mapping.event_at_fallback == "ingested_at":
                return None  # the ingest runner fills in ingestion time and flags the row
            raise

    def to_canonical(self, payload: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.mapping.constants)
        for field, spec in self.mapping.columns.items():
            value = self._get(payload, spec)
            if value is not None or field not in out:
                out[field] = value
        for field, table in self.mapping.value_maps.items():
            if out.get(field) is not None:
                out[field] = table.get(str(out[field]), out[field])
        out["event_at"] = self._event_at(out.get("event_at"))
        if "rating" in out:
            out["rating"] = parse_rating(out["rating"])
        record_id = self.mapping.columns["source_record_id"]
        if isinstance(record_id, list):
            # Composite ids (e.g. dataset + review id) must not be joined like prose.
            parts = [blank_to_none(payload.get(c)) for c in record_id]
            out["source_record_id"] = ":".join(str(p) for p in parts) if all(parts) else None
        elif out.get("source_record_id") is not None:
            out["source_record_id"] = str(out["source_record_id"])
        return out
