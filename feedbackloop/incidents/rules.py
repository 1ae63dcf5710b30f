"""``monitors/rules.yaml``: the monitoring rules, validated with pydantic; errors name the file line.

Every rule has a minimum-volume floor (below it, the rule is evaluated and recorded but never fires)
and a quorum (the condition must hold in N consecutive windows, stepped back by ``step_hours``,
and/or across N feedback sources) so one noisy hour never opens an incident.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Kind = Literal["volume_change", "cluster_share", "centroid_drift", "zscore", "telemetry_zscore", "release_regression"]
# telemetry_zscore: app telemetry per (platform, app version major) against its long baseline; it only
# corroborates a complaint rule for the same product, it never opens an incident alone
# release_regression: complaints per session on one app version against the same product's other versions in
# the same window (sessions are telemetry session_start events), so a bad release shows at low volume
RELEASE_DIMENSIONS = ("product", "platform", "app_version")
Metric = Literal["error_events", "p95_latency_ms"]
Dimension = Literal["category", "product", "platform", "product_area", "app_version", "source_system", "cluster_id"]


class Quorum(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consecutive_windows: Annotated[int, Field(ge=1, le=48)] = 1
    step_hours: Annotated[float, Field(gt=0, le=24 * 14)] = 24.0
    min_sources: Annotated[int, Field(ge=1, le=10)] = 1  # distinct source_systems among the subject's items


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    kind: Kind
    description: str = ""
    group_by: list[Dimension] = Field(default_factory=lambda: list[Dimension](["category"]))
    metric: Metric | None = None  # telemetry_zscore only
    window_days: Annotated[float, Field(gt=0, le=90)] = 7.0
    baseline_days: Annotated[float, Field(gt=0, le=365)] = 28.0  # zscore and centroid_drift: the long baseline
    threshold: Annotated[float, Field(gt=0)]
    min_volume: Annotated[int, Field(ge=1)]
    # Noise guard: volume_change also needs a Poisson z of (cur - prev) / sqrt(cur + prev) this high;
    # centroid_drift needs the drift this many standard deviations above the baseline's own window drifts.
    min_z: Annotated[float, Field(ge=0)] = 3.0
    quorum: Quorum = Field(default_factory=Quorum)
    severity: Literal["low", "medium", "high", "critical"] | None = None  # floor for incidents it opens
    # release_regression: both the version and its siblings need this many sessions in the window
    min_sessions: Annotated[int, Field(ge=1)] = 30
    # only counts toward an incident when a telemetry rule fires for the same product in the same run: a
    # weak complaint signal backed by a strong telemetry one (the quorum is "two sources")
    requires_telemetry: bool = False
    # telemetry rules: the complaint categories this signal can explain (a latency spike explains
    # "slow" complaints, not billing ones); empty means any category
    explains: list[str] = Field(default_factory=list)

    @property
    def subject_columns(self) -> list[str]:
        if self.kind != "release_regression":
            return list(self.group_by)
        return list(self.group_by) + [d for d in RELEASE_DIMENSIONS if d not in self.group_by]

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        if self.kind == "cluster_share" and self.threshold > 1:
            raise ValueError("cluster_share threshold is a share of negative items: between 0 and 1")
        if self.kind == "centroid_drift" and self.threshold >= 2:
            raise ValueError("centroid_drift threshold is a cosine distance: below 2")
        if self.kind == "centroid_drift" and self.baseline_days <= self.window_days:
            raise ValueError("baseline_days must be longer than window_days")
        if (self.kind == "telemetry_zscore") != (self.metric is not None):
            raise ValueError("metric is required for telemetry_zscore rules and only allowed there")
        if self.kind in {"zscore", "telemetry_zscore"} and self.baseline_days < 3 * self.window_days:
            raise ValueError("a z-score needs baseline_days of at least three windows")
        if self.explains and self.kind != "telemetry_zscore":
            raise ValueError("explains is for telemetry rules: the complaint categories they corroborate")
        if self.requires_telemetry and self.kind == "telemetry_zscore":
            raise ValueError("requires_telemetry is for complaint rules; telemetry rules corroborate them")
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("group_by lists a dimension twice")
        return self


class ComplaintFilter(BaseModel):
    """Which labelled items the monitor watches: problems, told by sentiment, severity, stars or channel."""

    model_config = ConfigDict(extra="forbid")

    sentiments: list[str] = Field(default_factory=lambda: ["negative"])
    severities: list[str] = Field(default_factory=lambda: ["high", "critical"])
    max_rating: Annotated[int, Field(ge=0, le=5)] = 2  # store reviews at or below this many stars
    channels: list[str] = Field(default_factory=lambda: ["support_ticket", "email", "chat"])  # people asking for help
    exclude_categories: list[str] = Field(default_factory=lambda: ["praise", "feature_request", "other"])


class IncidentPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # distinct rules that must fire for the same (category, product) before a new incident opens;
    # an open incident is updated by any one of them
    min_rules: Annotated[int, Field(ge=1, le=10)] = 2


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    complaints: ComplaintFilter = Field(default_factory=ComplaintFilter)
    incidents: IncidentPolicy = Field(default_factory=IncidentPolicy)
    rules: Annotated[list[Rule], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self


class RuleFileError(ValueError):
    """A rule file that cannot be used; the message names the file, the line and the reason."""


class _LineLoader(yaml.SafeLoader):
    """Keeps each mapping's and sequence item's start line so a validation error can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {str(k): v for k, v in loader.construct_mapping(node, deep=True).items()}
    lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    mapping["__lines__"] = {"__self__": node.start_mark.line + 1, **lines}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "__lines__"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _line_of(raw: Any, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest key on ``loc`` that exists in the parsed document."""
    line = raw.get("__lines__", {}).get("__self__") if isinstance(raw, dict) else None
    node = raw
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            line = node.get("__lines__", {}).get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, dict):
                line = node.get("__lines__", {}).get("__self__", line)
        else:
            break
    return line


def parse_rules(text: str, source: str = "<rules>") -> RuleSet:
    try:
        raw = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "unknown line"
        context = getattr(exc, "context_mark", None)
        if context is not None and mark is not None and context.line != mark.line:
            where += f" ({getattr(exc, 'context', 'opened')} on line {context.line + 1})"
        raise RuleFileError(f"{source}, {where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise RuleFileError(f"{source}, line 1: expected a mapping with a 'rules' list")
    try:
        return RuleSet.model_validate(_strip(raw))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            line = _line_of(raw, loc)
            path = ".".join(str(p) for p in loc) or "(file)"
            if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
                listed = raw.get("rules")
                rule = listed[loc[1]] if isinstance(listed, list) and loc[1] < len(listed) else None
                if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                    path = f"rule {rule['id']!r}: " + (".".join(str(p) for p in loc[2:]) or "(rule)")
            problems.append(f"{source}, line {line if line is not None else '?'}: {path}: {err['msg']}")
        raise RuleFileError("invalid rule file:\n  " + "\n  ".join(problems)) from None


def load_rules(path: Path) -> RuleSet:
    path = Path(path)
    if not path.is_file():
        raise RuleFileError(f"{path}: rule file not found (setting FEEDBACKLOOP_MONITOR_RULES_PATH)")
    return parse_rules(path.read_text(encoding="utf-8"), str(path))
