"""Intercom conversations (API 2.x objects), one per JSON line, from exports or webhook notifications.

The opening message and the contact's replies are customer text; admin and bot replies are agent
text; internal notes are system notes. HTML stays in the text: silver cleans it like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from feedbackloop.ingest.base import (
    RawRow,
    RowError,
    blank_to_none,
    mapping_or_empty,
    parse_timestamp,
    read_jsonl_rows,
)

_STATES = {"open": "open", "closed": "closed", "snoozed": "pending"}
_USER_AUTHORS = {"user", "lead", "contact"}


def _parts(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    parts = conversation.get("conversation_parts") or {}
    items = parts.get("conversation_parts") if isinstance(parts, dict) else parts
    return [p for p in items or [] if isinstance(p, dict)]


class IntercomAdapter:
    source_system = "intercom"
    kind = "feedback"

    def read(self, path: Path) -> Iterator[RawRow]:
        return read_jsonl_rows(path)

    def to_canonical(self, payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("id") in (None, ""):
            raise RowError("conversation has no id")
        source = mapping_or_empty(payload.get("source"))
        author = mapping_or_empty(source.get("author"))
        customer = [t for t in (blank_to_none(source.get("subject")), blank_to_none(source.get("body"))) if t]
        agent, notes = [], []
        for part in sorted(_parts(payload), key=lambda p: p.get("created_at") or 0):
            body = blank_to_none(part.get("body"))
            if not body:
                continue
            if part.get("part_type") == "note":
                notes.append(body)
            elif (part.get("author") or {}).get("type") in _USER_AUTHORS:
                customer.append(body)
            else:
                agent.append(body)
        contacts = mapping_or_empty(payload.get("contacts")).get("contacts") or []
        user_id = author.get("id") if author.get("type") in _USER_AUTHORS else None
        if user_id is None and contacts:
            user_id = contacts[0].get("id")
        return {
            "source_record_id": str(payload["id"]),
            "event_at": parse_timestamp(payload.get("created_at"), "created_at"),
            "user_id": None if user_id in (None, "") else str(user_id),
            "channel": "email" if source.get("delivered_as") == "customer_initiated_email" else "chat",
            "customer_text": "\n\n".join(customer),
            "agent_text": "\n\n".join(agent) or None,
            "system_notes": "\n\n".join(notes) or None,
            "resolution_status": _STATES.get(str(payload.get("state"))),
        }
