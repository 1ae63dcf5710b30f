"""Delta tables the label stage owns. ``feedback_labels`` and the review tables are dbt sources."""

from __future__ import annotations

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")
_STRINGS = pa.list_(pa.string())

# One row per (doc, label attempt): append-only; gold takes the latest per doc_id, then applies reviews.
FEEDBACK_LABELS = pa.schema(
    [
        ("label_id", pa.string()),
        ("doc_id", pa.string()),
        ("input_hash", pa.string()),
        ("tier", pa.string()),  # rule | local | llm
        ("status", pa.string()),  # accepted | needs_review
        ("review_reason", pa.string()),  # low_confidence | invalid_output | conflict | high_impact
        # the decision
        ("category", pa.string()),
        ("sublabel", pa.string()),
        ("severity", pa.string()),
        ("sentiment_label", pa.string()),
        ("sentiment_score", pa.float32()),
        ("root_cause", pa.string()),
        ("product_area", pa.string()),
        ("recommended_action", pa.string()),
        ("confidence", pa.float32()),
        ("evidence", _STRINGS),
        ("unverified_evidence", _STRINGS),
        ("explanation", pa.string()),
        ("summary", pa.string()),
        ("flags", _STRINGS),
        ("error", pa.string()),
        ("local_category", pa.string()),
        ("local_confidence", pa.float32()),
        # audit
        ("taxonomy_version", pa.string()),
        ("prompt_version", pa.string()),
        ("model_id", pa.string()),
        ("temperature", pa.float32()),
        ("endpoint_kind", pa.string()),
        ("label_run_id", pa.string()),
        ("code_version", pa.string()),
        ("latency_ms", pa.int32()),
        ("prompt_tokens", pa.int32()),
        ("completion_tokens", pa.int32()),
        ("cost_usd", pa.float64()),
        ("is_cache_hit", pa.bool_()),
        ("labeled_at", _TS),
    ]
)

# One row per human decision on a label. Before/after are JSON so nothing is lost; the typed
# columns are the values that override the model downstream (null = unchanged).
FEEDBACK_LABEL_REVIEWS = pa.schema(
    [
        ("review_id", pa.string()),
        ("doc_id", pa.string()),
        ("label_id", pa.string()),
        ("action", pa.string()),  # accept | correct
        ("reviewer", pa.string()),
        ("reviewed_at", _TS),
        ("before_json", pa.string()),
        ("after_json", pa.string()),
        ("category", pa.string()),
        ("sublabel", pa.string()),
        ("severity", pa.string()),
        ("sentiment_label", pa.string()),
        ("recommended_action", pa.string()),
        ("note", pa.string()),
        ("review_source", pa.string()),  # cli | argilla | label_studio
    ]
)

# Other stages ask for review here (clustering: new_cluster; monitoring: high_impact).
FEEDBACK_REVIEW_REQUESTS = pa.schema(
    [
        ("request_id", pa.string()),
        ("doc_id", pa.string()),
        ("review_reason", pa.string()),
        ("requested_by", pa.string()),
        ("detail", pa.string()),
        ("requested_at", _TS),
    ]
)

# LLM answers by (input hash, prompt version, taxonomy version, model): a rerun makes no calls.
LLM_LABEL_CACHE = pa.schema(
    [
        ("cache_key", pa.string()),
        ("input_hash", pa.string()),
        ("prompt_version", pa.string()),
        ("taxonomy_version", pa.string()),
        ("model_id", pa.string()),
        ("status", pa.string()),  # ok | invalid
        ("decision_json", pa.string()),
        ("flags", _STRINGS),
        ("unverified_evidence", _STRINGS),
        ("error", pa.string()),
        ("raw_reply", pa.string()),
        ("latency_ms", pa.int32()),
        ("prompt_tokens", pa.int32()),
        ("completion_tokens", pa.int32()),
        ("cost_usd", pa.float64()),
        ("cached_at", _TS),
    ]
)

SOURCE_TABLES = {
    ("silver", "feedback_labels"): FEEDBACK_LABELS,
    ("silver", "feedback_label_reviews"): FEEDBACK_LABEL_REVIEWS,
    ("silver", "feedback_review_requests"): FEEDBACK_REVIEW_REQUESTS,
}
REVIEW_REASONS = ("low_confidence", "invalid_output", "conflict", "new_cluster", "high_impact")
