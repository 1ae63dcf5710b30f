"""``feedbackloop``: the command line in front of the Prefect flows."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from feedbackloop.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


# Prefect set up for a command's flow runs (flows/_runtime.local_runs), held until the command ends.
_run_settings = contextlib.ExitStack()


@app.callback()
def _each_command(ctx: typer.Context) -> None:
    # A command's Prefect setup (_prepare_runs) ends with the command, and its temporary API stops
    # then, also when one process runs several commands (tests, notebooks).
    ctx.call_on_close(_run_settings.close)


def _quiet_telemetry() -> None:
    """Nothing leaves loopback: Prefect and dbt telemetry off unless the user opted in explicitly."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _prepare_runs() -> None:
    """Before a command runs a flow: telemetry off, and Prefect set up for this command's runs."""
    _quiet_telemetry()
    from flows._runtime import local_runs

    _run_settings.close()
    _run_settings.enter_context(local_runs())


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
    _quiet_telemetry()
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
    _print_scorecard(manifest)


def _print_scorecard(manifest: dict) -> None:
    """What a newcomer should look at next: planted incidents found or not, the drift report, the console."""
    from feedbackloop.demo.scorecard import detected_incidents, scorecard
    from feedbackloop.drift.stage import reports_dir

    settings = get_settings()
    rows, others = scorecard(manifest, detected_incidents(settings))
    # lines, not a table: a wide table truncates to nothing in an 80-column terminal or a CI log
    console.print("[bold]planted incidents[/] (lake/demo_manifest.json, docs/demo-scenario.md) vs the monitor:")
    for row in rows:
        planted, found = row["planted"], row["detected"]
        console.print(f"  {planted['id']} ({planted['category']}/{planted['product']}), onset {planted['onset']}")
        if not found:
            console.print("    [red]not detected[/]")
            continue
        console.print(
            f"    [green]detected[/] {found['detected_at']:%Y-%m-%d %H:%M} (data time), "
            f'{row["hours_to_detection"]:.1f} h after onset, as {found["incident_id"]} "{found["name"]}": '
            f"{found['member_count']} complaints, {found['telemetry_rows']} telemetry evidence rows"
        )
    console.print(f"other incidents opened: {len(others)}")
    report = reports_dir(settings) / "latest.html"
    drift = report if report.exists() else "not written (see the drift stage's figures)"
    console.print(f"next: [bold]feedbackloop incidents[/] (evidence), [bold]feedbackloop ui[/], drift: {drift}")


@app.command()
def run(
    only: list[str] = typer.Option(None, "--only", help="Run just these stages, e.g. --only ingest --only silver"),
    force: bool = typer.Option(False, help="Rebuild silver and gold even if no input changed (full pass)"),
) -> None:
    """Run the whole pipeline (flow ``feedback-pipeline``) on whatever is in the inbox."""
    _quiet_telemetry()
    _run_pipeline(only or None, force=force)


def _run_pipeline(only: list[str] | None = None, force: bool = False) -> None:
    from flows._runtime import run_pipeline

    _print_summary(run_pipeline(only, force))


@app.command()
def ingest() -> None:
    """Ingest new files from the inbox into bronze (flow ``ingest``)."""
    _prepare_runs()
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
def ui(
    host: str = typer.Option(None, help="Bind address (default from settings: loopback)"),
    port: int = typer.Option(None, help="Port (default from settings)"),
) -> None:
    """Open the operator console: overview, incidents, actions, review queue and search in a browser."""
    from feedbackloop.console.app import serve as serve_console

    settings = get_settings()
    host, port = host or settings.ui_host, port or settings.ui_port
    console.print(f"feedbackloop console on http://{host}:{port}  (lake {settings.lake_uri}; Ctrl-C stops it)")
    serve_console(settings, host, port)


@app.command()
def stream() -> None:
    """Land new webhook deliveries from the landing zone in bronze (flow ``stream``)."""
    _prepare_runs()
    from flows.stream import stream as stream_flow

    console.print_json(json.dumps(stream_flow()))


