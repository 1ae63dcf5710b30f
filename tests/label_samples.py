"""Small silver lakes and valid LLM replies for the label tests."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.silver.enrich import ENRICHMENT
from feedbackloop.silver.redact import REDACTED

SILVER_FEEDBACK = pa.schema(
    [
        ("doc_id", pa.string()),
        ("clean_text", pa.string()),
        ("source_system", pa.string()),
        ("channel", pa.string()),
        ("event_at", pa.timestamp("us", tz="UTC")),
        ("product", pa.string()),
        ("product_area", pa.string()),
        ("app_version", pa.string()),
        ("platform", pa.string()),
        ("locale", pa.string()),
        ("country", pa.string()),
        ("rating", pa.int32()),
    ]
)
_TEXT = re.compile(r"<feedback>\n(.*)\n</feedback>", re.DOTALL)


def feedback_text(request: dict[str, Any]) -> str:
    """The customer text inside the user message of a chat-completions request."""
    match = _TEXT.search(request["messages"][1]["content"])
    return match.group(1) if match else ""


def decision(text: str, **overrides: Any) -> dict[str, Any]:
    quote = text.split(".")[0][:60].strip() or text[:20]
    value = {
        "category": "bug",
        "sublabel": "crash",
        "severity": "high",
        "sentiment_label": "negative",
        "sentiment_score": -0.8,
        "root_cause": "regression in the last release",
        "product_area": "camera",
        "recommended_action": "engineering_ticket",
        "confidence": 0.9,
        "evidence": [quote] if quote else [],
        "explanation": "The customer reports a crash.",
        "summary": "App crashes when opening the camera.",
    }
    value.update(overrides)
    return value


def valid_reply(request: dict[str, Any]) -> str:
    """A schema-valid answer that quotes the request's own text: what a good model returns."""
    return json.dumps(decision(feedback_text(request)))


def write_silver_docs(settings: Settings, docs: list[dict[str, Any]]) -> None:
    """The silver tables model_inputs() reads, as the dbt silver build, enrich and redact would leave them."""
    lake = Lake(settings)
    now = datetime(2026, 10, 1, tzinfo=UTC)
    feedback = [
        {
            "doc_id": d["doc_id"],
            "clean_text": d["text"],
            "source_system": d.get("source_system", "app_store"),
            "channel": "app_review",
            "event_at": now,
            "product": "shop",
            "product_area": None,
            "app_version": "5.4.0",
            "platform": "ios",
            "locale": "en-US",
            "country": "US",
            "rating": d.get("rating", 2),
        }
        for d in docs
    ]
    lake.append("silver", "stg_bronze__feedback", pa.Table.from_pylist(feedback, schema=SILVER_FEEDBACK))
    lake.append(
        "silver",
        "int_feedback__deduplicated",
        pa.Table.from_pylist([{"doc_id": d["doc_id"], "is_kept": True} for d in docs]),
    )
    enrichment = [
        {
            "doc_id": d["doc_id"],
            "text_hash": "x",
            "language": d.get("language", "en"),
            "language_score": 1.0,
            "enriched_at": now,
            "enrich_run_id": "test",
        }
        for d in docs
    ]
    lake.append("silver", "feedback_enrichment", pa.Table.from_pylist(enrichment, schema=ENRICHMENT))
    redacted = [
        {
            "doc_id": d["doc_id"],
            "text_hash": "x",
            "redacted_text": d["text"],  # the samples hold no personal data, so redaction leaves them as they are
            "pii_entity_count": 0,
            "pii_types": "",
            "redaction_version": "test",
            "redacted_at": now,
            "redact_run_id": "test",
        }
        for d in docs
    ]
    lake.append("silver", "feedback_redacted", pa.Table.from_pylist(redacted, schema=REDACTED))
