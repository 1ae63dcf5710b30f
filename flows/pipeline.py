"""Flow ``feedback-pipeline``: every stage in order, then a run summary (printed and as an artifact)."""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from feedbackloop.settings import get_settings
from feedbackloop.warehouse import layer_counts
from flows.cdc import cdc
from flows.embed import embed
from flows.enrich import enrich
from flows.index import index
from flows.ingest import ingest
from flows.label import label
from flows.monitor import monitor
from flows.redact import redact
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


STAGES = ("ingest", "stream", "cdc", "silver", "enrich", "redact", "embed", "label", "gold", "index", "monitor")


@flow(name="feedback-pipeline", log_prints=True)
def feedback_pipeline(only: list[str] | None = None) -> dict[str, Any]:
    """ingest + stream + cdc -> bronze -> silver -> enrich -> redact -> label + embed -> gold -> index -> monitor."""
    unknown = set(only or ()) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; the pipeline's stages are {list(STAGES)}")
    stages: dict[str, Any] = {}
    timings: dict[str, float] = {}

    def timed(name: str, fn: Any, **kwargs: Any) -> None:
        if only and name not in only:
            return
        start = time.perf_counter()
        stages[name] = fn(**kwargs)
        timings[name] = time.perf_counter() - start

    timed("ingest", ingest)
    timed("stream", stream)
    timed("cdc", cdc)
    timed("silver", transform, select="silver")
    timed("enrich", enrich)
    timed("redact", redact)
    timed("embed", tolerate_failure, stage=embed)
    timed("label", label)
    timed("gold", transform, select="gold")
    timed("index", tolerate_failure, stage=index)
    timed("monitor", monitor)
    return summarize(stages, timings)


def tolerate_failure(stage: Any) -> dict[str, Any]:
    """Run a stage whose failure must not block gold, labels or alerts; its next run catches up."""
    state = stage(return_state=True)
    if state.is_completed():
        return state.result()
    return {"status": state.type.value.lower(), "error": str(state.message or state.name)}


if __name__ == "__main__":
    feedback_pipeline()