@app.command()
def cdc(
    follow: bool = typer.Option(False, help="Keep capturing until interrupted instead of stopping when caught up"),
    resync: bool = typer.Option(False, help="Drop the slot and re-synchronise from a snapshot (after a TRUNCATE)"),
    max_seconds: float = typer.Option(None, help="Longest bounded run (default from settings)"),
) -> None:
    """Capture PostgreSQL changes into bronze (flow ``cdc``; --follow/--resync run it directly)."""
    _prepare_runs()
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
    _prepare_runs()
    from flows.transform import transform as transform_flow

    console.print_json(json.dumps(transform_flow(select=select)))


@app.command()
def embed() -> None:
    """Embed new or changed feedback and refresh near-duplicate links (flow ``embed``)."""
    _prepare_runs()
    from flows.embed import embed as embed_flow

    console.print_json(json.dumps(embed_flow(), default=str))


@app.command("index")
def index_command() -> None:
    """Sync the vector index with gold (flow ``index``)."""
    _prepare_runs()
    from flows.index import index as index_flow

    console.print_json(json.dumps(index_flow(), default=str))


@app.command()
def drift(
    as_of: datetime = typer.Option(None, help="End of the current window (default: from monitors/drift.yaml)"),
) -> None:
    """Evidently drift report (current vs reference window) and the retrain decision (flow ``drift``)."""
    _prepare_runs()
    from flows.drift import drift as drift_flow

    result = drift_flow(as_of=as_of.replace(tzinfo=as_of.tzinfo or UTC) if as_of else None)
    console.print_json(json.dumps(result, default=str))
    report = result["html_path"] or result["json_path"]
    console.print(f"report: {report}" + (f" (skipped: {result['skip_reason']})" if result["skip_reason"] else ""))
    if result["should_retrain"]:
        console.print(f"decision: retrain candidate ({', '.join(result['reasons'])})")
    elif result["suppressed_by"]:
        console.print(f"decision: no retrain, {result['suppressed_by']} ({', '.join(result['reasons'])})")
    else:
        console.print("decision: no retrain (no signal fired)")


@app.command()
def retrain(
    decision_id: str = typer.Option(None, help="The retrain decision this answers (gold.fct_retrain_decisions)"),
) -> None:
    """Retrain the local classifier; promote it only if not worse on the holdout (flow ``retrain``)."""
    _prepare_runs()
    from flows.retrain import retrain as retrain_flow

    result = retrain_flow(decision_id=decision_id)
    console.print_json(json.dumps(result, default=str))
    console.print(("promoted: " if result["promoted"] else "kept the current model: ") + result["reason"])


@app.command("monitor")
def monitor_command(
    as_of: str = typer.Option(None, help="Evaluate as of this UTC time (ISO 8601); default: the newest labelled item"),
) -> None:
    """Cluster new complaints, evaluate monitors/rules.yaml, open or update incidents (flow ``monitor``)."""
    _prepare_runs()
    from datetime import UTC, datetime

    from feedbackloop.incidents.rules import RuleFileError, load_rules

    try:
        load_rules(get_settings().monitor_rules_path)
    except RuleFileError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    when = None
    if as_of:
        when = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    from flows.monitor import monitor as monitor_flow

    console.print_json(json.dumps(monitor_flow(as_of=when), default=str))


@app.command("incidents")
def incidents_command(
    status: str = typer.Option("open", help="open, resolved or all"),
    as_json: bool = typer.Option(False, "--json", help="Full rows with evidence as JSON"),
) -> None:
    """List incidents with their evidence: complaints, similar tickets and telemetry."""
    from feedbackloop.incidents.report import list_incidents

    if status not in {"open", "resolved", "all"}:
        raise typer.BadParameter(f"status must be open, resolved or all, not {status!r}")
    rows = list_incidents(get_settings(), None if status == "all" else status)
    if as_json:
        console.print_json(json.dumps(rows, default=str))
        return
    table = Table("incident", "name", "category", "product", "severity", "members", "first seen", "detected",
                  "rules", "telemetry", "deploy", title=f"{status} incidents")  # fmt: skip
    for i in rows:
        table.add_row(
            i["incident_id"], i["name"], i["category"], i["product"],
            i["severity"] + (" !" if i["is_escalated"] else ""), str(i["member_count"]), str(i["first_seen_at"])[:16],
            str(i["detected_at"])[:16], ",".join(i["rule_ids"]), str(i["telemetry_rows"]), i["usual_deploy_sha"] or "",
        )  # fmt: skip
    console.print(table)


