"""The dbt project builds silver and gold on the embedded engine and parses for Databricks offline."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.lake import Lake
from feedbackloop.settings import PROJECT_ROOT, Settings
from feedbackloop.silver.enrich import enrich_new_feedback
from feedbackloop.silver.redact import redact_new_feedback
from feedbackloop.transform.dbt import DbtError, run_dbt
from feedbackloop.warehouse import connect, ensure_source_tables
from tests.samples import (
    app_store_row,
    telemetry_event,
    write_app_store,
    write_jsonl,
    write_zendesk,
    zendesk_ticket,
)

pytestmark = [pytest.mark.dbt, pytest.mark.slow]


def build(settings: Settings) -> None:
    ensure_source_tables(settings)
    run_dbt(settings, ["build", "--select", "silver", "--indirect-selection", "cautious"])
    enrich_new_feedback(settings, "run-1")
    redact_new_feedback(settings, "run-1")
    run_dbt(settings, ["build", "--select", "gold"])


@pytest.fixture
def loaded(settings: Settings) -> Settings:
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", [
        app_store_row("a1", body="<p>Checkout hangs &amp; spins</p>", reviewerNickname="sam"),
        app_store_row("a2", body="Tolle App, aber die Suche ist langsam", rating="3"),
    ])  # fmt: skip
    write_zendesk(settings.inbox_dir / "zendesk" / "t.json", [zendesk_ticket(1)])
    write_jsonl(settings.inbox_dir / "telemetry" / "t.jsonl", [
        telemetry_event("e1", "deploy", deploy_sha="abc1234"),
        telemetry_event("e2", "latency", value=120.0),
        telemetry_event("e3", "latency", value=900.0),
    ])  # fmt: skip
    ingest_inbox(settings, "run-1")
    return settings


def test_embedded_build_fills_silver_and_gold_delta_tables(loaded: Settings) -> None:
    build(loaded)
    lake = Lake(loaded)
    assert lake.count("gold", "fct_feedback") == 3
    assert lake.count("gold", "dim_deploys") == 1
    with connect(loaded) as conn:
        texts = dict(conn.execute("select source_record_id, redacted_text from gold.fct_feedback").fetchall())
        languages = dict(conn.execute("select source_record_id, language from gold.fct_feedback").fetchall())
        p95 = conn.execute("select p95_value from gold.fct_telemetry_daily where event_type='latency'").fetchone()
    assert texts["a1"] == "Annoying. Checkout hangs & spins"
    assert languages["a2"] == "de"
    assert p95 == (pytest.approx(861.0),)


def test_a_build_leaves_its_run_results_for_people_to_open(loaded: Settings) -> None:
    results = loaded.dbt_project_dir / "target" / "run_results.json"
    results.unlink(missing_ok=True)
    build(loaded)  # silver, then gold: the file holds the last build
    nodes = {r["unique_id"]: r["status"] for r in json.loads(results.read_text())["results"]}
    assert nodes["model.feedbackloop.fct_feedback"] == "success"


def test_rebuild_is_stable(loaded: Settings) -> None:
    build(loaded)
    build(loaded)
    assert Lake(loaded).count("gold", "fct_feedback") == 3


def test_a_failing_data_test_fails_the_build_naming_the_test(loaded: Settings) -> None:
    import pyarrow as pa

    from feedbackloop.bronze.tables import FEEDBACK

    lake = Lake(loaded)
    row = lake.read("bronze", "feedback").to_pylist()[0]
    row.update(doc_id="bad", platform="martian")  # bypasses the contract on purpose
    lake.append("bronze", "feedback", pa.Table.from_pylist([row], schema=FEEDBACK))
    ensure_source_tables(loaded)
    with pytest.raises(DbtError, match="accepted_values_stg_bronze__feedback_platform"):
        run_dbt(loaded, ["build", "--select", "silver", "--indirect-selection", "cautious"])


def test_a_null_in_a_required_column_fails_the_build_and_the_row_names_it(loaded: Settings) -> None:
    import pyarrow as pa

    from feedbackloop.bronze.tables import FEEDBACK

    lake = Lake(loaded)
    row = lake.read("bronze", "feedback").to_pylist()[0]
    row.update(doc_id="bad", event_at=None)  # bypasses the contract on purpose
    lake.append("bronze", "feedback", pa.Table.from_pylist([row], schema=FEEDBACK))
    ensure_source_tables(loaded)
    with pytest.raises(DbtError, match="not_null_columns_stg_bronze__feedback_source_system"):
        run_dbt(loaded, ["build", "--select", "silver", "--indirect-selection", "cautious"])
    results = json.loads((loaded.dbt_project_dir / "target" / "run_results.json").read_text())["results"]
    (failed,) = [r for r in results if r["status"] == "fail"]
    query = failed["compiled_code"].replace('"warehouse".', "")  # the lake's views, not dbt's warehouse file
    with connect(loaded) as conn:
        failing = conn.execute(f"select doc_id, null_columns from ({query})").fetchall()
    assert failing == [("bad", "event_at, event_date")]


def databricks_env(tmp_path) -> dict[str, str]:
    return {
        "PATH": "",
        "HOME": str(tmp_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "FEEDBACKLOOP_DBT_TARGET": "databricks",
        "FEEDBACKLOOP_DATABRICKS_HOST": "adb-0000000000000000.0.azuredatabricks.net",
        "FEEDBACKLOOP_DATABRICKS_TOKEN": "dapi-not-a-real-token",
    }


def dbt_databricks(tmp_path, *args: str, target: str = "databricks") -> subprocess.CompletedProcess:
    project = str(PROJECT_ROOT / "dbt_project")
    return subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", *args, "--project-dir", project, "--profiles-dir", project,
         "--target", target, "--target-path", str(tmp_path / "target")],
        env=databricks_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def model_configs(tmp_path) -> dict[str, dict]:
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    return {n["name"]: n["config"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def test_databricks_target_parses_offline(tmp_path) -> None:
    done = dbt_databricks(tmp_path, "parse")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_every_model_compiles_for_databricks_offline(tmp_path) -> None:
    done = dbt_databricks(tmp_path, "compile", "--no-populate-cache", "--no-introspect")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    compiled = tmp_path / "target" / "compiled" / "feedbackloop" / "models"
    silver = (compiled / "silver" / "stg_bronze__feedback.sql").read_text()
    assert "`feedbackloop`.`bronze`.`feedback`" in silver  # Unity Catalog three-part names
    assert "'g')" not in silver  # DuckDB's regex flag must not leak into Spark SQL
    models = {
        p.relative_to(PROJECT_ROOT / "dbt_project" / "models")
        for p in (PROJECT_ROOT / "dbt_project" / "models").glob("*/*.sql")
    }
    assert {p.relative_to(compiled) for p in compiled.glob("*/*.sql")} == models

    configs = model_configs(tmp_path)
    assert all(c["file_format"] == "delta" for c in configs.values())
    assert all(c["tblproperties"]["delta.enableChangeDataFeed"] == "true" for c in configs.values())
    assert all(c["tblproperties"]["delta.autoOptimize.optimizeWrite"] == "true" for c in configs.values())
    assert configs["fct_feedback"]["liquid_clustered_by"] == ["event_date", "product"]
    assert configs["stg_bronze__feedback"]["liquid_clustered_by"] == ["doc_id", "event_date"]
    incremental = {name: c for name, c in configs.items() if c["materialized"] == "incremental"}
    assert set(incremental) == {
        "stg_bronze__feedback", "stg_bronze__telemetry_events", "int_feedback__deduplicated", "fct_feedback",
        "fct_feedback_near_duplicates",
    }  # fmt: skip
    for name in ("stg_bronze__feedback", "stg_bronze__telemetry_events"):  # insert-only MERGE on the model's key
        config = incremental[name]
        assert (config["incremental_strategy"], config["skip_matched_step"]) == ("merge", True)
        assert config["unique_key"] in {"doc_id", "event_id"}
    # recomputed rows: a pre-hook deletes the stale rows, then a plain append
    for name in ("int_feedback__deduplicated", "fct_feedback", "fct_feedback_near_duplicates"):
        assert incremental[name]["incremental_strategy"] == "append"
        assert "delete_stale_rows('doc_id'" in incremental[name]["pre-hook"][0]["sql"]


def test_databricks_grants_come_from_the_access_policy_vars(tmp_path) -> None:
    readers = ["feedbackloop-support", "feedbackloop-product"]
    done = dbt_databricks(tmp_path, "parse", "--vars", json.dumps({"access_readers": readers}))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert {tuple(c["grants"]["select"]) for c in model_configs(tmp_path).values()} == {tuple(readers)}


def test_databricks_configs_stay_off_the_duckdb_target(tmp_path) -> None:
    done = dbt_databricks(tmp_path, "parse", "--vars", '{"access_readers": ["team"]}', target="duckdb")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for name, config in model_configs(tmp_path).items():
        assert config.get("liquid_clustered_by") is None, name
        assert not config.get("tblproperties"), name
        assert config["grants"] == {"select": []}, name
        assert config.get("incremental_strategy") is None, name


# DuckDB-only spellings; each has a cross-database macro in dbt_project/macros/cross_db/ (or dbt's).
DIALECT_SPECIFIC = {
    r"\bexclude\s*\(": "star_except",
    r"\bquantile_cont\b|\bpercentile\b|\bpercentile_cont\b": "percentile",
    r"regexp_replace\s*\(": "regex_replace_all",
    r"\bdelta_scan\b": "register_lake_sources",
    r"::": "cast(... as ...)",
    r"\b(md5|sha2?|hash)\s*\(": "dbt.hash / surrogate_key",
    r"\b(strftime|strptime|date_diff|datediff|date_add|dateadd|date_trunc|epoch_ms)\s*\(": "dbt.* date macros",
    r"\b(list_|array_|struct_pack|string_agg|group_concat)\w*\s*\(": "a cross-database macro",
    r"\b(varchar|text|double precision|hugeint)\b": "dbt.type_string / dbt.type_*",
}


MODELS = sorted((PROJECT_ROOT / "dbt_project" / "models").glob("*/*.sql"))


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_models_spell_dialect_differences_only_through_macros(model) -> None:
    # Comments may say anything, and macro calls are where the dialects are allowed to differ.
    sql = re.sub(r"\{#.*?#\}|\{\{.*?\}\}|--[^\n]*", "", model.read_text(), flags=re.S)
    found = {macro for pattern, macro in DIALECT_SPECIFIC.items() if re.search(pattern, sql, flags=re.I)}
    assert not found, f"{model.name}: use {found} instead of dialect-specific SQL"


def test_incremental_silver_appends_only_new_docs_and_gold_keeps_latest_version(loaded: Settings) -> None:
    build(loaded)
    silver_version = Lake(loaded).table("silver", "stg_bronze__feedback").version()
    updated = zendesk_ticket(1, status="solved")
    updated["comments"].append(
        {"author_id": 501, "public": True, "body": "Refund arrived, thanks", "created_at": "2026-10-04T08:00:00Z"}
    )
    write_zendesk(loaded.inbox_dir / "zendesk" / "t2.json", [updated])
    write_app_store(loaded.inbox_dir / "app_store" / "r2.csv", [app_store_row("a3", body="Search is fast now")])
    ingest_inbox(loaded, "run-2")
    build(loaded)
    lake = Lake(loaded)
    assert lake.table("silver", "stg_bronze__feedback").version() == silver_version + 1  # one append
    assert lake.count("silver", "stg_bronze__feedback") == 5
    with connect(loaded) as conn:
        (status,) = conn.execute(
            "select resolution_status from gold.fct_feedback where source_record_id = '1'"
        ).fetchone()
        assert conn.execute("select count(*) from gold.fct_feedback").fetchone() == (4,)
    assert status == "solved"


def test_incremental_telemetry_appends_only_new_events(loaded: Settings) -> None:
    build(loaded)
    write_jsonl(loaded.inbox_dir / "telemetry" / "t2.jsonl", [telemetry_event("e3"), telemetry_event("e4", "crash")])
    ingest_inbox(loaded, "run-2")
    version = Lake(loaded).table("silver", "stg_bronze__telemetry_events").version()
    build(loaded)
    lake = Lake(loaded)
    assert lake.table("silver", "stg_bronze__telemetry_events").version() == version + 1  # one append
    assert lake.count("silver", "stg_bronze__telemetry_events") == 4
