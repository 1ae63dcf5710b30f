"""HTTP delivery with retries: every request is an attempt row; failures are classified, never raised raw.

* 2xx -> the response.
* 408, 425, 429, 5xx, timeouts, refused or dropped connections -> retried with exponential backoff
  (``Retry-After`` honoured, capped); still failing after ``action_max_attempts`` -> ``TransientError``:
  the action stays pending and the next run tries again.
* any other 4xx -> ``PermanentError`` with the status and the sink's message: the request cannot
  succeed as it is, so the action is marked failed with the reason instead of being retried forever.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class DeliveryError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientError(DeliveryError):
    """The sink is unreachable or overloaded; try again next run."""


class PermanentError(DeliveryError):
    """The sink refused the request (4xx); retrying the same request cannot succeed."""


@dataclass
class AttemptLog:
    """Collects attempt rows from every delivery thread of one run."""

    run_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **row: Any) -> None:
        row.setdefault("attempt_id", uuid.uuid4().hex)
        row.setdefault("run_id", self.run_id)
        with self._lock:
            self.rows.append(row)

    def count(self, action_id: str) -> int:
        with self._lock:
            return sum(1 for row in self.rows if row["action_id"] == action_id)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 8.0

    def delay(self, try_number: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.backoff_max_seconds)
        base = min(self.backoff_seconds * 2 ** (try_number - 1), self.backoff_max_seconds)
        return base * random.uniform(0.5, 1.0)  # jitter: many actions retrying must not move in lockstep


def _reason(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"HTTP {response.status_code}: {text[:300] or response.reason_phrase}"


class SinkHttp:
    """One pooled ``httpx.Client`` per sink; ``request`` retries and records each try."""

    def __init__(
        self,
        sink: str,
        log: AttemptLog,
        policy: RetryPolicy,
        timeout: float,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sink, self.log, self.policy, self.sleep = sink, log, policy, sleep
        self.client = httpx.Client(timeout=timeout, auth=auth, headers=headers or {}, follow_redirects=False)

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, url: str, *, action_id: str, operation: str, **kwargs: Any) -> httpx.Response:
        last: DeliveryError | None = None
        for try_number in range(1, self.policy.max_attempts + 1):
            started = time.perf_counter()
            attempted_at = datetime.now(UTC)
            retry_after = None
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.HTTPError as error:  # refused, reset, timeout, protocol error
                status, message = None, f"{type(error).__name__}: {error}"[:300]
                last = TransientError(message)
            else:
                status = response.status_code
                if response.is_success:
                    self._record(action_id, operation, try_number, status, "ok", None, started, attempted_at)
                    return response
                message = _reason(response)
                if status not in RETRYABLE_STATUS:
                    self._record(action_id, operation, try_number, status, "permanent", message, started, attempted_at)
                    raise PermanentError(message, status)
                retry_after = response.headers.get("Retry-After")
                last = TransientError(message, status)
            final = try_number == self.policy.max_attempts
            outcome = "transient" if final else "retry"
            self._record(action_id, operation, try_number, status, outcome, str(last), started, attempted_at)
            if not final:
                self.sleep(self.policy.delay(try_number, retry_after))
        assert last is not None
        raise last

    def _record(
        self,
        action_id: str,
        operation: str,
        try_number: int,
        status: int | None,
        outcome: str,
        error: str | None,
        started: float,
        attempted_at: datetime,
    ) -> None:
        self.log.add(
            action_id=action_id,
            sink=self.sink,
            operation=operation,
            try_number=try_number,
            http_status=status,
            outcome=outcome,
            error=error,
            duration_ms=int((time.perf_counter() - started) * 1000),
            attempted_at=attempted_at,
        )