FILTER_HELP = "Repeat or comma-separate for several values"


def _filters(**options: list[str] | None) -> dict[str, list[str]]:
    return {
        name: [v.strip() for value in values for v in value.split(",") if v.strip()]
        for name, values in options.items()
        if values
    }


@app.command("search")
def search_command(
    text: str = typer.Argument(..., help="What to look for, in plain words"),
    k: int = typer.Option(10, "-k", "--k", help="How many results"),
    source: list[str] = typer.Option(None, "--source", help=FILTER_HELP),
    locale: list[str] = typer.Option(None, "--locale", help=FILTER_HELP),
    platform: list[str] = typer.Option(None, "--platform", help=FILTER_HELP),
    severity: list[str] = typer.Option(None, "--severity", help=FILTER_HELP),
    category: list[str] = typer.Option(None, "--category", help=FILTER_HELP),
    since: str = typer.Option(None, "--since", help="event_at on or after (ISO date or timestamp, UTC)"),
    until: str = typer.Option(None, "--until", help="event_at before (ISO date or timestamp, UTC)"),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON"),
) -> None:
    """Semantic search over indexed feedback (hybrid lexical + vector on Elasticsearch)."""
    from feedbackloop.index.base import make_filters
    from feedbackloop.index.search import search

    options = _filters(source=source, locale=locale, platform=platform, severity=severity, category=category)
    _run_search(lambda: search(get_settings(), text, make_filters(options, since, until), k), as_json)


@app.command("more-like-this")
def more_like_this_command(
    doc_id: str = typer.Argument(..., help="The doc_id to find similar feedback for"),
    k: int = typer.Option(10, "-k", "--k", help="How many results"),
    source: list[str] = typer.Option(None, "--source", help=FILTER_HELP),
    locale: list[str] = typer.Option(None, "--locale", help=FILTER_HELP),
    platform: list[str] = typer.Option(None, "--platform", help=FILTER_HELP),
    severity: list[str] = typer.Option(None, "--severity", help=FILTER_HELP),
    category: list[str] = typer.Option(None, "--category", help=FILTER_HELP),
    since: str = typer.Option(None, "--since", help="event_at on or after (ISO date or timestamp, UTC)"),
    until: str = typer.Option(None, "--until", help="event_at before (ISO date or timestamp, UTC)"),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON"),
) -> None:
    """Feedback most similar to one doc (the doc itself excluded)."""
    from feedbackloop.index.base import make_filters
    from feedbackloop.index.search import more_like_this

    options = _filters(source=source, locale=locale, platform=platform, severity=severity, category=category)
    _run_search(lambda: more_like_this(get_settings(), doc_id, make_filters(options, since, until), k), as_json)


def _run_search(run: Callable[[], list], as_json: bool) -> None:
    from feedbackloop.index.base import SearchIndexError

    try:
        results = run()
    except (ValueError, LookupError, SearchIndexError) as error:
        console.print(f"[red]error[/]: {error}")
        raise typer.Exit(2) from error
    if as_json:
        print(json.dumps([r.as_dict() for r in results], default=str))
        return
    if not results:
        console.print("no matching feedback")
    for rank, result in enumerate(results, 1):
        labels = ", ".join(f"{k}={v}" for k, v in result.labels.items()) or "no labels yet"
        shown = {k: result.fields.get(k) for k in ("source_system", "platform", "locale", "event_at")}
        meta = ", ".join(f"{k}={v}" for k, v in shown.items() if v)
        console.print(f"[bold]{rank}. {result.doc_id}[/]  score {result.score:.4f}  [dim]{meta}[/]")
        console.print(f"   {(result.text or '').strip()[:300]}", markup=False, highlight=False)
        console.print(f"   labels: {labels}", markup=False, highlight=False)
        for reason in result.why:
            console.print(f"   why: {reason}", markup=False, highlight=False)


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
    """Language detection for new silver feedback (flow ``enrich``)."""
    _prepare_runs()
    from flows.enrich import enrich as enrich_flow

    console.print_json(json.dumps(enrich_flow()))


