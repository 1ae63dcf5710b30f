"""Zendesk ticket exports: a JSON document ``{"tickets": [...], "users": [...]}`` or NDJSON, one ticket a line.

Comments are split by author role: the requester's public comments are customer text, agents' public
replies are agent text, and private comments (internal notes) are system notes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from feedbackloop.ingest.base import (
    RawRow,
    RowError,
    blank_to_none,
    dumps_payload,
    parse_timestamp,
    read_jsonl_rows,
)

# Custom field ids are per Zendesk instance; these are the demo instance's and can be overridden.
DEFAULT_CUSTOM_FIELDS = {
    "product": "900001",
    "product_area": "900002",
    "app_version": "900003",
    "platform": "900004",
    "session_id": "900005",
}
_VIA_TO_CHANNEL = {"chat": "chat", "native_messaging": "chat", "email": "email", "mail": "email"}
_AGENT_ROLES = {"agent", "admin"}


def _parse(text: str) -> tuple[Any, Callable[[Any], str]]:
    """The export, and how to write a ticket of it back as its raw payload.

    orjson reads and writes several times faster than the standard library. A document only the
    standard library reads (NaN, say) is written back by it too, so its raw payloads keep what orjson
    would change; a document neither reads raises ``json.JSONDecodeError``.
    """
    try:
        return orjson.loads(text), dumps_payload
    except orjson.JSONDecodeError:
        return json.loads(text), _dumps_standard


def _dumps_standard(ticket: Any) -> str:
    return json.dumps(ticket, ensure_ascii=False)


def _salvage_tickets(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """Decode tickets one by one so a truncated export still yields every complete ticket."""
    decoder = json.JSONDecoder()
    start = text.find('"tickets"')
    if start < 0:
        return [], "no tickets array in document"
    pos = text.find("[", start) + 1
    tickets: list[dict[str, Any]] = []
    while pos > 0:
        while pos < len(text) and text[pos] in " \r\n\t,":
            pos += 1
        if pos >= len(text):
            return tickets, "document ends inside the tickets array (truncated JSON)"
        if text[pos] == "]":
            return tickets, None
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return tickets, f"truncated or invalid JSON after ticket {len(tickets)}: {exc.msg}"
        if isinstance(obj, dict):
            tickets.append(obj)
    return tickets, "no tickets array in document"


class ZendeskAdapter:
    source_system = "zendesk"
    kind = "feedback"

    def __init__(self, custom_fields: dict[str, str] | None = None) -> None:
        self.custom_fields = custom_fields or DEFAULT_CUSTOM_FIELDS
        self._roles: dict[str, str] = {}
        self._locales: dict[str, str] = {}

    def read(self, path: Path) -> Iterator[RawRow]:
        if path.suffix in {".jsonl", ".ndjson"}:
            yield from read_jsonl_rows(path)
            return
        raw_bytes = path.read_bytes()
        try:
            text = raw_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield RawRow(0, None, raw_bytes.decode("utf-8", "backslashreplace"), f"invalid UTF-8 at byte {exc.start}")
            return
        if not text.strip():
            return
        try:
            doc, dump = _parse(text)
            tickets, problem = doc.get("tickets", []) if isinstance(doc, dict) else [], None
            if not isinstance(doc, dict) or "tickets" not in doc:
                problem = "expected a JSON object with a tickets array"
            self._learn_users(doc.get("users", []) if isinstance(doc, dict) else [])
        except json.JSONDecodeError:
            (tickets, problem), dump = _salvage_tickets(text), _dumps_standard
        for index, ticket in enumerate(tickets, start=1):
            yield RawRow(index, ticket, dump(ticket))
        if problem:
            # Keep the unreadable remainder verbatim so nothing in the export is lost.
            yield RawRow(len(tickets) + 1, None, text, problem)

    def _learn_users(self, users: list[dict[str, Any]]) -> None:
        for user in users:
            if isinstance(user, dict) and "id" in user:
                self._roles[str(user["id"])] = str(user.get("role", "end-user"))
                if user.get("locale"):
                    self._locales[str(user["id"])] = str(user["locale"])

    def _custom(self, ticket: dict[str, Any], name: str) -> Any:
        field_id = self.custom_fields.get(name)
        for field in ticket.get("custom_fields") or []:
            if isinstance(field, dict) and str(field.get("id")) == field_id:
                return blank_to_none(field.get("value"))
        return None

    def to_canonical(self, payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("id") in (None, ""):
            raise RowError("ticket has no id")
        requester = str(payload.get("requester_id") or "")
        customer, agent, notes = [], [], []
        comments = sorted(payload.get("comments") or [], key=lambda c: str(c.get("created_at", "")))
        for comment in comments:
            body = blank_to_none(comment.get("plain_body") or comment.get("body"))
            if not body:
                continue
            author = str(comment.get("author_id") or "")
            role = comment.get("author_role") or self._roles.get(author)
            if not comment.get("public", True):
                notes.append(body)
            elif role in _AGENT_ROLES or (role is None and author and author != requester):
                agent.append(body)
            else:
                customer.append(body)
        subject = blank_to_none(payload.get("subject"))
        if not customer:
            description = blank_to_none(payload.get("description"))
            customer = [description] if description else []
        if subject and customer and not customer[0].startswith(subject):
            customer.insert(0, subject)
        via = (payload.get("via") or {}).get("channel") if isinstance(payload.get("via"), dict) else None
        return {
            "source_record_id": str(payload["id"]),
            "event_at": parse_timestamp(payload.get("created_at"), "created_at"),
            "account_id": _str_or_none(payload.get("organization_id")),
            "user_id": requester or None,
            "session_id": self._custom(payload, "session_id"),
            "product": self._custom(payload, "product"),
            "product_area": self._custom(payload, "product_area"),
            "app_version": self._custom(payload, "app_version"),
            "platform": self._custom(payload, "platform") or "unknown",
            "locale": self._locales.get(requester),
            "channel": _VIA_TO_CHANNEL.get(str(via), "support_ticket"),
            "customer_text": "\n\n".join(customer),
            "agent_text": "\n\n".join(agent) or None,
            "system_notes": "\n\n".join(notes) or None,
            "resolution_status": blank_to_none(payload.get("status")),
        }


def _str_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
