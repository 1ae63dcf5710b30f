"""Flow ``feedback-pipeline``: every stage in order, then a run summary (printed and as an artifact)."""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from feedbackloop.settings import get_settings
from feedbackloop.warehouse import layer_counts
from flows.cdc import cdc
from flows.enrich import enrich
from flows.ingest import ingest
from flows.stream import stream
from flows.transform import transform


@task
def summarize(stages: dict[str, Any], timings: dict[str, float]) -> dict[str, Any]:
    """Counts per layer plus each stage's figures, as a dict and a markdown artifact."""
    layers = {f"{layer}.{name}": rows for layer, name, rows in layer_counts(get_settings()) if rows is not None}
    summary = {**stages, "layers": layers, "seconds": {k: round(v, 2) for k, v in timings.items()}}
    lines = ["# feedback-pipeline run", "", "| stage | figure | value |", "|---|---|---|"]
    for stage, figures in summary.items():
        for key, value in (figures or {}).items():
            if not isinstance(value, dict | list):
                lines.append(f"| {stage} | {key} | {value} |")
    create_markdown_artifact(markdown="\n".join(lines), key="feedback-pipeline-summary")
    return summary


@flow(name="feedback-pipeline", log_prints=True)
def feedback_pipeline() -> dict[str, Any]:
    """ingest + stream + cdc -> bronze -> dbt silver -> enrich -> dbt gold; later stages plug in after gold."""
    stages: dict[str, Any] = {}
    timings: dict[str, float] = {}

    def timed(name: str, fn: Any, **kwargs: Any) -> None:
        start = time.perf_counter()
        stages[name] = fn(**kwargs)
        timings[name] = time.perf_counter() - start

    timed("ingest", ingest)
    timed("stream", stream)
    timed("cdc", cdc)
    timed("silver", transform, select="silver")
    timed("enrich", enrich)
    timed("gold", transform, select="gold")
    return summarize(stages, timings)


if __name__ == "__main__":
    feedback_pipeline()