@app.command()
def redact() -> None:
    """PII redaction for new silver feedback; the mapping goes to the vault (flow ``redact``)."""
    _prepare_runs()
    from flows.redact import redact as redact_flow

    console.print_json(json.dumps(redact_flow()))


@app.command()
def forget(
    user_id: str = typer.Option(None, "--user-id", help="The person's user id (as in the source)"),
    email: str = typer.Option(None, "--email", help="The person's email address"),
    source_system: str = typer.Option(None, "--source-system", help="Only this source's records"),
) -> None:
    """Right to erasure: remove a person from every layer, the vault and every index (flow ``forget``)."""
    _prepare_runs()
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
    _prepare_runs()
    from flows.retention import retention as retention_flow

    console.print_json(json.dumps(retention_flow()))


@app.command()
def maintain() -> None:
    """Compact small Delta files and vacuum unreferenced ones, table by table (flow ``maintain``)."""
    _prepare_runs()
    from feedbackloop.lake_maintenance import describe
    from flows.maintain import maintain as maintain_flow

    result = maintain_flow()
    for table in result["tables"]:
        line = describe(table)
        if line:
            console.print(line, style="red" if table["error"] else None, markup=False)
    console.print(
        f"[bold]{len(result['tables'])} tables[/]: {result['files_compacted']} files compacted, "
        f"{result['files_vacuumed']} vacuumed, {result['tables_failed']} failed"
    )
    if result["tables_failed"]:
        raise typer.Exit(1)


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


@app.command()
def label(
    input: Path | None = typer.Option(None, "--input", help="Label this CSV/JSONL file instead of the lake"),
    text_column: str = typer.Option("text", help="Column holding the feedback text (with --input)"),
    output: Path | None = typer.Option(None, help="JSONL to write (with --input)"),
    taxonomy: Path | None = typer.Option(None, help="Taxonomy YAML (default from settings)"),
    id_column: str | None = typer.Option(None, help="Column to carry through as the row id (with --input)"),
    relabel: bool = typer.Option(False, help="Relabel docs labelled with another prompt, model or taxonomy"),
    retrain: bool = typer.Option(False, help="Retrain the local classifier on accepted labels first"),
) -> None:
    """Label feedback: the lake's new silver docs (flow ``label``), or any file with --input/--output."""
    _prepare_runs()
    settings = get_settings()
    if input is None:
        if taxonomy is not None:
            settings = settings.model_copy(update={"label_taxonomy_path": taxonomy})
            os.environ["FEEDBACKLOOP_LABEL_TAXONOMY_PATH"] = str(taxonomy)
            get_settings.cache_clear()
        from flows.label import label as label_flow

        console.print_json(json.dumps(label_flow(relabel=relabel, retrain_first=retrain), default=str))
        return
    if output is None:
        raise typer.BadParameter("--output is required with --input", param_hint="--output")
    from feedbackloop.label.stage import label_file

    try:
        stats = label_file(settings, input, text_column, output, "cli-" + os.urandom(4).hex(), taxonomy, id_column)
    except (ValueError, FileNotFoundError) as error:
        console.print(f"[red]error[/]: {error}")
        raise typer.Exit(2) from None
    console.print_json(json.dumps(stats, default=str))


