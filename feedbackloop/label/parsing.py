"""Turning an LLM reply into a validated decision, and checking its evidence against the source text."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from feedbackloop.label.decision import LabelDecision
from feedbackloop.label.taxonomy import Taxonomy

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


class DecisionError(ValueError):
    """The reply is not a valid decision; the message lists what is wrong (fed back in the repair turn)."""


def _json_object(content: str) -> tuple[dict[str, Any], list[str]]:
    text = _FENCE.sub("", content.strip())
    try:
        value = json.loads(text)
        flags: list[str] = []
    except json.JSONDecodeError:
        # A reply with prose around one JSON object is usable, but flagged: the model ignored the format.
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise DecisionError("the reply contains no JSON object") from None
        try:
            value = json.loads(text[start : end + 1])
        except json.JSONDecodeError as error:
            raise DecisionError(f"the reply is not valid JSON ({error.msg} at char {error.pos})") from None
        flags = ["extra_prose"]
    if not isinstance(value, dict):
        raise DecisionError(f"the reply is JSON but a {type(value).__name__}, not an object")
    return value, flags


def parse_decision(
    content: str | None, model: type[LabelDecision], taxonomy: Taxonomy
) -> tuple[LabelDecision, list[str]]:
    """Validate one reply against the taxonomy's decision model; returns the decision and its flags."""
    if not content or not content.strip():
        raise DecisionError("the reply is empty")
    value, flags = _json_object(content)
    try:
        decision = model.model_validate(value)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'object'}: {e['msg']}" for e in error.errors()[:8])
        raise DecisionError(problems) from None
    allowed = taxonomy.category(decision.category).sublabels
    if decision.sublabel is not None and decision.sublabel not in allowed:
        decision = decision.model_copy(update={"sublabel": None})
        flags.append("unknown_sublabel")
    return decision, flags


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def verify_evidence(
    decision: LabelDecision, text: str, confidence_cap: float
) -> tuple[LabelDecision, list[str], list[str]]:
    """Keep only quotes that occur verbatim (modulo runs of whitespace) in the text.

    A label with any invented quote, or none at all for a non-empty text, is flagged and its
    confidence capped: small models paraphrase and call it a quote.
    """
    source = _squash(text)
    quotes = [q for q in decision.evidence if q and q.strip()]
    verified = [q for q in quotes if _squash(q) in source]
    unverified = [q for q in quotes if _squash(q) not in source]
    flags = []
    if unverified:
        flags.append("evidence_not_verbatim")
    elif not verified and source:
        flags.append("evidence_missing")
    update: dict[str, Any] = {"evidence": verified}
    if flags:
        update["confidence"] = min(decision.confidence, confidence_cap)
    return decision.model_copy(update=update), unverified, flags
