"""Flow ``act``: open incidents and retrain decisions -> decision matrix -> outbox -> sinks; run metrics."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from feedbackloop.act.decisions import load_decisions
from feedbackloop.act.stage import plan_and_dispatch, record_metrics
from feedbackloop.settings import get_settings
from flows._runtime import current_run_id


@task
def check_decisions() -> int:
    """Validate the decision matrix; a typo fails here naming its line, before anything is sent."""
    return len(load_decisions(get_settings().decisions_path).outcomes)


@task(retries=1, retry_delay_seconds=10)
def deliver_actions(run_id: str, retry_failed: bool) -> dict[str, Any]:
    """Plan and deliver; safe to retry: existing tickets are found by action id or idempotency key."""
    return plan_and_dispatch(get_settings(), run_id, retry_failed=retry_failed)


@task(retries=1, retry_delay_seconds=5)
def record_run_metrics(run_id: str, delivered_this_run: int) -> dict[str, Any]:
    """Append this run's latency, coverage and review-load row; refresh detection lead times."""
    return record_metrics(get_settings(), run_id, delivered_this_run)


@flow(name="act", log_prints=True)
def act(retry_failed: bool = False) -> dict[str, Any]:
    """Turn open incidents and retrain decisions into tickets (idempotent), then record run metrics."""
    check_decisions()
    run_id = current_run_id()
    stats = deliver_actions(run_id, retry_failed)
    metrics = record_run_metrics(run_id, stats["delivered_this_run"])
    get_run_logger().info(
        "act: %s actions (%s pending, %s sent, %s failed); this run %s created, %s adopted, %s updated, "
        "%s deferred, %s without a configured sink",
        stats["actions"], stats["pending"], stats["sent"], stats["failed"], stats["created"], stats["adopted"],
        stats["updated"], stats["deferred"], stats["unconfigured"],
    )  # fmt: skip
    keys = ("labeled_share", "embedded_share", "routed_share", "review_queue_open", "review_queue_added",
            "event_to_label_p50_seconds", "event_to_incident_p50_seconds", "open_incidents")  # fmt: skip
    summary = {**stats, "metrics": {k: metrics[k] for k in keys}}
    publish_summary(summary)
    return summary


@task
def publish_summary(summary: dict[str, Any]) -> None:
    """The run's outbox counts and metrics as a Prefect markdown artifact."""
    figures = {**{k: v for k, v in summary.items() if not isinstance(v, dict)}, **summary["metrics"]}
    lines = ["# act run", "", "| figure | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in figures.items()]
    lines += [f"| skipped: {reason} | {count} |" for reason, count in summary["skipped"].items()]
    create_markdown_artifact(markdown="\n".join(lines), key="act-summary")


if __name__ == "__main__":
    act()
