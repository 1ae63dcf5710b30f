"""Flow ``label``: the cascade over silver docs not yet labelled; retrains the local classifier on request."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.label.stage import label_pending
from feedbackloop.label.training import retrain_local
from feedbackloop.progress import progress_bar
from feedbackloop.settings import get_settings
from flows._runtime import current_run_id


@task(retries=1, retry_delay_seconds=10)
def retrain() -> dict[str, Any]:
    """Retrain the local classifier on accepted and human-reviewed labels."""
    return retrain_local(get_settings())


@task(retries=2, retry_delay_seconds=10)
def label_new_docs(run_id: str, relabel: bool) -> dict[str, Any]:
    """Label pending docs; safe to retry: labelled docs are skipped and LLM answers are cached."""
    with progress_bar("label feedback") as update:
        return label_pending(get_settings(), run_id, relabel=relabel, progress=update)


@flow(name="label", log_prints=True)
def label(relabel: bool = False, retrain_first: bool = False) -> dict[str, Any]:
    """Label new feedback: rule tier, local classifier, LLM, review queue; reports each tier's count."""
    stats: dict[str, Any] = {}
    if retrain_first:
        stats["retrain"] = retrain()
    stats |= label_new_docs(current_run_id(), relabel)
    get_run_logger().info(
        "label: %s docs: %s rule, %s local, %s llm (%s cached), %s to review, %s queued; "
        "%s LLM calls, %s saved; %s+%s tokens, $%s",
        stats["docs_pending"], stats["rule"], stats["local"], stats["llm"], stats["llm_cache_hits"],
        stats["review"], stats["queued"], stats["llm_calls"], stats["llm_calls_saved"],
        stats["prompt_tokens"], stats["completion_tokens"], stats["cost_usd"],
    )  # fmt: skip
    return stats


if __name__ == "__main__":
    label()
