"""Schemas of the gold tables the monitor stage writes (Python-written Delta, read as ``gold.<name>``)."""

from __future__ import annotations

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")


def clusters_schema(dim: int) -> pa.Schema:
    """``gold.dim_feedback_clusters``: one row per complaint cluster, with its centroid state."""
    return pa.schema(
        [
            ("cluster_id", pa.string()),
            ("name", pa.string()),
            ("top_terms", pa.string()),  # JSON list, best first (c-TF-IDF)
            ("category", pa.string()),  # most common member label
            ("product", pa.string()),
            ("member_count", pa.int64()),
            ("first_seen_at", _TS),
            ("last_seen_at", _TS),
            ("velocity_per_day", pa.float64()),  # members per day over the last 3 days before as-of
            ("embedding_version", pa.string()),
            ("centroid_sum", pa.list_(pa.float32(), dim)),  # running sum: centroid = sum / |sum|
            ("updated_at", _TS),
            ("run_id", pa.string()),
        ]
    )


CLUSTER_MEMBERS = pa.schema(
    [
        ("cluster_id", pa.string()),
        ("doc_id", pa.string()),
        ("similarity", pa.float32()),
        ("event_at", _TS),
        ("assigned_at", _TS),
        ("run_id", pa.string()),
    ]
)

INCIDENTS = pa.schema(
    [
        ("incident_id", pa.string()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("product_area", pa.string()),
        ("product", pa.string()),
        ("platform", pa.string()),
        ("status", pa.string()),  # open | resolved
        ("severity", pa.string()),  # low | medium | high | critical
        ("is_escalated", pa.bool_()),
        ("outcome", pa.string()),  # product_behaviour | policy_content | model_quality
        ("first_seen_at", _TS),
        ("last_seen_at", _TS),
        ("member_count", pa.int64()),
        ("velocity_per_day", pa.float64()),
        ("rule_ids", pa.string()),  # JSON list
        ("cluster_ids", pa.string()),  # JSON list, primary first
        ("evidence", pa.string()),  # JSON: sample complaints, similar tickets, telemetry summary
        ("detected_at", _TS),  # the as-of time of the run that opened it (data time)
        ("detected_wall_at", _TS),  # the wall clock of that run
        ("detection_run_id", pa.string()),
        ("resolved_at", _TS),
        ("updated_at", _TS),
    ]
)

INCIDENT_MEMBERS = pa.schema(
    [
        ("incident_id", pa.string()),
        ("doc_id", pa.string()),
        ("cluster_id", pa.string()),
        ("similarity", pa.float32()),
        ("event_at", _TS),
        ("assigned_at", _TS),
        ("is_escalation", pa.bool_()),  # joined after the incident was known, by closeness to it
    ]
)

INCIDENT_TELEMETRY = pa.schema(
    [
        ("incident_id", pa.string()),
        ("doc_id", pa.string()),
        ("join_key", pa.string()),  # session | user | version | platform: the narrowest that matched
        ("events", pa.int64()),
        ("error_events", pa.int64()),
        ("error_rate_before", pa.float64()),
        ("last_deploy_sha", pa.string()),
        ("last_deploy_at", _TS),
        ("p95_latency_ms", pa.float64()),
        ("window_start", _TS),
        ("window_end", _TS),
        ("computed_at", _TS),
    ]
)

RULE_HITS = pa.schema(
    [
        ("rule_hit_id", pa.string()),
        ("run_id", pa.string()),
        ("rule_id", pa.string()),
        ("rule_kind", pa.string()),
        ("subject", pa.string()),
        ("subject_json", pa.string()),
        ("window_start", _TS),
        ("window_end", _TS),
        ("observed", pa.float64()),
        ("baseline", pa.float64()),
        ("threshold", pa.float64()),
        ("volume", pa.int64()),
        ("is_above_floor", pa.bool_()),
        ("has_baseline", pa.bool_()),
        ("is_significant", pa.bool_()),  # beyond noise: Poisson z, or drift beyond the baseline's own
        ("windows_met", pa.int64()),
        ("sources", pa.int64()),
        ("is_quorum_met", pa.bool_()),
        ("is_fired", pa.bool_()),
        ("cluster_id", pa.string()),
        ("incident_id", pa.string()),
        ("evaluated_at", _TS),
    ]
)

# ``gold.fct_monitor_runs``: one row per monitor pass, when it looked (data time) and what it found
MONITOR_RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("as_of", _TS),  # the pass's data time: it saw event_at < as_of
        ("is_catch_up", pa.bool_()),  # a replayed boundary, not the newest data
        ("complaints", pa.int64()),
        ("complaints_assigned", pa.int64()),
        ("rule_rows", pa.int64()),
        ("rules_fired", pa.int64()),
        ("incidents_open", pa.int64()),
        ("incidents_opened", pa.int64()),
        ("incidents_resolved", pa.int64()),
        ("telemetry_rows", pa.int64()),
        ("evaluated_at", _TS),
    ]
)


GOLD_TABLES = {
    "dim_feedback_clusters": None,  # schema depends on the embedding width
    "fct_feedback_cluster_members": CLUSTER_MEMBERS,
    "dim_incidents": INCIDENTS,
    "fct_incident_members": INCIDENT_MEMBERS,
    "fct_incident_telemetry": INCIDENT_TELEMETRY,
    "fct_rule_hits": RULE_HITS,
    "fct_monitor_runs": MONITOR_RUNS,
}