@app.command(name="eval")
def eval_(
    input: Path = typer.Option(..., "--input", help="CSV/JSONL with gold labels and predictions"),
    gold_column: str = typer.Option(..., help="Column with the gold label"),
    pred_column: str = typer.Option("category", help="Column with the predicted label"),
    mapping: Path | None = typer.Option(None, help="YAML mapping gold label -> taxonomy category"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Accuracy, macro-F1, per-class scores and a confusion matrix against gold labels."""
    from feedbackloop.label.evaluate import evaluate_file

    try:
        report = evaluate_file(input, gold_column, pred_column, mapping)
    except (ValueError, FileNotFoundError) as error:
        console.print(f"[red]error[/]: {error}")
        raise typer.Exit(2) from None
    if as_json:
        console.print_json(json.dumps(report.as_dict()))
        return
    console.print(f"n={report.n}  accuracy={report.accuracy:.4f}  macro-F1={report.macro_f1:.4f}")
    for note in report.notes:
        console.print(f"[yellow]{note}[/]")
    scores = Table("label", "precision", "recall", "f1", "support", title="per class")
    for name, c in report.per_class.items():
        scores.add_row(name, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"]))
    console.print(scores)
    matrix = Table("gold \\ predicted", *report.labels, "(other)", title="confusion matrix")
    for name, row in zip(report.labels, report.confusion, strict=True):
        matrix.add_row(name, *map(str, row))
    console.print(matrix)


review_app = typer.Typer(no_args_is_help=True, help="The human review queue: list, accept, correct, export, import.")
app.add_typer(review_app, name="review")


@review_app.command("list")
def review_list(
    limit: int = typer.Option(50, help="At most this many items"),
    reason: str | None = typer.Option(None, help="Only this reason (low_confidence, conflict, ...)"),
) -> None:
    """Items waiting for review, oldest first, with the reason and the model's proposal."""
    from feedbackloop.label.review import open_queue

    items = open_queue(get_settings(), limit=limit, reason=reason)
    table = Table("doc_id", "reason", "proposed", "confidence", "text", title=f"review queue ({len(items)} shown)")
    for item in items:
        confidence = item.get("confidence")
        table.add_row(
            item["doc_id"],
            item["review_reason"],
            str(item.get("proposed_category")),
            "-" if confidence is None else f"{confidence:.2f}",
            (item.get("redacted_text") or "")[:80],
        )
    console.print(table)


def _apply_reviews(decisions: list) -> None:
    from feedbackloop.label.review import record_reviews
    from feedbackloop.label.taxonomy import load_taxonomy

    settings = get_settings()
    written, errors = record_reviews(settings, load_taxonomy(settings.label_taxonomy_path), decisions)
    for error in errors:
        console.print(f"[red]rejected[/]: {error}")
    console.print(f"{written} review(s) recorded; they override model labels at the next gold build")
    if errors:
        raise typer.Exit(1)


@review_app.command("accept")
def review_accept(
    doc_ids: list[str] = typer.Argument(..., help="doc_id(s) whose label is right"),
    reviewer: str = typer.Option(..., help="Who decided"),
    note: str | None = typer.Option(None),
) -> None:
    """Accept the model's label as it is."""
    from feedbackloop.label.review import ReviewDecision

    _apply_reviews([ReviewDecision(doc_id=d, reviewer=reviewer, action="accept", note=note) for d in doc_ids])


@review_app.command("correct")
def review_correct(
    doc_id: str = typer.Argument(..., help="doc_id whose label is wrong"),
    reviewer: str = typer.Option(..., help="Who decided"),
    category: str | None = typer.Option(None),
    sublabel: str | None = typer.Option(None),
    severity: str | None = typer.Option(None),
    sentiment: str | None = typer.Option(None, help="negative, neutral or positive"),
    action: str | None = typer.Option(None, help="recommended action"),
    note: str | None = typer.Option(None),
) -> None:
    """Correct one or more fields of a label; the before and after values are kept."""
    from feedbackloop.label.review import ReviewDecision

    changes = {
        "category": category, "sublabel": sublabel, "severity": severity,
        "sentiment_label": sentiment, "recommended_action": action,
    }  # fmt: skip
    _apply_reviews([ReviewDecision(doc_id=doc_id, reviewer=reviewer, action="correct", changes=changes, note=note)])


@review_app.command("export")
def review_export(
    output: Path = typer.Option(..., help="JSON file to write"),
    format: str = typer.Option("label_studio", help="label_studio or argilla"),
    limit: int | None = typer.Option(None),
) -> None:
    """Export the open queue as Label Studio tasks (plus the labeling config) or Argilla records."""
    from feedbackloop.label.exchange import export_queue, label_studio_config
    from feedbackloop.label.review import open_queue
    from feedbackloop.label.taxonomy import load_taxonomy

    if format not in ("label_studio", "argilla"):
        raise typer.BadParameter("format must be label_studio or argilla", param_hint="--format")
    settings = get_settings()
    records = export_queue(open_queue(settings, limit=limit), format)  # type: ignore[arg-type]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(records, indent=1, default=str, ensure_ascii=False))
    if format == "label_studio":
        config = output.with_suffix(".label_config.xml")
        config.write_text(label_studio_config(load_taxonomy(settings.label_taxonomy_path)))
        console.print(f"labeling interface: {config}")
    console.print(f"{len(records)} item(s) -> {output}")


@review_app.command("import")
def review_import(
    input: Path = typer.Option(..., "--input", help="Annotated export (JSON array)"),
    format: str = typer.Option("label_studio", help="label_studio or argilla"),
) -> None:
    """Turn annotations back into accept / correct decisions."""
    from feedbackloop.label.exchange import import_answers
    from feedbackloop.label.review import latest_labels

    if format not in ("label_studio", "argilla"):
        raise typer.BadParameter("format must be label_studio or argilla", param_hint="--format")
    records = json.loads(input.read_text())
    if not isinstance(records, list):
        console.print(f"[red]error[/]: {input}: expected a JSON array of {format} records")
        raise typer.Exit(2)
    doc_ids = [str(r.get("data", {}).get("doc_id") if format == "label_studio" else r.get("id")) for r in records]
    proposals = latest_labels(get_settings(), doc_ids)
    decisions, problems = import_answers(records, format, proposals)  # type: ignore[arg-type]
    for problem in problems:
        console.print(f"[red]skipped[/]: {problem}")
    _apply_reviews(decisions)


llm_app = typer.Typer(no_args_is_help=True, help="The local llama.cpp OpenAI-compatible server (the `llm` extra).")
app.add_typer(llm_app, name="llm-server")


def _pid_file() -> Path:
    settings = get_settings()
    return Path(settings.llm_model_cache_dir) / f"llama-server-{settings.llm_server_port}.pid"


@llm_app.command("start")
def llm_start() -> None:
    """Start the server in the background with the packaged model from settings."""
    from feedbackloop.label.llama_server import LlamaServer, LlamaServerUnavailable

    try:
        server = LlamaServer.from_settings(get_settings()).start()
    except LlamaServerUnavailable as error:
        console.print(f"[red]error[/]: {error}")
        raise typer.Exit(1) from None
    assert server.process is not None
    _pid_file().write_text(str(server.process.pid))
    console.print(f"[green]serving[/] {server.model_path.name} at {server.base_url} (pid {server.process.pid})")


@llm_app.command("stop")
def llm_stop() -> None:
    """Stop the server started by ``llm-server start``."""
    import signal

    pid_file = _pid_file()
    if not pid_file.is_file():
        console.print("no server started by feedbackloop is recorded")
        return
    pid = int(pid_file.read_text())
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    pid_file.unlink()
    console.print(f"stopped pid {pid}")


@llm_app.command("status")
def llm_status() -> None:
    """Whether the configured local server answers."""
    from feedbackloop.label.llama_server import LlamaServer, LlamaServerUnavailable

    try:
        server = LlamaServer.from_settings(get_settings())
    except LlamaServerUnavailable as error:
        console.print(f"[yellow]unavailable[/]: {error}")
        raise typer.Exit(1) from None
    healthy = server.healthy()
    console.print(f"{server.base_url}: {'[green]up[/]' if healthy else '[red]down[/]'}")
    raise typer.Exit(0 if healthy else 1)


@app.command("smoke-test")
def smoke_test(as_json: bool = typer.Option(False, "--json", help="Print the results as JSON")) -> None:
    """Check connectivity to every configured backend; exits 1 if any check fails."""
    _prepare_runs()
    from feedbackloop.smoke import run_smoke_test

    results = run_smoke_test(get_settings())
    if as_json:
        print(json.dumps([{**vars(r), "seconds": round(r.seconds, 3)} for r in results], indent=2))
    else:
        colour = {"pass": "green", "fail": "red", "skip": "yellow"}
        table = Table("check", "status", "target", "detail", "s", title="feedbackloop smoke test")
        for r in results:
            table.add_row(r.name, f"[{colour[r.status]}]{r.status.upper()}[/]", r.target, r.detail, f"{r.seconds:.2f}")
        console.print(table)
    if any(r.status == "fail" for r in results):
        raise typer.Exit(1)


@app.command("settings-doc")
def settings_doc(check: bool = typer.Option(False, help="Only report whether docs/settings.md is up to date")) -> None:
    """Regenerate docs/settings.md (every FEEDBACKLOOP_* setting) from the Settings class."""
    from feedbackloop.settings_doc import DOC_PATH, render, write

    if check:
        current = DOC_PATH.read_text() if DOC_PATH.exists() else ""
        if current != render():
            console.print(f"[red]{DOC_PATH} is out of date[/]: run `feedbackloop settings-doc`")
            raise typer.Exit(1)
        console.print(f"{DOC_PATH} is up to date")
        return
    console.print(f"wrote {write()}")


@app.command("prefect-setup")
def prefect_setup(
    work_pool: str = typer.Option("feedbackloop-process", help="Process work pool the deployments use"),
) -> None:
    """One-time Prefect setup: the work pool, and a Secret block per secret set in the environment."""
    _prepare_runs()
    from feedbackloop.secrets import push_secret_blocks

    created = _ensure_process_pool(work_pool)
    table = Table("object", "outcome", title=f"Prefect: {os.environ.get('PREFECT_API_URL') or 'ephemeral API'}")
    table.add_row(f"work pool {work_pool}", "created" if created else "exists")
    for block, outcome in push_secret_blocks(get_settings()):
        table.add_row(f"secret block {block}", outcome)
    console.print(table)
    console.print("workers: set FEEDBACKLOOP_SECRETS_BACKEND=prefect and leave the secrets out of their environment")


def _ensure_process_pool(name: str) -> bool:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
        except ObjectAlreadyExists:
            return False
    return True


@app.command("act")
def act_command(
    retry_failed: bool = typer.Option(False, help="Send actions marked failed (after fixing the sink or matrix)"),
) -> None:
    """Deliver actions for open incidents and retrain decisions (flow ``act``), then record run metrics."""
    _prepare_runs()
    from feedbackloop.act.decisions import DecisionsError, load_decisions

    try:
        load_decisions(get_settings().decisions_path)
    except DecisionsError as error:
        console.print(f"[red]error[/]: {error}")
        raise typer.Exit(2) from None
    from flows.act import act as act_flow

    console.print_json(json.dumps(act_flow(retry_failed=retry_failed), default=str))


@app.command("actions")
def actions_command(
    status: str | None = typer.Option(None, help="Only actions with this status: pending, sent or failed"),
    limit: int = typer.Option(50, min=1, help="Most recently updated first"),
    as_json: bool = typer.Option(False, "--json", help="Print rows as JSON"),
) -> None:
    """List the outbox: every action, its owner, sink, status, ticket and last error."""
    from feedbackloop.act.outbox import read_actions
    from feedbackloop.lake import Lake

    rows = sorted(read_actions(Lake(get_settings())).values(), key=lambda r: r["updated_at"], reverse=True)
    rows = [r for r in rows if status is None or r["status"] == status][:limit]
    keys = ("action_id", "kind", "source_id", "owner", "sink", "status", "external_id", "external_url",
            "attempts", "updates_sent", "last_error", "updated_at")  # fmt: skip
    if as_json:
        console.print_json(json.dumps([{k: r[k] for k in keys} for r in rows], default=str))
        return
    table = Table("action", "kind", "source", "owner", "sink", "status", "ticket", "tries", "last error",
                  title=f"{len(rows)} action(s)")  # fmt: skip
    for r in rows:
        table.add_row(r["action_id"][:10], r["kind"], r["source_id"], r["owner"], r["sink"], r["status"],
                      r["external_id"] or "", str(r["attempts"]), (r["last_error"] or "")[:60])  # fmt: skip
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
