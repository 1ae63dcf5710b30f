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


@app.command()
def enrich() -> None:
    """Language detection, then PII redaction, for new silver feedback (flow ``enrich``)."""
    _quiet_third_parties()
    from flows.enrich import enrich as enrich_flow

    console.print_json(json.dumps(enrich_flow()))


@app.command()
def forget(
    user_id: str = typer.Option(None, "--user-id", help="The person's user id (as in the source)"),
    email: str = typer.Option(None, "--email", help="The person's email address"),
    source_system: str = typer.Option(None, "--source-system", help="Only this source's records"),
) -> None:
    """Right to erasure: remove a person from every layer, the vault and every index (flow ``forget``)."""
    _quiet_third_parties()
    from feedbackloop.governance.erasure import ErasureError, Subject, submit

    try:
        subject = Subject(user_id=user_id, email=email, source_system=source_system)
    except ErasureError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    from flows.forget import forget_person

    result = forget_person(request_key=submit(get_settings(), subject))
    if result["status"] == "not_found":
        # The identifier is not echoed: this output ends up in logs.
        console.print(f"[yellow]no records match that person[/]: nothing erased (audit request {result['request_id']})")
        raise typer.Exit(1)
    console.print_json(json.dumps(result))


@app.command()
def retention() -> None:
    """Erase what is past its source's retention period (flow ``retention``)."""
    _quiet_third_parties()
    from flows.retention import retention as retention_flow

    console.print_json(json.dumps(retention_flow()))


@app.command()
def lineage(
    doc_id: str = typer.Argument(..., help="A gold.fct_feedback doc_id, or the id of a gold aggregate row"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Where a gold row came from: source file and offset, runs and code versions, labels, actions."""
    from feedbackloop.governance.lineage import LineageNotFound, aggregate_lineage
    from feedbackloop.governance.lineage import lineage as build_lineage

    try:
        result = build_lineage(get_settings(), doc_id)
    except LineageNotFound:
        try:
            aggregate = aggregate_lineage(get_settings(), doc_id)
        except LineageNotFound as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None
        if as_json:
            console.print_json(json.dumps(aggregate.as_dict(), default=str))
            return
        console.print(f"[bold]{aggregate.table}[/] {doc_id}: {aggregate.docs} source record(s)")
        for source in aggregate.sources:
            console.print(f"  {source['doc_id']}: {source['source_file']} @ {source['source_offset']}")
        return
    if as_json:
        console.print_json(json.dumps(result.as_dict(), default=str))
        return
    from rich.tree import Tree

    tree = Tree(f"[bold]gold.fct_feedback[/] {doc_id}")
    src = result.source
    tree.add(
        f"source: {src.get('source_file')} @ offset {src.get('source_offset')} ({src.get('source_system')} "
        f"record {src.get('source_record_id')}, ingest run {src.get('ingest_run_id')})"
    )
    if result.copies:
        copies = tree.add(f"folded in: {len(result.copies)} other version(s)/duplicate(s)")
        for copy in result.copies:
            copies.add(f"{copy['doc_id']}: {copy['source_file']} @ {copy['source_offset']}")
    for role, rows in result.stages.items():
        branch = tree.add(f"{role}: {len(rows)} row(s)")
        for row in rows:
            branch.add(", ".join(f"{k}={v}" for k, v in row.items() if k != "doc_id"))
    if result.absent:
        tree.add(f"[dim]not present (stage not run): {', '.join(result.absent)}[/]")
    runs = tree.add("runs")
    for run_id, run in result.runs.items():
        runs.add(f"{run_id}: {run.get('flow_name', '?')} code {run.get('code_version') or 'unknown'}")
    console.print(tree)


access_app = typer.Typer(help="Source-level permissions from config/access.yaml, for Databricks and Elasticsearch.")
app.add_typer(access_app, name="access")


@access_app.command("sql")
def access_sql(vault_location: str = typer.Option(None, help="Vault location (default: the vault setting)")) -> None:
    """Databricks SQL for the row filter, the vault schema and its grants (dbt applies the model grants)."""
    from feedbackloop.governance.access import AccessPolicy

    settings = get_settings()
    policy = AccessPolicy.load(settings.access_policy_path)
    for statement in policy.databricks_statements(
        settings.databricks_catalog, vault_location or settings.effective_vault_uri
    ):
        print(statement + ";")


@access_app.command("elasticsearch")
def access_elasticsearch(
    index: str = typer.Option(..., help="The feedback index the aliases point at"),
    url: str = typer.Option(None, help="Apply to this Elasticsearch; without it, print the requests"),
    roles: bool = typer.Option(False, help="Also create the per-team roles (needs security enabled)"),
) -> None:
    """Per-team filtered aliases (and roles) over the feedback index."""
    from feedbackloop.governance.access import AccessPolicy

    policy = AccessPolicy.load(get_settings().access_policy_path)
    if url is None:
        print(json.dumps({"aliases": {"actions": policy.elasticsearch_aliases(index)},
                          "roles": policy.elasticsearch_roles(index)}, indent=2))  # fmt: skip
        return
    from elasticsearch import Elasticsearch

    console.print_json(json.dumps(policy.apply_elasticsearch(Elasticsearch(url), index, roles=roles)))


@app.command()
def reidentify(doc_id: str, text: str) -> None:
    """Put a doc's original values back into its redacted text (needs FEEDBACKLOOP_VAULT_URI set)."""
    from feedbackloop.governance.vault import VaultAccessError
    from feedbackloop.governance.vault import reidentify as restore

    try:
        print(restore(get_settings(), doc_id, text))
    except (VaultAccessError, KeyError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None


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
