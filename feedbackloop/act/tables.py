"""Delta tables of the act stage (gold), and the columns it reads from the detection and drift stages."""

from __future__ import annotations

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")

# One row per action, current state (rewritten each run). An action is one ticket/task/notification
# for one source (incident or retrain episode) in one sink.
ACTIONS = pa.schema(
    [
        ("action_id", pa.string()),  # stable: sha256(source_kind, source_id, kind[, sink for notifications])
        ("source_kind", pa.string()),  # incident | retrain_decision
        ("source_id", pa.string()),
        ("kind", pa.string()),  # engineering_ticket | content_update | retrain_candidate
        ("outcome", pa.string()),
        ("role", pa.string()),  # primary | notification
        ("owner", pa.string()),  # team/person/queue
        ("owner_team", pa.string()),
        ("owner_person", pa.string()),
        ("owner_queue", pa.string()),
        ("sink", pa.string()),  # jira | servicenow | slack | webhook | none
        ("status", pa.string()),  # pending | sent | failed
        ("external_id", pa.string()),  # Jira key, ServiceNow sys_id, webhook receiver id
        ("external_url", pa.string()),
        ("attempts", pa.int64()),  # delivery attempts over all runs
        ("last_error", pa.string()),
        ("title", pa.string()),
        ("payload", pa.string()),  # JSON: what the ticket says (title, severity, evidence ...)
        ("fingerprint", pa.string()),  # hash of the state the ticket must reflect
        ("delivered_fingerprint", pa.string()),  # the state the sink last acknowledged
        ("updates_sent", pa.int64()),  # comments / work notes after the create
        ("doc_ids", pa.list_(pa.string())),  # feedback behind the action (erasure removes the row)
        ("created_at", _TS),
        ("updated_at", _TS),
        ("delivered_at", _TS),  # first successful delivery (ticket created)
        ("last_attempt_at", _TS),
        ("run_id", pa.string()),  # last run that changed the row
    ]
)

# Every HTTP request to a sink (lookups, creates, updates, retries), append-only.
ACTION_ATTEMPTS = pa.schema(
    [
        ("attempt_id", pa.string()),
        ("action_id", pa.string()),
        ("run_id", pa.string()),
        ("sink", pa.string()),
        ("operation", pa.string()),  # lookup | create | update | notify
        ("try_number", pa.int32()),  # within the run, 1-based
        ("http_status", pa.int32()),  # null when no response (connection refused, timeout)
        ("outcome", pa.string()),  # ok | retry | transient | permanent
        ("error", pa.string()),
        ("duration_ms", pa.int32()),
        ("attempted_at", _TS),
    ]
)

# One row per act run: how fast feedback becomes insight, how much of it is covered, review load.
RUN_METRICS = pa.schema(
    [
        ("run_id", pa.string()),
        ("computed_at", _TS),
        ("feedback_count", pa.int64()),
        ("labeled_count", pa.int64()),
        ("labeled_share", pa.float64()),
        ("embedded_count", pa.int64()),
        ("embedded_share", pa.float64()),
        ("actionable_count", pa.int64()),  # labelled with a recommended action other than no_action
        ("routed_count", pa.int64()),  # in an incident whose action reached its owner's sink
        ("routed_share", pa.float64()),  # of all feedback
        ("routed_actionable_share", pa.float64()),  # of actionable feedback
        ("labeled_this_run", pa.int64()),
        ("event_to_label_p50_seconds", pa.float64()),
        ("event_to_label_p95_seconds", pa.float64()),
        ("ingest_to_label_p50_seconds", pa.float64()),
        ("ingest_to_label_p95_seconds", pa.float64()),
        ("event_to_incident_p50_seconds", pa.float64()),  # first member event -> incident detected
        ("event_to_ticket_p50_seconds", pa.float64()),  # first member event -> ticket delivered
        ("review_queue_open", pa.int64()),
        ("review_queue_added", pa.int64()),  # queued since the previous run's metrics
        ("open_incidents", pa.int64()),
        ("actions_pending", pa.int64()),
        ("actions_sent", pa.int64()),
        ("actions_failed", pa.int64()),
        ("actions_delivered_this_run", pa.int64()),
        ("detection_lead_times", pa.string()),  # JSON {incident_id: seconds}
    ]
)

# Per incident: when its first complaint happened and when the pipeline detected it.
INCIDENT_DETECTION = pa.schema(
    [
        ("incident_id", pa.string()),
        ("first_member_event_at", _TS),
        ("first_member_ingested_at", _TS),
        ("detected_at", _TS),
        ("lead_time_seconds", pa.float64()),  # detected_at - first_member_event_at
        ("ingest_lead_time_seconds", pa.float64()),  # detected_at - first_member_ingested_at
        ("ticket_delivered_at", _TS),
        ("run_id", pa.string()),
        ("computed_at", _TS),
    ]
)

TABLES = {
    "fct_actions": ACTIONS,
    "fct_action_attempts": ACTION_ATTEMPTS,
    "fct_run_metrics": RUN_METRICS,
    "fct_incident_detection": INCIDENT_DETECTION,
}

# What this stage reads from the detection (monitor) and drift stages, per the issue-5 contract.
# Missing tables mean nothing to do; tests build small instances with exactly these columns.
INCIDENTS = pa.schema(
    [
        ("incident_id", pa.string()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("product_area", pa.string()),
        ("product", pa.string()),
        ("status", pa.string()),
        ("severity", pa.string()),
        ("is_escalated", pa.bool_()),
        ("outcome", pa.string()),
        ("first_seen_at", _TS),
        ("last_seen_at", _TS),
        ("member_count", pa.int64()),
        ("velocity_per_day", pa.float64()),
        ("rule_ids", pa.string()),
        ("evidence", pa.string()),
        ("detected_at", _TS),
        ("detection_run_id", pa.string()),
        ("updated_at", _TS),
    ]
)
INCIDENT_MEMBERS = pa.schema(
    [("incident_id", pa.string()), ("doc_id", pa.string()), ("similarity", pa.float64()), ("assigned_at", _TS)]
)
RETRAIN_DECISIONS = pa.schema(
    [
        ("decision_id", pa.string()),
        ("run_id", pa.string()),
        ("decided_at", _TS),
        ("should_retrain", pa.bool_()),
        ("reasons", pa.string()),
        ("report_id", pa.string()),
    ]
)
