"""A pipeline run keeps dbt's DuckDB warehouse open across its builds, and lets it go when it ends."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.settings import Settings
from feedbackloop.transform.dbt import run_dbt, warehouse_kept_open
from feedbackloop.warehouse import ensure_source_tables
from tests.samples import app_store_row, write_app_store

pytestmark = [pytest.mark.dbt, pytest.mark.slow]


def test_dbt_builds_on_the_warehouse_the_run_holds_open(settings: Settings) -> None:
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", [app_store_row("a1"), app_store_row("a2")])
    ingest_inbox(settings, "run-1")
    ensure_source_tables(settings)

    # DuckDB gives a file's open database to every connection that asks with the same configuration,
    # and refuses one with another: dbt's builds pass, and the database is still held after them.
    with warehouse_kept_open(settings):
        silver = run_dbt(settings, ["build", "--select", "silver", "--indirect-selection", "cautious"])
        gold = run_dbt(settings, ["build", "--select", "gold", "--indirect-selection", "cautious"])
        with pytest.raises(duckdb.ConnectionException, match="different configuration"):
            duckdb.connect(str(Path(settings.warehouse_path).resolve()), config={"threads": 1})

    assert silver.passed == silver.nodes > 0
    assert gold.passed == gold.nodes > 0


def test_the_warehouse_is_let_go_when_the_run_ends(settings: Settings) -> None:
    with warehouse_kept_open(settings):
        pass

    # Open in this process still, a connection with another configuration would be refused.
    duckdb.connect(str(Path(settings.warehouse_path).resolve()), config={"threads": 1}).close()


def test_a_databricks_target_holds_nothing_open(settings: Settings) -> None:
    databricks = settings.model_copy(update={"dbt_target": "databricks"})

    with warehouse_kept_open(databricks):
        assert not Path(settings.warehouse_path).exists()
