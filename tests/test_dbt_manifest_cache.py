"""A process that runs dbt loads the manifest the last parse with the same inputs saved, instead of parsing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.transform import dbt as dbt_module
from feedbackloop.transform.dbt import parse_ahead, run_dbt
from feedbackloop.warehouse import ensure_source_tables
from tests.samples import app_store_row, write_app_store

pytestmark = [pytest.mark.dbt, pytest.mark.slow]


def cached_manifest(settings: Settings) -> Path:
    options, dbt_vars = dbt_module._options(settings)
    key = dbt_module._manifest_key(settings, options, dbt_vars)
    return Path(settings.dbt_project_dir) / "target" / dbt_module._MANIFEST_CACHE.format(key=key)


def test_a_fresh_process_builds_from_the_saved_manifest_without_parsing(settings: Settings) -> None:
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", [app_store_row("a1"), app_store_row("a2")])
    ingest_inbox(settings, "run-1")
    ensure_source_tables(settings)
    dbt_module._parsed.clear()
    parse_ahead(settings)
    saved = cached_manifest(settings)
    written_at = saved.stat().st_mtime_ns
    dbt_module._parsed.clear()  # as in a new process

    result = run_dbt(settings, ["build", "--select", "silver", "--indirect-selection", "cautious"])

    assert result.passed == result.nodes > 0
    assert Lake(settings).count("silver", "stg_bronze__feedback") == 2
    assert saved.stat().st_mtime_ns == written_at  # loaded, not parsed and saved again


def test_the_saved_manifest_keeps_every_node_and_lookup(settings: Settings) -> None:
    dbt_module._parsed.clear()
    parse_ahead(settings)
    parsed = next(iter(dbt_module._parsed.values()))
    dbt_module._parsed.clear()

    saved = cached_manifest(settings)
    loaded = dbt_module._load_cached_manifest(saved.parent, saved.stem.split(".")[1])

    assert loaded is not None
    assert loaded.nodes.keys() == parsed.nodes.keys()
    assert loaded.fixtures.keys() == parsed.fixtures.keys()
    # dbt's own pickling shifts every lookup after `fixtures` by one field; by name they resolve
    node = loaded.ref_lookup.find("stg_bronze__feedback", None, None, loaded)
    assert node is not None and node.name == "stg_bronze__feedback"


def test_an_env_var_the_project_reads_is_part_of_the_key(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDBACKLOOP_DATABRICKS_CATALOG", raising=False)
    options, dbt_vars = dbt_module._options(settings)
    before = dbt_module._manifest_key(settings, options, dbt_vars)
    monkeypatch.setenv("FEEDBACKLOOP_DATABRICKS_CATALOG", "another_catalog")  # read by profiles.yml
    assert dbt_module._manifest_key(settings, options, dbt_vars) != before
    monkeypatch.setenv("SOME_UNRELATED_VARIABLE", "x")
    monkeypatch.delenv("FEEDBACKLOOP_DATABRICKS_CATALOG")
    assert dbt_module._manifest_key(settings, options, dbt_vars) == before


def test_an_unreadable_saved_manifest_is_parsed_again_and_replaced(settings: Settings) -> None:
    dbt_module._parsed.clear()
    saved = cached_manifest(settings)
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_bytes(b"cut short by a crash")

    parse_ahead(settings)

    assert len(next(iter(dbt_module._parsed.values())).nodes) > 0
    dbt_module._parsed.clear()
    key = saved.stem.split(".")[1]
    assert dbt_module._load_cached_manifest(saved.parent, key) is not None


def test_parsing_ahead_does_dbts_setup_and_builds_nothing(settings: Settings) -> None:
    # a fresh interpreter: in this one, earlier tests have run dbt already
    check = (
        "from dbt.contracts.project import Project; "
        "from feedbackloop.settings import get_settings; from feedbackloop.transform.dbt import parse_ahead; "
        "assert Project.json_schema.cache_info().currsize == 0; "
        "parse_ahead(get_settings()); "
        "assert Project.json_schema.cache_info().currsize > 0"
    )
    subprocess.run([sys.executable, "-c", check], check=True, cwd=Path(__file__).resolve().parent.parent)
    assert not Path(settings.warehouse_path).exists()
    assert not Lake(settings).exists("silver", "stg_bronze__feedback")
