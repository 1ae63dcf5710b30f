"""Generic signed webhook (Standard Webhooks: HMAC-SHA256 over ``id.timestamp.body``).

Each delivery is a JSON POST with these headers (docs/actions.md shows the receiver's check)::

    webhook-id:        <action_id>.<fingerprint>.<create|update>   (same on every retry: dedupe on it)
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64(HMAC-SHA256(secret, f"{webhook-id}.{webhook-timestamp}.{body}"))>

A ``file://`` URL appends each delivery (headers and body) to a local JSON-lines file instead: a
receiver for the embedded world that needs no server.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from feedbackloop.act.http import AttemptLog, DeliveryError, PermanentError, RetryPolicy, SinkHttp
from feedbackloop.act.sinks.base import Ref, Ticket
from feedbackloop.stream.signatures import StandardWebhooksScheme

SCHEME = StandardWebhooksScheme()


def webhook_body(ticket: Ticket, event: str) -> bytes:
    body = {
        "type": f"action.{event}",
        "action_id": ticket.action_id,
        "idempotency_key": ticket.idempotency_key,
        "kind": ticket.kind,
        "title": ticket.title,
        "severity": ticket.severity,
        "owner": {"team": ticket.owner_team, "person": ticket.owner_person, "queue": ticket.owner_queue},
        "text": "\n".join(ticket.lines if event == "created" else ticket.update_lines),
        "payload": ticket.payload,
        "fingerprint": ticket.fingerprint,
        "sent_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(body, sort_keys=True, default=str).encode()


def signed_headers(ticket: Ticket, body: bytes, secret: bytes, operation: str) -> dict[str, str]:
    delivery_id = f"{ticket.action_id}.{ticket.fingerprint[:16]}.{operation}"
    headers = {"Content-Type": "application/json", "User-Agent": "feedbackloop-act"}
    if secret:
        headers.update(SCHEME.sign(body, secret, time.time(), delivery_id))
    else:
        headers["webhook-id"] = delivery_id
    return headers


class WebhookSink:
    kind = "webhook"

    def __init__(self, url: str, secret: str, log: AttemptLog, policy: RetryPolicy, timeout: float):
        self.url, self.secret, self.log = url, secret.encode(), log
        self.http = SinkHttp("webhook", log, policy, timeout)
        self._file_lock = threading.Lock()

    def find(self, ticket: Ticket) -> Ref | None:
        return None  # the receiver dedupes on webhook-id

    def _send(self, ticket: Ticket, operation: str) -> Ref:
        event = "created" if operation == "create" else "updated"
        body = webhook_body(ticket, event)
        headers = signed_headers(ticket, body, self.secret, operation)
        if self.url.startswith("file://"):
            return self._append(ticket, operation, headers, body)
        response = self.http.request(
            "POST", self.url, content=body, headers=headers, action_id=ticket.action_id, operation=operation
        )
        reply = _json_or_empty(response.text)
        return Ref(str(reply.get("id") or ticket.idempotency_key), reply.get("url"))

    def _append(self, ticket: Ticket, operation: str, headers: dict[str, str], body: bytes) -> Ref:
        path = Path(unquote(urlparse(self.url).path))
        started = time.perf_counter()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps({"headers": headers, "body": body.decode()}) + "\n"
            with self._file_lock, path.open("a", encoding="utf-8") as out:
                out.write(line)
        except OSError as error:
            self._record(ticket, operation, "permanent", str(error), started)
            raise PermanentError(f"cannot append to {path}: {error}") from error
        self._record(ticket, operation, "ok", None, started)
        return Ref(ticket.idempotency_key, path.as_uri())

    def _record(self, ticket: Ticket, operation: str, outcome: str, error: str | None, started: float) -> None:
        self.log.add(
            action_id=ticket.action_id, sink=self.kind, operation=operation, try_number=1, http_status=None,
            outcome=outcome, error=error, duration_ms=int((time.perf_counter() - started) * 1000),
            attempted_at=datetime.now(UTC),
        )  # fmt: skip

    def create(self, ticket: Ticket) -> Ref:
        return self._send(ticket, "create")

    def update(self, ticket: Ticket, ref: Ref) -> Ref:
        self._send(ticket, "update")
        return ref

    def close(self) -> None:
        self.http.close()


def _json_or_empty(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


__all__ = ["DeliveryError", "WebhookSink", "signed_headers", "webhook_body"]
