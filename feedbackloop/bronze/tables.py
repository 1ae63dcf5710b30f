"""Arrow schemas of the bronze Delta tables. dbt's ``_bronze__sources.yml`` declares the same columns."""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

FEEDBACK = pa.schema(
    [
        ("doc_id", pa.string()),
        ("source_system", pa.string()),
        ("source_record_id", pa.string()),
        ("text_hash", pa.string()),
        ("event_at", TS),
        ("ingested_at", TS),
        ("account_id", pa.string()),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("product", pa.string()),
        ("product_area", pa.string()),
        ("app_version", pa.string()),
        ("platform", pa.string()),
        ("device", pa.string()),
        ("locale", pa.string()),
        ("country", pa.string()),
        ("channel", pa.string()),
        ("rating", pa.int32()),
        ("customer_text", pa.string()),
        ("agent_text", pa.string()),
        ("system_notes", pa.string()),
        ("resolution_status", pa.string()),
        ("is_text_truncated", pa.bool_()),
        ("is_event_at_inferred", pa.bool_()),
        ("raw_payload", pa.string()),
        ("source_file", pa.string()),
        ("source_offset", pa.int64()),
        ("ingest_run_id", pa.string()),
    ]
)

TELEMETRY_EVENTS = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_at", TS),
        ("ingested_at", TS),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("product", pa.string()),
        ("app_version", pa.string()),
        ("platform", pa.string()),
        ("event_type", pa.string()),
        ("value", pa.float64()),
        ("deploy_sha", pa.string()),
        ("raw_payload", pa.string()),
        ("source_file", pa.string()),
        ("source_offset", pa.int64()),
        ("ingest_run_id", pa.string()),
    ]
)

QUARANTINE = pa.schema(
    [
        ("quarantine_id", pa.string()),
        ("source_system", pa.string()),
        ("source_file", pa.string()),
        ("source_offset", pa.int64()),
        ("reason", pa.string()),
        ("raw_payload", pa.string()),
        ("quarantined_at", TS),
        ("ingest_run_id", pa.string()),
    ]
)

INGEST_CHECKPOINT = pa.schema(
    [
        ("source_file", pa.string()),
        ("file_size", pa.int64()),
        ("file_mtime_ns", pa.int64()),
        ("source_system", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_written", pa.int64()),
        ("rows_duplicate", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("ingest_run_id", pa.string()),
        ("processed_at", TS),
    ]
)

# One row per change to a source record: from PostgreSQL logical replication, Debezium files, or a
# support tool's webhook. The record's content lands in FEEDBACK (one row per text version, doc_id);
# this log says which version is current, in which order changes happened, and what was deleted.
FEEDBACK_CHANGES = pa.schema(
    [
        ("change_id", pa.string()),
        ("source_system", pa.string()),
        ("source_record_id", pa.string()),
        ("op", pa.string()),  # insert | update | delete | snapshot
        ("changed_at", TS),  # commit time (CDC) or the source's update time (webhooks)
        ("lsn", pa.int64()),  # WAL position of the change; null where the source has none
        ("commit_lsn", pa.int64()),
        ("txn_id", pa.int64()),
        ("doc_id", pa.string()),  # the version the record has after the change; null on delete
        ("resolution_status", pa.string()),
        ("raw_payload", pa.string()),
        ("source_file", pa.string()),
        ("source_offset", pa.int64()),
        ("ingested_at", TS),
        ("ingest_run_id", pa.string()),
    ]
)

# One row per LSN that change capture is about to confirm to its replication slot, written after the
# bronze commit of everything before it. A slot whose confirmed position is ahead of the last row here
# was not advanced by us (it was dropped and re-created): capture then re-synchronises from a snapshot.
CDC_CHECKPOINT = pa.schema(
    [
        ("slot_name", pa.string()),
        ("confirmed_lsn", pa.int64()),
        ("kind", pa.string()),  # stream | snapshot
        ("changes", pa.int64()),
        ("recorded_at", TS),
        ("ingest_run_id", pa.string()),
    ]
)

# (table name, schema, key column) for each bronze table the ingest stage appends to.
TABLES = {
    "feedback": (FEEDBACK, "doc_id"),
    "telemetry_events": (TELEMETRY_EVENTS, "event_id"),
    "feedback_changes": (FEEDBACK_CHANGES, "change_id"),
    "quarantine": (QUARANTINE, "quarantine_id"),
    "ingest_checkpoint": (INGEST_CHECKPOINT, "source_file"),
    "cdc_checkpoint": (CDC_CHECKPOINT, "slot_name"),
}
