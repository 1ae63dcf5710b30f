"""The SQL compiled for Databricks runs on Spark and gives the embedded build's answers.

Delta on local Spark is impossible offline (STACK.md), so the lake's tables are handed to Spark as
parquet: the embedded world builds a small lake, every dbt source is copied to a parquet table,
then each model's Databricks-compiled SQL runs on a local SparkSession in dependency order. The
only rewrite is dropping the Unity Catalog name (`feedbackloop`.), which a local Spark has no
catalog for; the SQL itself is what a Databricks SQL warehouse would run (ANSI mode, as there).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings, get_settings
from feedbackloop.silver.enrich import enrich_new_feedback
from feedbackloop.silver.redact import redact_new_feedback
from feedbackloop.transform.dbt import run_dbt
from feedbackloop.warehouse import ensure_source_tables
from tests.samples import app_store_row, telemetry_event, write_app_store, write_jsonl, write_zendesk, zendesk_ticket
from tests.test_dbt_project import dbt_databricks

pyspark = pytest.importorskip("pyspark", reason="the spark check needs pyspark (dev extra)")
pytestmark = [pytest.mark.spark, pytest.mark.dbt, pytest.mark.slow]

CATALOG = re.compile(r"`feedbackloop`\.(?=`(bronze|silver|gold)`\.)")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A small lake built by the embedded world: bronze, silver, enrich, redact, gold."""
    root = tmp_path_factory.mktemp("embedded")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FEEDBACKLOOP_LAKE_URI", str(root / "lake"))
        mp.setenv("FEEDBACKLOOP_INBOX_DIR", str(root / "inbox"))
        mp.setenv("FEEDBACKLOOP_WAREHOUSE_PATH", str(root / "lake" / "warehouse.duckdb"))
        get_settings.cache_clear()
        settings = get_settings()
        write_app_store(settings.inbox_dir / "app_store" / "r.csv", [
            app_store_row("a1", body="<p>Checkout hangs &amp; spins</p>\n--\nSent from my iPhone"),
            app_store_row("a2", body="Tolle App, aber die Suche ist langsam", rating="3"),
            app_store_row("a3", body="Checkout   hangs &amp; spins", reviewerNickname="sam_k"),
            app_store_row("a4", body="Call me on +1 415 555 0100, the\u200b export is broken", rating="1"),
        ])  # fmt: skip
        write_zendesk(settings.inbox_dir / "zendesk" / "t.json", [zendesk_ticket(1), zendesk_ticket(2)])
        write_jsonl(settings.inbox_dir / "telemetry" / "t.jsonl", [
            telemetry_event("e1", "deploy", deploy_sha="abc1234"),
            telemetry_event("e2", "latency", value=120.0),
            telemetry_event("e3", "latency", value=900.0),
            telemetry_event("e4", "latency", value=310.0),
            telemetry_event("e5", "deploy", deploy_sha="def5678", event_at="2026-10-02T08:00:00Z"),
        ])  # fmt: skip
        ingest_inbox(settings, "run-1")
        ensure_source_tables(settings)
        run_dbt(settings, ["build", "--select", "silver", "--indirect-selection", "cautious"])
        enrich_new_feedback(settings, "run-1")
        redact_new_feedback(settings, "run-1")
        run_dbt(settings, ["build", "--select", "gold"])
        yield settings
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dbt compile` for the databricks target, offline; returns the target directory."""
    tmp = tmp_path_factory.mktemp("databricks")
    done = dbt_databricks(tmp, "compile", "--no-populate-cache", "--no-introspect")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return tmp / "target"


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("feedbackloop-dialect-check")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "true")  # Databricks SQL warehouses run ANSI mode
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def topological_models(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    models = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    ordered: list[str] = []

    def visit(key: str) -> None:
        if key in ordered:
            return
        for parent in models[key]["depends_on"]["nodes"]:
            if parent in models:
                visit(parent)
        ordered.append(key)

    for key in sorted(models):
        visit(key)
    return [models[k] for k in ordered]


@pytest.fixture(scope="module")
def spark_run(embedded: Settings, compiled: Path, spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Sources as parquet tables, then every compiled model, in order; returns timings."""
    manifest = json.loads((compiled / "manifest.json").read_text())
    parquet = tmp_path_factory.mktemp("parquet")
    lake = Lake(embedded)
    started = time.perf_counter()
    for layer in ("bronze", "silver", "gold"):
        spark.sql(f"create database if not exists {layer}")
    for source in manifest["sources"].values():
        schema, name = source["schema"], source["identifier"]
        path = parquet / schema / name
        path.mkdir(parents=True)
        pq.write_table(lake.read(schema, name), path / "part-0.parquet")
        spark.sql(f"create table {schema}.{name} using parquet location '{path}'")
    timings: dict[str, float] = {}
    for model in topological_models(manifest):
        sql = CATALOG.sub("", (compiled / "compiled" / "feedbackloop" / model["original_file_path"]).read_text())
        relation = f"{model['schema']}.{model['alias']}"
        began = time.perf_counter()
        if model["config"]["materialized"] == "view":
            spark.sql(f"create or replace view {relation} as {sql}")
        else:
            spark.sql(f"drop table if exists {relation}")
            spark.sql(f"create table {relation} using parquet as {sql}")
        timings[relation] = time.perf_counter() - began
    return {"models": timings, "seconds": time.perf_counter() - started}


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def spark_rows(spark: Any, sql: str) -> list[tuple]:
    return sorted(tuple(row) for row in spark.sql(sql).collect())


def test_every_compiled_model_runs_on_spark(spark_run: dict, compiled: Path) -> None:
    manifest = json.loads((compiled / "manifest.json").read_text())
    models = {f"{n['schema']}.{n['alias']}" for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert set(spark_run["models"]) == models
    print(f"spark dialect check: {len(models)} models in {spark_run['seconds']:.1f} s")


def test_spark_and_duckdb_build_tables_of_the_same_size(spark_run: dict, spark: Any, embedded: Settings) -> None:
    lake = Lake(embedded)
    sizes = {}
    for relation in spark_run["models"]:
        layer, name = relation.split(".")
        if lake.exists(layer, name):  # views live in the warehouse only
            sizes[relation] = (spark.table(relation).count(), lake.count(layer, name))
    assert {r: s for r, (s, d) in sizes.items()} == {r: d for r, (s, d) in sizes.items()}
    assert sizes["gold.fct_feedback"][0] >= 4


def test_text_cleaning_regexes_mean_the_same_on_spark(spark_run: dict, spark: Any, embedded: Settings) -> None:
    duck = Lake(embedded).read("silver", "stg_bronze__feedback", columns=["doc_id", "clean_text", "duplicate_key"])
    expected = sorted(zip(*duck.to_pydict().values(), strict=True))
    assert spark_rows(spark, "select doc_id, clean_text, duplicate_key from silver.stg_bronze__feedback") == expected
    texts = {t for _, t, _ in expected}
    assert "Annoying. Checkout hangs & spins" in texts  # tags, entities, signature, spaces


def test_hash_keys_and_percentiles_agree_with_duckdb(spark_run: dict, spark: Any, embedded: Settings) -> None:
    duck = Lake(embedded).read("gold", "fct_telemetry_daily").to_pylist()
    expected = sorted(
        (r["telemetry_daily_id"], r["event_count"], rounded(r["p50_value"]), rounded(r["p95_value"])) for r in duck
    )
    got = spark_rows(
        spark, "select telemetry_daily_id, event_count, p50_value, p95_value from gold.fct_telemetry_daily"
    )
    assert [(key, count, rounded(p50), rounded(p95)) for key, count, p50, p95 in got] == expected
    assert (310.0, 841.0) in [r[2:] for r in expected]  # linear interpolation in both engines


def test_gold_feedback_keeps_the_same_docs_with_the_same_redacted_text(
    spark_run: dict, spark: Any, embedded: Settings
) -> None:
    duck = Lake(embedded).read("gold", "fct_feedback", columns=["doc_id", "redacted_text", "copies"])
    expected = sorted(zip(*duck.to_pydict().values(), strict=True))
    assert spark_rows(spark, "select doc_id, redacted_text, copies from gold.fct_feedback") == expected


def test_incremental_gold_stale_row_query_runs_on_spark(
    spark_run: dict, spark: Any, embedded: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The stale-row query of the incremental fct_feedback's pre-hook, compiled for Databricks, runs on
    Spark: no row is stale while gold matches its inputs, every row is when a column differs."""
    tmp = tmp_path_factory.mktemp("stale")
    inline = "{{ fct_feedback_stale_doc_ids(ref('fct_feedback')) }}"
    done = dbt_databricks(tmp, "compile", "--no-populate-cache", "--no-introspect", "--inline", inline)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    sql = CATALOG.sub("", done.stdout[done.stdout.index("select gold.doc_id") :]).strip()
    assert "is distinct from" in sql
    assert spark_rows(spark, sql) == []
    # every gold row with a wrong copy count is stale
    columns = "doc_id, source_system, source_record_id, resolution_status, language, language_score, pii_types"
    columns += ", redacted_text, redacted_agent_text, redacted_system_notes, 1000 as copies"
    changed = sql.replace("`gold`.`fct_feedback`", f"(select {columns} from gold.fct_feedback)")
    assert len(spark_rows(spark, changed)) == spark.table("gold.fct_feedback").count() >= 4


def test_incremental_silver_stale_row_query_runs_on_spark(
    spark_run: dict, spark: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The stale-row query of the incremental int_feedback__deduplicated's pre-hook, compiled for
    Databricks, runs on Spark: nothing is stale while the table matches its inputs, and every doc is
    when no record has a latest version left (what an erasure of every latest version would leave)."""
    tmp = tmp_path_factory.mktemp("stale-silver")
    inline = "{{ int_feedback__deduplicated_stale_doc_ids(ref('int_feedback__deduplicated')) }}"
    done = dbt_databricks(tmp, "compile", "--no-populate-cache", "--no-introspect", "--inline", inline)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    start = re.search(r"with\s+feedback as \(", done.stdout)
    assert start is not None, done.stdout[-2000:]
    sql = CATALOG.sub("", done.stdout[start.start() :]).strip()
    assert spark_rows(spark, sql) == []
    table = "`silver`.`int_feedback__deduplicated`"
    columns = "doc_id, kept_doc_id, source_system, source_record_id, duplicate_key, is_kept, copies, is_deleted"
    flipped = f"(select {columns}, deleted_at, false as is_latest_version from silver.int_feedback__deduplicated)"
    assert sql.count(table) >= 1
    stale = spark_rows(spark, sql.replace(table, flipped))
    assert len(stale) == spark.table("silver.int_feedback__deduplicated").where("not is_deleted").count() >= 4


def test_incremental_near_duplicates_stale_row_query_runs_on_spark(
    spark_run: dict, spark: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The stale-row query of the incremental fct_feedback_near_duplicates' pre-hook, compiled for
    Databricks, runs on Spark: nothing is stale while the table matches its inputs, every row is
    when its counts are off."""
    tmp = tmp_path_factory.mktemp("stale-near-duplicates")
    inline = "{{ fct_feedback_near_duplicates_stale_doc_ids(ref('fct_feedback_near_duplicates')) }}"
    done = dbt_databricks(tmp, "compile", "--no-populate-cache", "--no-introspect", "--inline", inline)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    sql = CATALOG.sub("", done.stdout[done.stdout.index("select gold.doc_id") :]).strip()
    assert spark_rows(spark, sql) == []
    table = "`gold`.`fct_feedback_near_duplicates`"
    columns = "doc_id, canonical_doc_id, similarity_to_canonical, is_near_duplicate"
    off = f"(select {columns}, near_duplicate_count + 1 as near_duplicate_count from gold.fct_feedback_near_duplicates)"
    assert sql.count(table) == 1
    assert len(spark_rows(spark, sql.replace(table, off))) == spark.table(table).count() >= 4
