"""What each source's webhook looks like: its signature scheme, its payload schema, and the records
it carries. Payloads are validated at the door against the same canonical contract bronze enforces,
so a bad one gets a 4xx naming the record and the reason instead of landing.

* ``zendesk``: Zendesk event webhooks (``zen:event-type:ticket.*``), one ticket per notification.
* ``intercom``: Intercom notifications on ``conversation.*`` topics, one conversation each.
* ``telemetry`` and every mapped source in ``config/sources``: one record object or an array of them.

Ticket and conversation events are changes (created, updated, deleted) ordered by the source's own
update time; records of the other sources are plain rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from feedbackloop.ingest.base import RowError, SourceAdapter
from feedbackloop.ingest.changes import ChangeOp
from feedbackloop.ingest.runner import RowMapper
from feedbackloop.ingest.sources import adapters_for
from feedbackloop.settings import Settings
from feedbackloop.stream.signatures import IntercomScheme, SignatureScheme, StandardWebhooksScheme, ZendeskScheme

MAX_RECORDS_PER_REQUEST = 1000


class PayloadError(ValueError):
    """The body is JSON but not a valid payload for its source; the message is the 4xx reason."""


@dataclass(frozen=True, slots=True)
class LandedRecord:
    """One record of a delivery as it is written to the landing zone."""

    record: dict[str, Any]
    op: ChangeOp | None = None
    record_id: str | None = None
    changed_at: str | None = None

    def envelope(self, source_system: str, delivery_id: str, index: int, received_at: datetime) -> bytes:
        line = {
            "source_system": source_system,
            "delivery_id": delivery_id,
            "index": index,
            "received_at": received_at.isoformat(),
            "op": None if self.op is None else self.op.value,
            "record_id": self.record_id,
            "changed_at": self.changed_at,
            "record": self.record,
        }
        return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class ZendeskTicketDetail(_Lenient):
    id: str | int
    created_at: str
    updated_at: str | None = None
    status: str | None = None


class ZendeskEvent(_Lenient):
    type: str = Field(pattern=r"^zen:event-type:ticket\.[a-z_]+$")
    id: str = Field(min_length=1)
    time: str
    detail: ZendeskTicketDetail


class IntercomItem(_Lenient):
    id: str | int
    created_at: int | float
    updated_at: int | float | None = None


class IntercomData(_Lenient):
    item: IntercomItem


class IntercomNotification(_Lenient):
    type: Literal["notification_event"]
    id: str = Field(min_length=1)
    topic: str = Field(pattern=r"^conversation\.[a-z_.]+$")
    created_at: int | float
    data: IntercomData


def _reason(exc: ValidationError, what: str) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or what
        parts.append(f"{loc}: {err['msg']}")
    return f"invalid {what}: " + "; ".join(parts)


class WebhookSource:
    """A source that accepts webhooks; ``records`` validates a parsed body and returns what lands."""

    scheme: SignatureScheme = StandardWebhooksScheme()
    changes = False

    def __init__(self, settings: Settings, adapter: SourceAdapter) -> None:
        self.adapter = adapter
        self.source_system = adapter.source_system
        self.mapper = RowMapper(settings, adapter, "webhook", "receiver")

    def delivery_id(self, headers: dict[str, str], payload: Any) -> str:
        return headers.get("webhook-id") or ""

    def _check_record(self, record: Any, label: str) -> None:
        if not isinstance(record, dict):
            raise PayloadError(f"{label}: expected a JSON object, got {type(record).__name__}")
        try:
            self.mapper.to_row(record, 0, "")
        except RowError as exc:
            raise PayloadError(f"{label}: {exc}") from None
        except ValidationError as exc:
            raise PayloadError(f"{label}: {_reason(exc, 'record')}") from None

    def records(self, payload: Any) -> list[LandedRecord]:
        items = payload if isinstance(payload, list) else [payload]
        if not items:
            raise PayloadError("empty array: nothing to ingest")
        if len(items) > MAX_RECORDS_PER_REQUEST:
            raise PayloadError(f"{len(items)} records in one request; at most {MAX_RECORDS_PER_REQUEST}")
        for index, item in enumerate(items):
            self._check_record(item, f"record {index}")
        return [LandedRecord(record=item) for item in items]


class ZendeskWebhookSource(WebhookSource):
    scheme = ZendeskScheme()
    changes = True

    def delivery_id(self, headers: dict[str, str], payload: Any) -> str:
        return str(payload.get("id", "")) if isinstance(payload, dict) else ""

    def records(self, payload: Any) -> list[LandedRecord]:
        try:
            event = ZendeskEvent.model_validate(payload)
        except ValidationError as exc:
            raise PayloadError(_reason(exc, "Zendesk event")) from None
        ticket = event.detail.model_dump()
        # Event webhooks spell status in capitals ("OPEN"); the REST layout the adapter reads does not.
        if isinstance(ticket.get("status"), str):
            ticket["status"] = ticket["status"].lower()
        kind = event.type.removeprefix("zen:event-type:ticket.")
        op = ChangeOp.insert if kind == "created" else ChangeOp.delete if "deleted" in kind else ChangeOp.update
        if op is not ChangeOp.delete:
            self._check_record(ticket, f"ticket {ticket['id']}")
        changed_at = event.detail.updated_at or event.time
        return [LandedRecord(ticket, op, str(ticket["id"]), changed_at)]


class IntercomWebhookSource(WebhookSource):
    scheme = IntercomScheme()
    changes = True

    def delivery_id(self, headers: dict[str, str], payload: Any) -> str:
        return str(payload.get("id", "")) if isinstance(payload, dict) else ""

    def records(self, payload: Any) -> list[LandedRecord]:
        try:
            note = IntercomNotification.model_validate(payload)
        except ValidationError as exc:
            raise PayloadError(_reason(exc, "Intercom notification")) from None
        item = note.data.item.model_dump()
        topic = note.topic
        op = ChangeOp.delete if topic == "conversation.deleted" else (
            ChangeOp.insert if topic.endswith(".created") else ChangeOp.update)  # fmt: skip
        if op is not ChangeOp.delete:
            self._check_record(item, f"conversation {item['id']}")
        changed_at = datetime.fromtimestamp(note.data.item.updated_at or note.created_at, tz=UTC).isoformat()
        return [LandedRecord(item, op, str(item["id"]), changed_at)]


# Batch-only export formats: their rows come as files, not webhooks.
FILE_ONLY = {"app_store", "google_play"}
_SPECIAL = {"zendesk": ZendeskWebhookSource, "intercom": IntercomWebhookSource}


def webhook_sources(settings: Settings) -> dict[str, WebhookSource]:
    """Every source that accepts webhooks, by the name in its URL path."""
    sources: dict[str, WebhookSource] = {}
    for name, factory in adapters_for(settings).items():
        adapter = factory()
        if name in FILE_ONLY or getattr(adapter, "kind", "") == "changes":
            continue  # Debezium sources arrive through change capture or files
        sources[name] = _SPECIAL.get(name, WebhookSource)(settings, adapter)
    return sources
