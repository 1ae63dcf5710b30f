"""ServiceNow Table API: create an incident or task, add work notes with PATCH, find it by correlation_id."""

from __future__ import annotations

from urllib.parse import quote

from feedbackloop.act.http import AttemptLog, PermanentError, RetryPolicy, SinkHttp
from feedbackloop.act.sinks.base import Ref, Ticket

# ServiceNow's 1 (high) .. 3 (low) scales; priority is derived from urgency x impact on the instance.
URGENCY = {"critical": "1", "high": "1", "medium": "2", "low": "3"}
IMPACT = {"critical": "1", "high": "2", "medium": "2", "low": "3"}


class ServiceNowSink:
    kind = "servicenow"

    def __init__(self, base_url: str, user: str, password: str, log: AttemptLog, policy: RetryPolicy, timeout: float):
        self.base = base_url.rstrip("/")
        self.http = SinkHttp(
            "servicenow", log, policy, timeout, auth=(user, password),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )  # fmt: skip

    def _url(self, table: str, sys_id: str) -> str:
        return f"{self.base}/nav_to.do?uri={table}.do%3Fsys_id%3D{sys_id}"

    def find(self, ticket: Ticket) -> Ref | None:
        query = quote(f"correlation_id={ticket.idempotency_key}", safe="=")
        params = f"sysparm_query={query}&sysparm_fields=sys_id,number&sysparm_limit=1"
        url = f"{self.base}/api/now/table/{ticket.table}?{params}"
        response = self.http.request("GET", url, action_id=ticket.action_id, operation="lookup")
        rows = response.json().get("result") or []
        return Ref(rows[0]["sys_id"], self._url(ticket.table, rows[0]["sys_id"])) if rows else None

    def create(self, ticket: Ticket) -> Ref:
        record = {
            "short_description": ticket.title[:160],
            "description": "\n".join(ticket.lines),
            "assignment_group": ticket.owner_queue,
            "correlation_id": ticket.idempotency_key,
            "correlation_display": "feedbackloop",
            "urgency": URGENCY.get(ticket.severity, "2"),
            "impact": IMPACT.get(ticket.severity, "2"),
        }
        response = self.http.request(
            "POST", f"{self.base}/api/now/table/{ticket.table}", json=record, action_id=ticket.action_id,
            operation="create",
        )  # fmt: skip
        sys_id = (response.json().get("result") or {}).get("sys_id")
        if not sys_id:
            raise PermanentError(f"ServiceNow created a record but returned no sys_id: {response.text[:200]}")
        return Ref(sys_id, self._url(ticket.table, sys_id))

    def update(self, ticket: Ticket, ref: Ref) -> Ref:
        self.http.request(
            "PATCH", f"{self.base}/api/now/table/{ticket.table}/{ref.external_id}",
            json={"work_notes": "\n".join(ticket.update_lines)}, action_id=ticket.action_id, operation="update",
        )  # fmt: skip
        return ref

    def close(self) -> None:
        self.http.close()
