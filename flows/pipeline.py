"""Flow ``feedback-pipeline``: every stage in order, then a run summary (printed and as an artifact)."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, cast

from prefect import Flow, Task, flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from feedbackloop.settings import get_settings
from feedbackloop.warehouse import layer_counts
from flows.act import act
from flows.cdc import cdc
from flows.drift import drift
from flows.embed import embed
from flows.enrich import enrich
from flows.index import index
from flows.ingest import ingest
from flows.label import label
from flows.monitor import monitor
from flows.redact import redact
from flows.stream import stream
from flows.transform import transform


def _figures(figures: Any, limit: int = 6) -> str:
    """A stage's scalar figures as ``name=value`` pairs, the first few only (the artifact stays small)."""
    if not isinstance(figures, dict):
        return str(figures)
    scalars = {k: v for k, v in figures.items() if not isinstance(v, dict | list) and k not in ("status", "error")}
    pairs = [f"{k}={v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k}={v}" for k, v in scalars.items()]
    return ", ".join(pairs[:limit]) + (" ..." if len(pairs) > limit else "")


def stage_rows(stages: dict[str, Any], timings: dict[str, float]) -> list[dict[str, Any]]:
    """One row per stage that ran: status (failed stages carry their error), seconds, key figures."""
    rows = []
    for name, figures in stages.items():
        failed = isinstance(figures, dict) and figures.get("status") in ("failed", "crashed", "cancelled")
        rows.append({
            "stage": name,
            "status": "failed" if failed else "ok",
            "seconds": round(timings.get(name, 0.0), 2),
            "figures": str(figures.get("error")) if failed else _figures(figures),
        })  # fmt: skip
    return rows


def report_links(stages: dict[str, Any]) -> dict[str, str]:
    """Files a stage wrote for people to open (``*_path`` figures, e.g. the drift report), by label."""
    return {
        f"{stage} {key.removesuffix('_path')}": str(value)
        for stage, figures in stages.items()
        if isinstance(figures, dict)
        for key, value in figures.items()
        if key.endswith("_path") and isinstance(value, str) and value
    }


def summary_markdown(rows: list[dict[str, Any]], layers: dict[str, int], links: dict[str, str] | None = None) -> str:
    """The run's Prefect artifact: a headline, a stage table, report links and gold's row counts."""
    failed = [r["stage"] for r in rows if r["status"] != "ok"]
    total = sum(r["seconds"] for r in rows)
    headline = f"**{len(rows)} stage(s) in {total:,.1f} s**, " + (
        f"failed: {', '.join(failed)} (the next run catches up)" if failed else "all ok"
    )
    lines = [
        "# feedback-pipeline run",
        "",
        headline,
        "",
        "| stage | status | seconds | figures |",
        "|---|---|---:|---|",
    ]
    lines += [f"| {r['stage']} | {r['status']} | {r['seconds']} | {r['figures'].replace('|', '/')} |" for r in rows]
    if links:
        lines += [""] + [f"- {label}: [{Path(p).name}]({Path(p).resolve().as_uri()})" for label, p in links.items()]
    gold = {name: rows for name, rows in layers.items() if name.startswith("gold.")}
    quarantined = layers.get("bronze.quarantine")
    if gold or quarantined is not None:
        lines += ["", "| table | rows |", "|---|---:|"]
        lines += [f"| {name} | {count:,} |" for name, count in gold.items()]
        if quarantined is not None:
            lines.append(f"| bronze.quarantine | {quarantined:,} |")
    lines += ["", "Look at it: `feedbackloop ui` (overview, incidents, review queue, search)."]
    return "\n".join(lines)


@task
def summarize(stages: dict[str, Any], timings: dict[str, float]) -> dict[str, Any]:
    """Counts per layer plus each stage's figures, as a dict, a markdown artifact and a table artifact."""
    layers = {f"{layer}.{name}": rows for layer, name, rows in layer_counts(get_settings()) if rows is not None}
    summary = {**stages, "layers": layers, "seconds": {k: round(v, 2) for k, v in timings.items()}}
    rows = stage_rows(stages, timings)
    markdown = summary_markdown(rows, layers, report_links(stages))
    create_markdown_artifact(markdown=markdown, key="feedback-pipeline-summary")
    create_table_artifact(table=rows, key="feedback-pipeline-stages", description="one row per stage of this run")
    return summary


def as_stage(stage: Flow[..., Any]) -> Task[..., Any]:
    """A stage's flow as a task of this run: the same function and name, its own tasks nested inside.

    A subflow run costs about 0.1 s of API round trips (created, two state changes, read back), a
    task run reports through events; the stage flows stay as they are for their own deployments.
    No tags: a tagged task run asks the API for concurrency slots before it starts.
    """
    return task(name=stage.name, log_prints=True, cache_policy=NO_CACHE)(stage.fn)


STAGES = (
    "ingest", "stream", "cdc", "silver", "enrich", "redact", "embed", "label", "gold",
    "index", "monitor", "drift", "act",
)  # fmt: skip


def parse_ahead(only: list[str] | None = None, keep_open: ExitStack | None = None) -> None:
    """Parse the dbt project before the run, when a layer build will run here (not as a Databricks job).

    `feedbackloop run` calls it while Prefect's temporary API starts, time it would spend waiting,
    and with ``keep_open``, the warehouse stays open for the run's builds until that stack closes.
    """
    settings = get_settings()
    if settings.dbt_runner == "local" and (not only or {"silver", "gold"} & set(only)):
        from feedbackloop.transform.dbt import parse_ahead as parse_project
        from feedbackloop.transform.dbt import warehouse_kept_open

        if keep_open is not None:
            keep_open.enter_context(warehouse_kept_open(settings))
        parse_project(settings)


@flow(name="feedback-pipeline", log_prints=True)
def feedback_pipeline(only: list[str] | None = None, force: bool = False) -> dict[str, Any]:
    """Every stage in order: bronze -> silver -> redact -> label + embed -> gold -> index -> monitor -> drift -> act.

    ``force`` rebuilds silver and gold even when no input changed (the daily full pass).
    """
    unknown = set(only or ()) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; the pipeline's stages are {list(STAGES)}")
    stages: dict[str, Any] = {}
    timings: dict[str, float] = {}

    def timed(name: str, stage: Flow[..., Any], tolerate: bool = False, **kwargs: Any) -> None:
        if only and name not in only:
            return
        start = time.perf_counter()
        run = as_stage(stage)
        stages[name] = tolerate_failure(run, **kwargs) if tolerate else run(**kwargs)
        timings[name] = time.perf_counter() - start

    timed("ingest", ingest)
    timed("stream", stream)
    timed("cdc", cdc)
    timed("silver", transform, select="silver", force=force)
    timed("enrich", enrich)
    timed("redact", redact)
    timed("embed", embed, tolerate=True)
    timed("label", label)
    timed("gold", transform, select="gold", force=force)
    timed("index", index, tolerate=True)
    timed("monitor", monitor)
    timed("drift", drift, tolerate=True)
    timed("act", act)
    return summarize(stages, timings)


def tolerate_failure(stage: Task[..., Any], **kwargs: Any) -> dict[str, Any]:
    """Run a stage whose failure must not block gold, labels or alerts; its next run catches up."""
    state = cast("State[Any]", stage(return_state=True, **kwargs))  # a sync task's state, not a coroutine
    if state.is_completed():
        return state.result()
    return {"status": state.type.value.lower(), "error": str(state.message or state.name)}


if __name__ == "__main__":
    from flows._runtime import run_pipeline

    run_pipeline()
