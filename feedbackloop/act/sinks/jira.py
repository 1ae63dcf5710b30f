"""Jira Cloud REST API v3: create an issue (ADF description), comment on it, find it by label.

Auth is basic (account email + API token). The idempotency key is an issue label, so an issue
created by a request whose reply was lost is found again by JQL before anything new is created.
"""

from __future__ import annotations

from typing import Any

from feedbackloop.act.http import AttemptLog, PermanentError, RetryPolicy, SinkHttp
from feedbackloop.act.sinks.base import Ref, Ticket

PRIORITY = {"critical": "Highest", "high": "High", "medium": "Medium", "low": "Low"}


def adf(lines: list[str]) -> dict[str, Any]:
    """Atlassian Document Format: one paragraph per line ("- " lines become a bullet list)."""
    content: list[dict[str, Any]] = []
    bullets: list[dict[str, Any]] = []
    for line in lines:
        if line.startswith("- "):
            text = [{"type": "text", "text": line[2:]}]
            bullets.append({"type": "listItem", "content": [{"type": "paragraph", "content": text}]})
            continue
        if bullets:
            content.append({"type": "bulletList", "content": bullets})
            bullets = []
        content.append({"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []})
    if bullets:
        content.append({"type": "bulletList", "content": bullets})
    return {"type": "doc", "version": 1, "content": content}


class JiraSink:
    kind = "jira"

    def __init__(self, base_url: str, email: str, token: str, log: AttemptLog, policy: RetryPolicy, timeout: float):
        self.base = base_url.rstrip("/")
        self.http = SinkHttp("jira", log, policy, timeout, auth=(email, token), headers={"Accept": "application/json"})

    def _url(self, key: str) -> str:
        return f"{self.base}/browse/{key}"

    def find(self, ticket: Ticket) -> Ref | None:
        body = {"jql": f'labels = "{ticket.idempotency_key}" ORDER BY created ASC', "fields": ["key"], "maxResults": 1}
        response = self.http.request(
            "POST", f"{self.base}/rest/api/3/search/jql", json=body, action_id=ticket.action_id, operation="lookup"
        )
        issues = response.json().get("issues") or []
        return Ref(issues[0]["key"], self._url(issues[0]["key"])) if issues else None

    def create(self, ticket: Ticket) -> Ref:
        fields = {
            "project": {"key": ticket.owner_queue},
            "issuetype": {"name": ticket.issue_type},
            "summary": ticket.title[:250],
            "description": adf(ticket.lines),
            "labels": ["feedbackloop", ticket.idempotency_key, ticket.kind, f"severity-{ticket.severity}"],
        }
        if ticket.jira_priority:
            fields["priority"] = {"name": PRIORITY.get(ticket.severity, "Medium")}
        response = self.http.request(
            "POST", f"{self.base}/rest/api/3/issue", json={"fields": fields}, action_id=ticket.action_id,
            operation="create",
        )  # fmt: skip
        key = response.json().get("key")
        if not key:
            raise PermanentError(f"Jira created an issue but returned no key: {response.text[:200]}")
        return Ref(key, self._url(key))

    def update(self, ticket: Ticket, ref: Ref) -> Ref:
        self.http.request(
            "POST", f"{self.base}/rest/api/3/issue/{ref.external_id}/comment", json={"body": adf(ticket.update_lines)},
            action_id=ticket.action_id, operation="update",
        )  # fmt: skip
        return ref

    def close(self) -> None:
        self.http.close()
