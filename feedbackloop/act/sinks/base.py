"""What every sink gets (a ``Ticket``) and gives back (a ``Ref``); sinks raise the errors of ``act.http``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Ticket:
    """One action as a sink renders it: the create body, the update note, and where it goes."""

    action_id: str
    kind: str
    title: str
    lines: list[str]  # description, one paragraph each
    update_lines: list[str]  # comment / work note when the source changed
    severity: str
    owner_team: str
    owner_person: str
    owner_queue: str
    fingerprint: str
    issue_type: str = "Task"
    table: str = "task"
    jira_priority: bool = False
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """Stored with the ticket (Jira label, ServiceNow correlation_id) so a lost reply is found again."""
        return f"fbl-{self.action_id}"


@dataclass(frozen=True)
class Ref:
    external_id: str | None
    external_url: str | None = None


class Sink(Protocol):
    kind: str

    def find(self, ticket: Ticket) -> Ref | None:
        """The ticket this action already created (looked up by its idempotency key), if the sink can tell."""
        ...

    def create(self, ticket: Ticket) -> Ref: ...

    def update(self, ticket: Ticket, ref: Ref) -> Ref: ...

    def close(self) -> None: ...
