"""One drift run: windows -> Evidently report (HTML + JSON, stable path) -> gold row -> policy -> decision row."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from feedbackloop.drift import policy as rules
from feedbackloop.drift.config import DriftConfig, load_drift_config
from feedbackloop.drift.report import DriftResult, compute_report, sample
from feedbackloop.drift.tables import DRIFT_REPORTS, RETRAIN_DECISIONS
from feedbackloop.drift.windows import WindowBounds, latest_event_at, load_window, stored_vectors, window_bounds
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect

REPORTS = ("gold", "fct_drift_reports")
DECISIONS = ("gold", "fct_retrain_decisions")


@dataclass
class DriftRun:
    report: dict[str, Any]  # the fct_drift_reports row
    decision: rules.Decision
    decision_row: dict[str, Any]
    result: DriftResult | None


def reports_dir(settings: Settings) -> Path:
    return Path(settings.drift_reports_dir or settings.table_uri("reports", "drift"))


def run_drift(settings: Settings, run_id: str, as_of: datetime | None = None) -> DriftRun:
    """Compute, save and record this run's report and retrain decision; never raises on empty data."""
    config = load_drift_config(settings.drift_config_path)
    started = time.perf_counter()
    now = datetime.now(UTC)
    report_id = str(uuid.uuid4())
    anchor = as_of or (now if config.windows.anchor == "now" else latest_event_at(settings))
    row: dict[str, Any] = {"report_id": report_id, "run_id": run_id, "created_at": now, "status": "skipped"}
    result = None
    current = pd.DataFrame()
    if anchor is None:
        row["skip_reason"] = "no labelled feedback in gold yet"
    else:
        bounds = window_bounds(config.windows, anchor)
        row |= _bounds_row(bounds)
        reference = load_window(settings, bounds.reference_start, bounds.reference_end)
        current = load_window(settings, bounds.current_start, bounds.current_end)
        row["reference_rows"], row["current_rows"] = len(reference), len(current)
        minimum = config.report.min_rows
        if len(current) < minimum:
            row["skip_reason"] = f"current window has {len(current)} labelled docs, fewer than min_rows {minimum}"
        elif len(reference) < minimum:
            row["skip_reason"] = f"reference window has {len(reference)} labelled docs, fewer than min_rows {minimum}"
        else:
            result = _report(settings, config, reference, current)
            row |= _result_row(result)
    row["seconds"] = round(time.perf_counter() - started, 3)
    row |= _save(reports_dir(settings), row, result)
    Lake(settings).append(*REPORTS, pa.Table.from_pylist([row], schema=DRIFT_REPORTS))
    decision = _decide(settings, config, result, current, now)
    decision_row = {
        "decision_id": str(uuid.uuid4()),
        "run_id": run_id,
        "decided_at": now,
        "should_retrain": decision.should_retrain,
        "reasons": json.dumps([_reason(s) for s in decision.reasons]),
        "report_id": report_id,
        "signals": json.dumps([s.as_dict() for s in decision.signals], default=str),
        "suppressed_by": decision.suppressed_by,
        "is_event_emitted": False,
    }
    return DriftRun(row, decision, decision_row, result)


def record_decision(settings: Settings, decision_row: dict[str, Any]) -> None:
    Lake(settings).append(*DECISIONS, pa.Table.from_pylist([decision_row], schema=RETRAIN_DECISIONS))


def _reason(signal: rules.Signal) -> dict[str, Any]:
    return {"signal": signal.signal, "value": signal.value, "threshold": signal.threshold, "detail": signal.detail}


def _bounds_row(bounds: WindowBounds) -> dict[str, Any]:
    return {
        "reference_start": bounds.reference_start,
        "reference_end": bounds.reference_end,
        "current_start": bounds.current_start,
        "current_end": bounds.current_end,
    }


def _report(settings: Settings, config: DriftConfig, reference: pd.DataFrame, current: pd.DataFrame) -> DriftResult:
    """Sample both windows, prefer rows with stored vectors, and run Evidently."""
    cap, seed, minimum = config.report.max_rows_per_window, config.report.seed, config.report.min_rows
    vectors = stored_vectors(settings, [*reference["doc_id"], *current["doc_id"]]) if config.report.embeddings else {}
    with_ref = reference[reference["doc_id"].isin(vectors)]
    with_cur = current[current["doc_id"].isin(vectors)]
    if len(with_ref) >= minimum and len(with_cur) >= minimum:
        ref, cur = sample(with_ref, cap, seed), sample(with_cur, cap, seed)
        result = compute_report(
            ref, cur, config.report, _matrix(vectors, ref["doc_id"]), _matrix(vectors, cur["doc_id"])
        )
        skipped = (len(reference) - len(with_ref)) + (len(current) - len(with_cur))
        if skipped:
            result.notes.append(f"{skipped} labelled docs without a stored vector left out of the report")
        return result
    return compute_report(sample(reference, cap, seed), sample(current, cap, seed), config.report)


def _matrix(vectors: dict[str, np.ndarray], doc_ids: pd.Series) -> np.ndarray:
    return np.vstack([vectors[d] for d in doc_ids])


