"""The decision matrix (``config/decisions.yaml``): outcome -> action kind, owner and sink.

Errors name the file, the line and the reason (a typo in a key or a value is the usual one), so a
bad edit fails the run before anything is sent.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Outcome = Literal["product_behaviour", "policy_content", "model_quality"]
ActionKind = Literal["engineering_ticket", "content_update", "retrain_candidate"]
SinkKind = Literal["jira", "servicenow", "slack", "webhook", "none"]
Severity = Literal["low", "medium", "high", "critical"]

OUTCOMES: tuple[str, ...] = ("product_behaviour", "policy_content", "model_quality")
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class DecisionsError(ValueError):
    """The decision matrix cannot be used; the message names the file, line and reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Owner(_Strict):
    team: str = Field(min_length=1)
    person: str = ""
    queue: str = ""  # where the sink files it: Jira project key, ServiceNow assignment group, channel

    @property
    def display(self) -> str:
        return "/".join(part for part in (self.team, self.person, self.queue) if part)


class Override(_Strict):
    when: dict[Literal["product", "product_area", "category", "severity"], str] = Field(min_length=1)
    owner: Owner


class Route(_Strict):
    action: ActionKind
    sink: SinkKind
    owner: Owner
    min_severity: Severity = "low"
    notify: list[SinkKind] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)
    issue_type: str = "Task"  # Jira issue type
    # Jira refuses (400) a priority its project's create screen lacks, so setting it is opt-in.
    jira_priority: bool = False
    table: Literal["incident", "task"] = "task"  # ServiceNow table

    def owner_for(self, subject: dict[str, Any]) -> Owner:
        """The first override whose conditions all match the incident, else the default owner."""
        for override in self.overrides:
            if all(str(subject.get(key) or "") == value for key, value in override.when.items()):
                return override.owner
        return self.owner


class DecisionMatrix(_Strict):
    version: int = 1
    outcomes: dict[Outcome, Route]

    @model_validator(mode="after")
    def _every_outcome_routed(self) -> DecisionMatrix:
        missing = [o for o in OUTCOMES if o not in self.outcomes]
        if missing:
            raise ValueError(f"outcomes must route every outcome; missing {missing}")
        return self

    def route(self, outcome: str) -> Route:
        return self.outcomes[outcome]  # type: ignore[index]


def _positions(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """1-based line of every key and list item, by its path in the loaded document."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines.update(_positions(value, child))
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_positions(item, (*path, i)))
    return lines


def _line_of(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    # pydantic adds pseudo-steps (e.g. "function-after[...]"): fall back to the longest known prefix.
    for end in range(len(loc), -1, -1):
        if tuple(loc[:end]) in lines:
            return lines[tuple(loc[:end])]
    return 1


def _explain(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
    where = ".".join(loc) or "(top)"
    message = error["msg"]
    if error["type"] == "extra_forbidden" and loc:
        message = f"unknown key {loc[-1]!r}"
        parent_known = {
            "outcomes": OUTCOMES,
        }.get(loc[-2] if len(loc) > 1 else "", ())
        close = difflib.get_close_matches(loc[-1], [*parent_known, *_KNOWN_KEYS], n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    elif error["type"] == "literal_error":
        message = f"{error['input']!r} is not allowed: {error['msg'].removeprefix('Input should be ')}"
        close = difflib.get_close_matches(str(error["input"]), _KNOWN_VALUES, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    return f"{where}: {message}"


_KNOWN_KEYS = sorted(
    {*Route.model_fields, *Owner.model_fields, *Override.model_fields, *DecisionMatrix.model_fields, *OUTCOMES}
)


_KNOWN_VALUES = [
    *OUTCOMES,
    "engineering_ticket", "content_update", "retrain_candidate",
    "jira", "servicenow", "slack", "webhook", "none",
    *SEVERITY_RANK, "incident", "task", "product", "product_area", "category", "severity",
]  # fmt: skip


def parse_decisions(text: str, source: str = "<decisions>") -> DecisionMatrix:
    """Validate the YAML text; raise DecisionsError naming the line of every problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(error, "problem", None) or str(error)
        raise DecisionsError(f"{source}, line {line}: not valid YAML: {problem}") from error
    if not isinstance(data, dict) or node is None:
        raise DecisionsError(f"{source}, line 1: expected a mapping with 'outcomes'")
    lines = _positions(node)
    try:
        return DecisionMatrix.model_validate(data)
    except ValidationError as error:
        problems = sorted(((_line_of(tuple(e["loc"]), lines), _explain(e)) for e in error.errors()), key=lambda p: p[0])
        detail = "; ".join(f"line {line}: {message}" for line, message in problems)
        raise DecisionsError(f"{source}, {detail}") from None


def load_decisions(path: Path | str) -> DecisionMatrix:
    path = Path(path)
    if not path.is_file():
        raise DecisionsError(f"{path}: decision matrix not found (setting FEEDBACKLOOP_DECISIONS_PATH)")
    return parse_decisions(path.read_text(encoding="utf-8"), str(path))
