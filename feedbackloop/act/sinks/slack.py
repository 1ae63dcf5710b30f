"""Slack-compatible incoming webhook: one message per create or update (Block Kit plus a text fallback).

Incoming webhooks return no message id and cannot be searched, so a reply lost after Slack posted
the message can repeat it once; tickets (Jira, ServiceNow) never repeat.
"""

from __future__ import annotations

from typing import Any

from feedbackloop.act.http import AttemptLog, RetryPolicy, SinkHttp
from feedbackloop.act.sinks.base import Ref, Ticket

EMOJI = {
    "critical": ":rotating_light:",
    "high": ":warning:",
    "medium": ":large_orange_diamond:",
    "low": ":information_source:",
}


def slack_message(ticket: Ticket, lines: list[str], update: bool) -> dict[str, Any]:
    prefix = "Update: " if update else ""
    title = f"{EMOJI.get(ticket.severity, '')} {prefix}{ticket.title}".strip()
    body = "\n".join(lines)[:2900]  # a section's text is limited to 3,000 characters
    owner = " / ".join(p for p in (ticket.owner_team, ticket.owner_person) if p)
    return {
        "text": f"{prefix}{ticket.title}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body or " "}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"owner: {owner} · {ticket.idempotency_key}"}]},
        ],
    }


class SlackSink:
    kind = "slack"

    def __init__(self, webhook_url: str, log: AttemptLog, policy: RetryPolicy, timeout: float):
        self.url = webhook_url
        self.http = SinkHttp("slack", log, policy, timeout)

    def find(self, ticket: Ticket) -> Ref | None:
        return None

    def create(self, ticket: Ticket) -> Ref:
        message = slack_message(ticket, ticket.lines, update=False)
        self.http.request("POST", self.url, json=message, action_id=ticket.action_id, operation="create")
        return Ref(None, None)

    def update(self, ticket: Ticket, ref: Ref) -> Ref:
        message = slack_message(ticket, ticket.update_lines, update=True)
        self.http.request("POST", self.url, json=message, action_id=ticket.action_id, operation="update")
        return ref

    def close(self) -> None:
        self.http.close()
