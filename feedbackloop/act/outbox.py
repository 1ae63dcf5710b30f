"""The outbox: ``gold.fct_actions`` holds every action's current state; the dispatcher delivers the
pending ones and records every request in ``gold.fct_action_attempts``.

Idempotency, in three layers:

1. ``action_id`` is derived from the source (incident or retrain episode) and the action kind, so
   every run maps an ongoing incident to the same row; a row that has a ticket is only updated.
2. Before creating, the dispatcher asks the sink for a ticket carrying the action's idempotency key
   (Jira label / ServiceNow correlation_id): a create whose reply was lost (timeout, crash between
   send and record) is adopted, not repeated.
3. Webhook deliveries carry a stable ``webhook-id`` per (action, state, operation) for receivers to dedupe.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from feedbackloop.act.http import AttemptLog, DeliveryError, PermanentError
from feedbackloop.act.plan import Desired, Plan
from feedbackloop.act.sinks import Sink, not_configured, open_sink
from feedbackloop.act.sinks.base import Ref, Ticket
from feedbackloop.act.tables import ACTION_ATTEMPTS, ACTIONS
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings


def read_actions(lake: Lake) -> dict[str, dict[str, Any]]:
    table = lake.table("gold", "fct_actions")
    if table is None:
        return {}
    return {row["action_id"]: row for row in table.to_pyarrow_dataset().to_table().to_pylist()}


def merge(existing: dict[str, dict[str, Any]], plan: Plan, run_id: str, now: datetime,
          retry_failed: bool = False) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Fold the plan into the outbox. A delivered action keeps its sink and ticket; a changed source
    makes it pending again (an update); a failed one waits for its routing to change or ``retry_failed``."""
    rows = {aid: dict(row) for aid, row in existing.items()}
    for desired in plan.desired:
        row = rows.get(desired.action_id)
        fields = {
            "title": desired.ticket.title,
            "payload": json.dumps({"ticket": desired.ticket.__dict__}, default=str, sort_keys=True),
            "fingerprint": desired.ticket.fingerprint,
            "doc_ids": desired.doc_ids,
        }
        routing = {
            "owner": desired.owner.display, "owner_team": desired.owner.team,
            "owner_person": desired.owner.person, "owner_queue": desired.owner.queue, "sink": desired.sink,
        }  # fmt: skip
        if row is None:
            rows[desired.action_id] = {
                "action_id": desired.action_id, "source_kind": desired.source_kind, "source_id": desired.source_id,
                "kind": desired.kind, "outcome": desired.outcome, "role": desired.role, **routing, **fields,
                "status": "pending", "external_id": None, "external_url": None, "attempts": 0, "last_error": None,
                "delivered_fingerprint": None, "updates_sent": 0, "created_at": now, "updated_at": now,
                "delivered_at": None, "last_attempt_at": None, "run_id": run_id,
            }  # fmt: skip
            continue
        changed = any(row.get(k) != v for k, v in fields.items() if k != "payload")
        if row.get("delivered_at") is None:
            rerouted = any(row.get(k) != v for k, v in routing.items())
            row.update(routing)  # not delivered yet: the current matrix decides where it goes
            if row["status"] == "failed" and (rerouted or retry_failed):
                row.update(status="pending", last_error=None, attempts=0)
        elif row["status"] == "failed" and retry_failed:
            row.update(status="pending", last_error=None)
        row.update(fields)
        if row["status"] == "sent" and row["fingerprint"] != row.get("delivered_fingerprint"):
            row["status"] = "pending"
        if changed or row["status"] == "pending":
            row.update(updated_at=now, run_id=run_id)
    return rows


def ticket_of(row: dict[str, Any]) -> Ticket:
    return Ticket(**json.loads(row["payload"])["ticket"])


@dataclass
class DispatchStats:
    created: int = 0
    adopted: int = 0  # found by idempotency key after a lost reply: not created twice
    updated: int = 0
    failed: int = 0  # permanent failures this run
    deferred: int = 0  # transient failures: pending, retried next run
    unconfigured: int = 0  # sink not configured: pending
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)