def _result_row(result: DriftResult) -> dict[str, Any]:
    return {
        "status": "ok",
        "dataset_drift": result.dataset_drift,
        "drifted_columns": json.dumps([c.as_dict() for c in result.drifted_columns]),
        "embedding_drift": result.embedding_score,
        "is_embedding_drift": result.embedding_drifted,
        "embedding_method": result.embedding_method,
        "drift_share": result.drift_share,
        "column_drift": json.dumps([c.as_dict() for c in result.columns]),
        "reference_rows": result.reference_rows,
        "current_rows": result.current_rows,
    }


def _save(directory: Path, row: dict[str, Any], result: DriftResult | None) -> dict[str, str | None]:
    """Per-run files under <dir>/runs/<time>-<report_id>/, copied to <dir>/latest.{html,json}."""
    stamp = row["created_at"].strftime("%Y%m%dT%H%M%SZ")
    run_dir = directory / "runs" / f"{stamp}-{row['report_id'][:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    summary["notes"] = result.notes if result else []
    summary["evidently"] = result.snapshot.dict() if result else None
    json_path = run_dir / "report.json"
    json_path.write_text(json.dumps(summary, indent=2, default=str))
    html_path = None
    if result is not None:
        html_path = run_dir / "report.html"
        result.snapshot.save_html(str(html_path))
    for path, name in ((json_path, "latest.json"), (html_path, "latest.html")):
        if path is not None:
            tmp = directory / f".{name}.tmp"
            shutil.copyfile(path, tmp)
            tmp.replace(directory / name)  # readers of latest.* never see half a file
    if html_path is None:
        (directory / "latest.html").unlink(missing_ok=True)  # a skipped run has no HTML; don't show a stale one
    return {"json_path": str(json_path.resolve()), "html_path": str(html_path.resolve()) if html_path else None}


def _tables(settings: Settings) -> set[str]:
    with connect(settings) as conn:
        rows = conn.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    return {name for (name,) in rows}


def _decide(
    settings: Settings, config: DriftConfig, result: DriftResult | None, current: pd.DataFrame, now: datetime
) -> rules.Decision:
    from feedbackloop.label.training import current_holdout_f1

    policy = config.policy
    tables = _tables(settings)
    counts = Counter(current["category"].dropna()) if "category" in current else Counter()
    accepted = _accepted_counts(settings, current, tables)
    baseline_f1, current_f1, holdout_n, trained = None, None, 0, None
    try:
        current_f1, holdout_n, manifest = current_holdout_f1(settings, config.retrain.holdout_share)
        if manifest:
            baseline_f1, trained = manifest.get("holdout_f1"), manifest.get("categories")
    except FileNotFoundError:
        pass
    clusters, source = _clusters(settings, current, tables)
    signals = [
        rules.label_drift(result, policy),
        rules.class_imbalance(counts, policy),
        rules.new_labels(accepted, trained, policy),
        rules.holdout_f1_decline(baseline_f1, current_f1, holdout_n, policy),
        rules.low_confidence_cluster(clusters, source, policy),
    ]
    return rules.decide(signals, policy, now, _last_candidate_at(settings, tables))


def _accepted_counts(settings: Settings, current: pd.DataFrame, tables: set[str]) -> Counter[str]:
    """Categories of the current window's accepted labels: LLM labels that passed, and human reviews."""
    if current.empty or "gold.fct_feedback_labels" not in tables:
        return Counter()
    with connect(settings) as conn:
        conn.register("window_docs", pa.table({"doc_id": list(current["doc_id"])}))
        rows = conn.execute(
            """
            select category, count(*) from gold.fct_feedback_labels
            where doc_id in (select doc_id from window_docs) and category is not null
              and (label_source = 'human' or (tier = 'llm' and label_status = 'accepted'))
            group by category
            """
        ).fetchall()
    return Counter({category: int(n) for category, n in rows})


def _clusters(
    settings: Settings, current: pd.DataFrame, tables: set[str]
) -> tuple[dict[str, list[float | None]], str | None]:
    """Label confidences per incident (detection's clusters), else per near-duplicate group, in the window."""
    if current.empty:
        return {}, None
    confidence = dict(zip(current["doc_id"], current["confidence"], strict=True))
    if {"gold.fct_incident_members", "gold.dim_incidents"} <= tables:
        query, source = "select incident_id, doc_id from gold.fct_incident_members", "incident"
    elif "gold.fct_feedback_near_duplicates" in tables:
        query, source = "select canonical_doc_id, doc_id from gold.fct_feedback_near_duplicates", "near-duplicate group"
    else:
        return {}, None
    with connect(settings) as conn:
        pairs = conn.execute(query).fetchall()
    clusters: dict[str, list[float | None]] = defaultdict(list)
    for cluster_id, doc_id in pairs:
        if doc_id in confidence:
            value = confidence[doc_id]
            clusters[str(cluster_id)].append(None if pd.isna(value) else float(value))
    return dict(clusters), source


def _last_candidate_at(settings: Settings, tables: set[str]) -> datetime | None:
    if "gold.fct_retrain_decisions" not in tables:
        return None
    with connect(settings) as conn:
        (value,) = conn.execute(
            "select max(decided_at) from gold.fct_retrain_decisions where should_retrain"
        ).fetchone() or (None,)
    return value.astimezone(UTC) if value is not None else None
