"""HMAC signature schemes of the webhook senders, each checking a signed timestamp against replays.

* Zendesk: ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(secret, timestamp + body)) with the
  timestamp in ``X-Zendesk-Webhook-Signature-Timestamp``.
* Intercom: ``X-Hub-Signature`` = ``sha1=`` hex(HMAC-SHA1(secret, body)); the signed body carries the
  notification's ``created_at``, which is the timestamp checked.
* Standard Webhooks (generic events, telemetry): ``webhook-signature`` = ``v1,`` base64(HMAC-SHA256(
  secret, id.timestamp.body)) with ``webhook-id`` and ``webhook-timestamp``.

``sign`` builds the headers a sender would send; the load generator and the tests use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol


class SignatureError(ValueError):
    """The request is not authentic or is a replay; the message says which check failed."""


def _parse_time(value: Any, what: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.lstrip("-").isdigit():
            return float(text)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise SignatureError(f"missing or unreadable signed timestamp ({what})")


def check_fresh(signed_at: float, now: float, tolerance: int) -> None:
    skew = now - signed_at
    if abs(skew) > tolerance:
        direction = "old" if skew > 0 else "in the future"
        raise SignatureError(f"stale timestamp: signed {abs(skew):.0f}s {direction}, tolerance is {tolerance}s")


class SignatureScheme(Protocol):
    name: str

    def verify(self, headers: Mapping[str, str], body: bytes, secret: bytes) -> None:
        """Raise SignatureError unless the body was signed with ``secret``."""
        ...

    def signed_at(self, headers: Mapping[str, str], payload: Any) -> float:
        """The signed timestamp (epoch seconds) to check against the tolerance."""
        ...

    def sign(self, body: bytes, secret: bytes, timestamp: float, delivery_id: str) -> dict[str, str]: ...


def _require(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


class ZendeskScheme:
    name = "zendesk"
    SIGNATURE = "x-zendesk-webhook-signature"
    TIMESTAMP = "x-zendesk-webhook-signature-timestamp"

    def _digest(self, body: bytes, secret: bytes, timestamp: str) -> str:
        return base64.b64encode(hmac.new(secret, timestamp.encode() + body, hashlib.sha256).digest()).decode()

    def verify(self, headers: Mapping[str, str], body: bytes, secret: bytes) -> None:
        given = _require(headers, self.SIGNATURE)
        expected = self._digest(body, secret, _require(headers, self.TIMESTAMP))
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureError(f"bad signature: {self.SIGNATURE} does not match the body and timestamp")

    def signed_at(self, headers: Mapping[str, str], payload: Any) -> float:
        return _parse_time(headers.get(self.TIMESTAMP), self.TIMESTAMP)

    def sign(self, body: bytes, secret: bytes, timestamp: float, delivery_id: str) -> dict[str, str]:
        stamp = datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {self.SIGNATURE: self._digest(body, secret, stamp), self.TIMESTAMP: stamp}


class IntercomScheme:
    name = "intercom"
    SIGNATURE = "x-hub-signature"

    def verify(self, headers: Mapping[str, str], body: bytes, secret: bytes) -> None:
        given = _require(headers, self.SIGNATURE)
        expected = "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureError(f"bad signature: {self.SIGNATURE} does not match the body")

    def signed_at(self, headers: Mapping[str, str], payload: Any) -> float:
        created = payload.get("created_at") if isinstance(payload, dict) else None
        return _parse_time(created, "created_at of the notification")

    def sign(self, body: bytes, secret: bytes, timestamp: float, delivery_id: str) -> dict[str, str]:
        # Intercom signs only the body; its timestamp is the created_at the body already carries.
        return {self.SIGNATURE: "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()}


class StandardWebhooksScheme:
    name = "standard-webhooks"

    @staticmethod
    def _key(secret: bytes) -> bytes:
        # Standard Webhooks secrets are "whsec_" + base64; plain secrets are used as they are.
        return base64.b64decode(secret[6:]) if secret.startswith(b"whsec_") else secret

    def _digest(self, body: bytes, secret: bytes, delivery_id: str, timestamp: str) -> str:
        signed = f"{delivery_id}.{timestamp}.".encode() + body
        return base64.b64encode(hmac.new(self._key(secret), signed, hashlib.sha256).digest()).decode()

    def verify(self, headers: Mapping[str, str], body: bytes, secret: bytes) -> None:
        given = _require(headers, "webhook-signature")
        expected = self._digest(body, secret, _require(headers, "webhook-id"), _require(headers, "webhook-timestamp"))
        candidates = [part.partition(",")[2] for part in given.split() if part.startswith("v1,")]
        if not any(hmac.compare_digest(c.encode(), expected.encode()) for c in candidates):
            raise SignatureError("bad signature: no v1 signature in webhook-signature matches id.timestamp.body")

    def signed_at(self, headers: Mapping[str, str], payload: Any) -> float:
        return _parse_time(headers.get("webhook-timestamp"), "webhook-timestamp")

    def sign(self, body: bytes, secret: bytes, timestamp: float, delivery_id: str) -> dict[str, str]:
        stamp = str(int(timestamp))
        return {
            "webhook-id": delivery_id,
            "webhook-timestamp": stamp,
            "webhook-signature": "v1," + self._digest(body, secret, delivery_id, stamp),
        }