class Dispatcher:
    """Delivers pending actions; a sink that stays down is skipped for the rest of the run (breaker)."""

    def __init__(self, settings: Settings, log: AttemptLog, now: datetime) -> None:
        self.settings, self.log, self.now = settings, log, now
        self.sinks: dict[str, Sink | None] = {}
        self.down: dict[str, str] = {}
        self.lock = threading.Lock()
        self.stats = DispatchStats()

    def sink(self, kind: str) -> Sink | None:
        with self.lock:
            if kind not in self.sinks:
                self.sinks[kind] = None if kind == "none" else open_sink(kind, self.settings, self.log)
            return self.sinks[kind]

    def close(self) -> None:
        for sink in self.sinks.values():
            if sink is not None:
                sink.close()

    def _count(self, name: str, reason: str | None = None) -> None:
        with self.lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)
            if reason:
                self.stats.errors[reason[:120]] += 1

    def deliver(self, row: dict[str, Any]) -> None:
        """Bring one pending action's ticket up to date; every outcome is written into ``row``."""
        sink = self.sink(row["sink"])
        if sink is None:
            row["last_error"] = not_configured(row["sink"])
            self._count("unconfigured")
            return
        if row["sink"] in self.down:
            row["last_error"] = f"not tried: {row['sink']} unavailable earlier in this run ({self.down[row['sink']]})"
            self._count("deferred")
            return
        ticket = ticket_of(row)
        before = self.log.count(row["action_id"])
        try:
            if row.get("delivered_at") is None:
                ref = sink.find(ticket)
                if ref is None:
                    ref = sink.create(ticket)
                    self._count("created")
                else:
                    self._count("adopted")
                row.update(external_id=ref.external_id, external_url=ref.external_url, delivered_at=self.now)
            else:
                sink.update(ticket, Ref(row.get("external_id"), row.get("external_url")))
                row["updates_sent"] = int(row.get("updates_sent") or 0) + 1
                self._count("updated")
            row.update(status="sent", delivered_fingerprint=row["fingerprint"], last_error=None)
        except PermanentError as error:
            row.update(status="failed", last_error=f"permanent: {error}")
            self._count("failed", str(error))
        except DeliveryError as error:
            row["last_error"] = f"transient (retried next run): {error}"
            with self.lock:
                self.down.setdefault(row["sink"], str(error)[:120])
            self._count("deferred", str(error))
        finally:
            tried = self.log.count(row["action_id"]) - before
            if tried:
                row["attempts"] = int(row.get("attempts") or 0) + tried
                row["last_attempt_at"] = self.now
            row["updated_at"], row["run_id"] = self.now, self.log.run_id
            limit = self.settings.action_max_total_attempts
            if row["status"] == "pending" and tried and row["attempts"] >= limit:
                row.update(status="failed", last_error=f"gave up after {row['attempts']} attempts: {row['last_error']}")


def dispatch(settings: Settings, rows: dict[str, dict[str, Any]], log: AttemptLog, now: datetime) -> DispatchStats:
    pending = [row for row in rows.values() if row["status"] == "pending"]
    dispatcher = Dispatcher(settings, log, now)
    try:
        with ThreadPoolExecutor(max_workers=settings.action_max_in_flight) as pool:
            list(pool.map(dispatcher.deliver, pending))
    finally:
        dispatcher.close()
    dispatcher.stats.requests = len(log.rows)
    return dispatcher.stats


def write_outbox(lake: Lake, rows: dict[str, dict[str, Any]], log: AttemptLog) -> None:
    """Attempts first (append), then the current state: a crash in between re-sends nothing (lookups)."""
    if log.rows:
        lake.append("gold", "fct_action_attempts", pa.Table.from_pylist(log.rows, schema=ACTION_ATTEMPTS))
    elif not lake.exists("gold", "fct_action_attempts"):
        lake.append("gold", "fct_action_attempts", ACTION_ATTEMPTS.empty_table())
    ordered = sorted(rows.values(), key=lambda r: (r["created_at"], r["action_id"]))
    lake.overwrite("gold", "fct_actions", pa.Table.from_pylist(ordered, schema=ACTIONS))


def now_utc() -> datetime:
    return datetime.now(UTC)


__all__ = ["Desired", "DispatchStats", "dispatch", "merge", "read_actions", "write_outbox"]
