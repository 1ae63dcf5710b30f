"""Flow ``drift``: Evidently report over the current vs reference window, then the retraining policy.

When the policy emits a retrain candidate, the flow emits the Prefect event ``RETRAIN_EVENT``; the
``retrain`` deployment's trigger in prefect.yaml (an Automation) turns that event into a retrain run.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.events import emit_event

from feedbackloop.drift.stage import DriftRun, record_decision, run_drift
from feedbackloop.settings import get_settings
from flows._runtime import current_run_id

RETRAIN_EVENT = "feedbackloop.drift.retrain-candidate"
DECISION_RESOURCE = "feedbackloop.retrain-decision"  # resource id: <this>.<decision_id>


@task(retries=1, retry_delay_seconds=10)
def compute_drift(run_id: str, as_of: datetime | None) -> DriftRun:
    """Windows, Evidently report (HTML + JSON under the stable path), gold row, policy decision."""
    return run_drift(get_settings(), run_id, as_of)


@task
def emit_retrain_candidate(run: DriftRun) -> str | None:
    """The event the retrain deployment's trigger listens for; its id, or None if no events client."""
    row = run.decision_row
    report = {"prefect.resource.id": f"feedbackloop.drift-report.{row['report_id']}", "prefect.resource.role": "report"}
    event = emit_event(
        event=RETRAIN_EVENT,
        resource={"prefect.resource.id": f"{DECISION_RESOURCE}.{row['decision_id']}"},
        related=[report],
        payload={
            "decision_id": row["decision_id"],
            "report_id": row["report_id"],
            "reasons": json.loads(row["reasons"]),
        },
    )
    return str(event.id) if event is not None else None


@task(retries=2, retry_delay_seconds=5)
def record(run: DriftRun) -> None:
    """Append the decision row (with whether its event went out) to gold.fct_retrain_decisions."""
    record_decision(get_settings(), run.decision_row)


@task
def publish(run: DriftRun) -> None:
    """The report as a Prefect artifact: a markdown summary with links, and a link to the HTML."""
    report, row = run.report, run.decision_row
    lines = [
        "# Drift report",
        "",
        f"Status: **{report['status']}**" + (f" ({report.get('skip_reason')})" if report.get("skip_reason") else ""),
        "",
        _window("Current", report, "current"),
        _window("Reference", report, "reference"),
        "",
        f"Report: [HTML]({_uri(report.get('html_path'))}) · [JSON]({_uri(report.get('json_path'))})",
        "",
        f"Dataset drift: {report.get('dataset_drift')} · drift share {report.get('drift_share')}"
        f" · embedding drift {report.get('embedding_drift')}",
        "",
        "| signal | value | threshold | fired | detail |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for signal in run.decision.signals:
        lines.append(f"| {signal.signal} | {signal.value} | {signal.threshold} | {signal.fired} | {signal.detail} |")
    verdict = "retrain candidate" if row["should_retrain"] else "no retrain"
    suppressed = f" (suppressed: {row['suppressed_by']})" if row["suppressed_by"] else ""
    lines += ["", f"Decision: **{verdict}**{suppressed}"]
    create_markdown_artifact(markdown="\n".join(lines), key="drift-report", description="Evidently drift report")
    if report.get("html_path"):
        create_link_artifact(link=_uri(report["html_path"]), link_text="drift report (HTML)", key="drift-report-html")


def _window(title: str, report: dict[str, Any], prefix: str) -> str:
    start, end, rows = report.get(f"{prefix}_start"), report.get(f"{prefix}_end"), report.get(f"{prefix}_rows")
    return f"{title} window: {start} .. {end} ({rows} docs)  "


def _uri(path: str | None) -> str:
    return Path(path).as_uri() if path else ""


@flow(name="drift", log_prints=True)
def drift(as_of: datetime | None = None) -> dict[str, Any]:
    """Drift report for the current window and the retrain decision; emits the retrain event when due."""
    run = compute_drift(current_run_id(), as_of)
    if run.decision.should_retrain:
        run.decision_row["event_id"] = emit_retrain_candidate(run)
        run.decision_row["is_event_emitted"] = run.decision_row["event_id"] is not None
    record(run)
    publish(run)
    report = run.report
    get_run_logger().info(
        "drift: %s, report %s, dataset drift %s, embedding drift %s; retrain: %s (%s)",
        report["status"], report.get("html_path") or report.get("json_path"), report.get("dataset_drift"),
        report.get("embedding_drift"), run.decision.should_retrain,
        ", ".join(s.signal for s in run.decision.reasons) or "no signal fired",
    )  # fmt: skip
    return {
        "report_id": report["report_id"],
        "status": report["status"],
        "skip_reason": report.get("skip_reason"),
        "html_path": report.get("html_path"),
        "json_path": report.get("json_path"),
        "dataset_drift": report.get("dataset_drift"),
        "embedding_drift": report.get("embedding_drift"),
        "decision_id": run.decision_row["decision_id"],
        "should_retrain": run.decision.should_retrain,
        "reasons": [s.signal for s in run.decision.reasons],
        "suppressed_by": run.decision.suppressed_by,
        "event_id": run.decision_row.get("event_id"),
    }


if __name__ == "__main__":
    drift()
