"""``monitors/drift.yaml``: windows, report columns and thresholds, policy thresholds, retrain gate.

A typo fails loudly with the file, the line and the key, never silently falling back to a default.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Descriptor = Literal["text_length", "word_count", "sentence_count", "non_letter_share"]
DESCRIPTORS: tuple[Descriptor, ...] = ("text_length", "word_count", "sentence_count", "non_letter_share")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Windows(_Strict):
    anchor: Literal["latest_event", "now"] = "latest_event"
    current_days: float = Field(7, gt=0)
    reference_mode: Literal["preceding", "fixed"] = "preceding"
    reference_days: float = Field(28, gt=0)
    reference_start: datetime | None = None
    reference_end: datetime | None = None

    @model_validator(mode="after")
    def _fixed_needs_bounds(self) -> Windows:
        if self.reference_mode == "fixed":
            if self.reference_start is None or self.reference_end is None:
                raise ValueError("reference_mode fixed needs reference_start and reference_end")
            if self.reference_start >= self.reference_end:
                raise ValueError("reference_start must be before reference_end")
        return self


class ReportConfig(_Strict):
    min_rows: int = Field(30, ge=1)
    max_rows_per_window: int = Field(1000, ge=10)
    seed: int = 7
    categorical_columns: list[str] = ["category", "sentiment_label", "severity"]
    numerical_columns: list[str] = ["sentiment_score", "confidence", "rating"]
    descriptors: list[Descriptor] = list(DESCRIPTORS)
    drift_share: float = Field(0.5, gt=0, le=1)
    embeddings: bool = True
    embedding_method: Literal["model", "distance", "ratio"] = "model"
    embedding_threshold: float = Field(0.55, gt=0)


class PolicyConfig(_Strict):
    label_drift: bool = True
    max_imbalance_ratio: float = Field(25.0, gt=1)
    min_class_count: int = Field(3, ge=1)
    new_labels: bool = True
    max_f1_decline: float = Field(0.05, ge=0, le=1)
    min_holdout_labels: int = Field(10, ge=1)
    low_confidence: float = Field(0.5, gt=0, le=1)
    low_confidence_share: float = Field(0.5, gt=0, le=1)
    min_cluster_size: int = Field(5, ge=2)
    cooldown_hours: float = Field(24, ge=0)


class RetrainConfig(_Strict):
    holdout_share: float = Field(0.2, gt=0, lt=1)
    min_holdout_labels: int = Field(10, ge=1)
    promotion_tolerance: float = Field(0.0, ge=0, le=1)


class DriftConfig(_Strict):
    windows: Windows = Windows()
    report: ReportConfig = ReportConfig()
    policy: PolicyConfig = PolicyConfig()
    retrain: RetrainConfig = RetrainConfig()


class DriftConfigError(ValueError):
    """The drift config is invalid; the message names the file, line and key."""


def load_drift_config(path: Path) -> DriftConfig:
    path = Path(path)
    if not path.is_file():
        raise DriftConfigError(f"{path}: drift config not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        raise DriftConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise DriftConfigError(f"{path}: expected a mapping with windows/report/policy/retrain")
    try:
        return DriftConfig.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc = [str(p) for p in item["loc"]]
            problems.append(f"{path}: line {_line_of(root, loc) or 1}: {'.'.join(loc) or '(root)'}: {item['msg']}")
        raise DriftConfigError("; ".join(problems)) from error


def _line_of(node: Any, loc: list[str]) -> int | None:
    """1-based line of the deepest key along ``loc`` that exists in the YAML node tree."""
    line = None
    for key in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((k, v) for k, v in node.value if k.value == key), None)
        if match is None:
            break
        line = match[0].start_mark.line + 1
        node = match[1]
    return line
