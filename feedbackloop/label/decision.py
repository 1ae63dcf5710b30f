"""The decision object an LLM must return, as pydantic; its JSON schema is what the endpoint enforces.

The category enum comes from the taxonomy, so ``decision_model(taxonomy)`` builds one model per taxonomy.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, create_model

Severity = Literal["low", "medium", "high", "critical"]
SentimentLabel = Literal["negative", "neutral", "positive"]
Action = Literal["engineering_ticket", "content_or_policy_update", "retrain_candidate", "no_action"]
ACTIONS: tuple[str, ...] = get_args(Action)
SEVERITIES: tuple[str, ...] = get_args(Severity)
SENTIMENTS: tuple[str, ...] = get_args(SentimentLabel)


class LabelDecision(BaseModel):
    """One feedback item's label. ``extra='forbid'``: an answer with invented fields is invalid."""

    model_config = ConfigDict(extra="forbid")

    category: str
    sublabel: str | None = None
    severity: Severity
    sentiment_label: SentimentLabel
    sentiment_score: float = Field(ge=-1.0, le=1.0)
    root_cause: str | None = Field(default=None, max_length=300)
    product_area: str | None = Field(default=None, max_length=120)
    recommended_action: Action
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(max_length=5)
    explanation: str = Field(max_length=1000)
    summary: str = Field(max_length=300)


@lru_cache(maxsize=16)
def _decision_model(categories: tuple[str, ...]) -> type[LabelDecision]:
    category_type: Any = Literal[categories]  # type: ignore[valid-type]
    return create_model(  # type: ignore[call-overload, no-any-return]
        "LabelDecision",
        __base__=LabelDecision,
        category=(category_type, ...),
    )


def decision_model(categories: list[str] | tuple[str, ...]) -> type[LabelDecision]:
    """The decision model whose ``category`` accepts exactly these category names."""
    return _decision_model(tuple(categories))


# Bounds stay in pydantic validation, not in the schema sent: llama.cpp compiles maxLength into a
# grammar with one state per character (seconds per token), and strict json_schema endpoints reject some.
_VALIDATION_KEYWORDS = ("maxLength", "minLength", "maxItems", "minItems", "minimum", "maximum")


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in _VALIDATION_KEYWORDS}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def decision_schema(categories: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """JSON schema for structured output: every field required, no additional properties."""
    schema: dict[str, Any] = _strip(decision_model(categories).model_json_schema())
    # Strict structured-output endpoints (OpenAI json_schema strict) want every property required.
    schema["required"] = list(schema["properties"])
    schema["additionalProperties"] = False
    return schema
