"""Gold tables the drift stage writes (append-only, one row per run) and the retrain stage's evaluations."""

from __future__ import annotations

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")

# One row per drift run, skipped ones included (status 'skipped' + skip_reason).
DRIFT_REPORTS = pa.schema(
    [
        ("report_id", pa.string()),
        ("run_id", pa.string()),
        ("created_at", _TS),
        ("reference_start", _TS),
        ("reference_end", _TS),
        ("current_start", _TS),
        ("current_end", _TS),
        ("html_path", pa.string()),
        ("json_path", pa.string()),
        ("dataset_drift", pa.bool_()),
        ("drifted_columns", pa.string()),  # JSON list of {column, method, score, threshold}
        ("embedding_drift", pa.float64()),  # the embedding method's score (model: ROC AUC), null when not computed
        ("status", pa.string()),  # ok | skipped
        ("skip_reason", pa.string()),
        ("reference_rows", pa.int64()),
        ("current_rows", pa.int64()),
        ("drift_share", pa.float64()),
        ("is_embedding_drift", pa.bool_()),
        ("embedding_method", pa.string()),
        ("column_drift", pa.string()),  # JSON: every column's {method, score, threshold, drifted}
        ("seconds", pa.float64()),
    ]
)

# One row per policy evaluation; reasons are the signals that fired, signals every one evaluated.
RETRAIN_DECISIONS = pa.schema(
    [
        ("decision_id", pa.string()),
        ("run_id", pa.string()),
        ("decided_at", _TS),
        ("should_retrain", pa.bool_()),
        ("reasons", pa.string()),  # JSON list of {signal, value, threshold, detail}
        ("report_id", pa.string()),
        ("signals", pa.string()),  # JSON list of every signal, fired or not, with its numbers
        ("suppressed_by", pa.string()),  # e.g. cooldown: signals fired but no candidate was emitted
        ("is_event_emitted", pa.bool_()),
    ]
)

# One row per retrain attempt: candidate vs current on the same holdout, and whether it was promoted.
MODEL_EVALUATIONS = pa.schema(
    [
        ("evaluation_id", pa.string()),
        ("run_id", pa.string()),
        ("decision_id", pa.string()),  # the retrain decision that triggered it (null when run by hand)
        ("evaluated_at", _TS),
        ("taxonomy_version", pa.string()),
        ("embedding_version", pa.string()),
        ("current_model_id", pa.string()),
        ("candidate_model_id", pa.string()),
        ("train_labels", pa.int64()),
        ("holdout_labels", pa.int64()),
        ("current_f1", pa.float64()),  # macro-F1 of the category head on the holdout
        ("candidate_f1", pa.float64()),
        ("current_accuracy", pa.float64()),
        ("candidate_accuracy", pa.float64()),
        ("is_promoted", pa.bool_()),
        ("reason", pa.string()),
        ("per_class", pa.string()),  # JSON: class -> {current_f1, candidate_f1, support}
        ("training_categories", pa.string()),  # JSON: category -> accepted labels trained on
    ]
)

GOLD_TABLES = {
    ("gold", "fct_drift_reports"): DRIFT_REPORTS,
    ("gold", "fct_retrain_decisions"): RETRAIN_DECISIONS,
    ("gold", "fct_model_evaluations"): MODEL_EVALUATIONS,
}
