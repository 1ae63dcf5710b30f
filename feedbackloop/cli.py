"""``feedbackloop``: the command line in front of the Prefect flows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from feedbackloop.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


def _quiet_third_parties() -> None:
    # Nothing leaves loopback: Prefect and dbt telemetry off unless the user opted in explicitly.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


@app.command()
def setup() -> None:
    """One-time machine setup: the DuckDB Delta extension and the lake folders."""
    from feedbackloop.warehouse import install_duckdb_extensions

    install_duckdb_extensions()
    settings = get_settings()
    Path(settings.inbox_dir).mkdir(parents=True, exist_ok=True)
    console.print(f"[green]ready[/]: DuckDB delta extension installed; inbox at {settings.inbox_dir}")


@app.command()
def demo(
    days: int = typer.Option(None, help="Days of demo data (default from settings)"),
    seed: int = typer.Option(None, help="Random seed (default from settings)"),
) -> None:
    """Generate the demo scenario into the inbox, then run the whole pipeline over it."""
    _quiet_third_parties()
    from feedbackloop.demo.generator import DemoConfig, write_demo_inbox

    settings = get_settings()
    config = DemoConfig.from_settings(settings)
    if days is not None:
        config.days = days
    if seed is not None:
        config.seed = seed
    manifest = write_demo_inbox(config, Path(settings.inbox_dir))
    console.print(f"demo data: {manifest['totals']} -> {settings.inbox_dir}")
    _run_pipeline()


@app.command()
def run() -> None:
    """Run the whole pipeline (flow ``feedback-pipeline``) on whatever is in the inbox."""
    _quiet_third_parties()
    _run_pipeline()


def _run_pipeline() -> None:
    from flows.pipeline import feedback_pipeline

    summary = feedback_pipeline()
    _print_summary(summary)


@app.command()
def ingest() -> None:
    """Ingest new files from the inbox into bronze (flow ``ingest``)."""
    _quiet_third_parties()
    from flows.ingest import ingest as ingest_flow

    stats = ingest_flow()
    console.print_json(json.dumps(stats))


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default from settings)"),
    port: int = typer.Option(None, help="Port (default from settings)"),
    workers: int = typer.Option(1, help="uvicorn worker processes"),
) -> None:
    """Run the webhook receiver: signed POST /webhooks/{source} -> landing zone; /health, /metrics."""
    from feedbackloop.stream.receiver import serve as serve_receiver

    settings = get_settings()
    if host is not None:
        os.environ["FEEDBACKLOOP_SERVE_HOST"] = settings.serve_host = host
    if port is not None:
        os.environ["FEEDBACKLOOP_SERVE_PORT"] = str(port)
        settings.serve_port = port
    console.print(f"receiving webhooks on http://{settings.serve_host}:{settings.serve_port} -> {settings.landing_uri}")
    serve_receiver(settings, workers=workers)


@app.command()
def stream() -> None:
    """Land new webhook deliveries from the landing zone in bronze (flow ``stream``)."""
    _quiet_third_parties()
    from flows.stream import stream as stream_flow

    console.print_json(json.dumps(stream_flow()))


@app.command()
def cdc(
    follow: bool = typer.Option(False, help="Keep capturing until interrupted instead of stopping when caught up"),
    resync: bool = typer.Option(False, help="Drop the slot and re-synchronise from a snapshot (after a TRUNCATE)"),
    max_seconds: float = typer.Option(None, help="Longest bounded run (default from settings)"),
) -> None:
    """Capture PostgreSQL changes into bronze (flow ``cdc``; --follow/--resync run it directly)."""
    _quiet_third_parties()
    if follow or resync:
        from feedbackloop.cdc.postgres import capture

        stats = capture(get_settings(), "cli", max_seconds=max_seconds, follow=follow, resync=resync).as_dict()
    else:
        from flows.cdc import cdc as cdc_flow

        stats = cdc_flow(max_seconds=max_seconds)
    console.print_json(json.dumps(stats))


@app.command()
def transform(select: str = typer.Option("silver gold", help="dbt selection")) -> None:
    """Build silver and gold with dbt (flow ``transform``)."""
    _quiet_third_parties()
    from flows.transform import transform as transform_flow

    console.print_json(json.dumps(transform_flow(select=select)))


@app.command()
def status() -> None:
    """Row counts per layer and the latest ingest checkpoint entries."""
    from feedbackloop.warehouse import layer_counts

    table = Table("layer", "table", "rows", title="feedbackloop lake")
    for layer, name, rows in layer_counts(get_settings()):
        table.add_row(layer, name, "-" if rows is None else f"{rows:,}")
    console.print(table)


def _print_summary(summary: dict) -> None:
    table = Table("stage", "figure", "value", title="run summary")
    for stage, figures in summary.items():
        if isinstance(figures, dict):
            for key, value in figures.items():
                if not isinstance(value, dict | list):
                    table.add_row(stage, key, f"{value:,}" if isinstance(value, int) else str(value))
        else:
            table.add_row(stage, "", str(figures))
    console.print(table)


if __name__ == "__main__":
    app()
