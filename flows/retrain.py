"""Flow ``retrain``: train the local classifier on accepted labels; promote it only if not worse on a holdout.

Run by hand, or by the ``retrain`` deployment's trigger on the drift flow's retrain-candidate event.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from feedbackloop.label.training import retrain_local
from feedbackloop.settings import get_settings
from flows._runtime import current_run_id


@task(retries=1, retry_delay_seconds=10)
def train_and_evaluate(run_id: str, decision_id: str | None) -> dict[str, Any]:
    """Candidate vs current on the same holdout; the row lands in gold.fct_model_evaluations."""
    return retrain_local(get_settings(), run_id=run_id, decision_id=decision_id)


@flow(name="retrain", log_prints=True)
def retrain(decision_id: str | None = None) -> dict[str, Any]:
    """Retrain the fast (local) classifier; promotion is gated on holdout macro-F1."""
    result = train_and_evaluate(current_run_id(), decision_id)
    verdict = "promoted" if result["promoted"] else "kept the current model"
    get_run_logger().info("retrain: %s: %s", verdict, result["reason"])
    create_markdown_artifact(
        markdown="\n".join(
            ["# Retrain", "", f"**{verdict}**: {result['reason']}", "", "| figure | value |", "|---|---|"]
            + [f"| {k} | {v} |" for k, v in result.items() if not isinstance(v, dict | list)]
        ),
        key="retrain-evaluation",
    )
    return {**result, "decision_id": decision_id}


if __name__ == "__main__":
    retrain()
