"""The lake lives where the deployment says: a local directory, a Unity Catalog volume, an object store.

A volume path (/Volumes/<catalog>/<schema>/<volume>/...) is reached through FEEDBACKLOOP_VOLUMES_ROOT,
so the tests run the real flows on a local directory laid out like the workspace's /Volumes.
A URI with a scheme takes the object-store path through deltalake (here file://, the one store
that runs offline).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import ValidationError

from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.lake import Lake, LakeLocationError
from feedbackloop.settings import Settings, get_settings
from feedbackloop.stream.landing import landing_zone
from feedbackloop.transform.dbt import dbt_env
from feedbackloop.warehouse import connect, ensure_source_tables, lake_tables
from tests.samples import app_store_row, write_app_store

VOLUME_LAKE = "/Volumes/feedbackloop/bronze/lake"
VOLUME_LANDING = "/Volumes/feedbackloop/bronze/landing"


@pytest.fixture
def volume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A lake and landing zone in a Unity Catalog volume, mounted at tmp/Volumes."""
    (tmp_path / "Volumes").mkdir()
    monkeypatch.setenv("FEEDBACKLOOP_VOLUMES_ROOT", str(tmp_path / "Volumes"))
    monkeypatch.setenv("FEEDBACKLOOP_LAKE_URI", VOLUME_LAKE)
    monkeypatch.setenv("FEEDBACKLOOP_LANDING_URI", VOLUME_LANDING)
    monkeypatch.setenv("FEEDBACKLOOP_INBOX_DIR", str(tmp_path / "inbox"))
    monkeypatch.setenv("FEEDBACKLOOP_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_bronze_written_by_ingest_lands_in_the_volume(volume: Settings, tmp_path: Path) -> None:
    write_app_store(volume.inbox_dir / "app_store" / "r.csv", [app_store_row("a1"), app_store_row("a2")])
    ingest_inbox(volume, "run-1")
    assert (tmp_path / "Volumes/feedbackloop/bronze/lake/bronze/feedback/_delta_log").is_dir()
    assert Lake(volume).count("bronze", "feedback") == 2
    with connect(volume) as conn:
        assert conn.execute("select count(*) from bronze.feedback").fetchone() == (2,)


def test_dbt_reads_the_mounted_volume_on_duckdb_and_the_volume_path_on_databricks(volume: Settings) -> None:
    assert dbt_env(volume)["FEEDBACKLOOP_LAKE_URI"].endswith("/Volumes/feedbackloop/bronze/lake")
    assert dbt_env(volume)["FEEDBACKLOOP_LAKE_URI"] != VOLUME_LAKE
    on_databricks = volume.model_copy(update={"dbt_target": "databricks"})
    assert dbt_env(on_databricks)["FEEDBACKLOOP_LAKE_URI"] == VOLUME_LAKE


def test_the_landing_zone_in_a_volume_has_the_auto_loader_layout(volume: Settings, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    zone = landing_zone(volume)
    path = zone.write("zendesk", b'{"id": 1}\n', datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    relative = Path(path).relative_to(tmp_path / "Volumes/feedbackloop/bronze/landing")
    # <source>/<partition column>=<value>/<file>: Auto Loader infers received_date as a partition column
    source, partition, name = relative.parts
    assert (source, partition) == ("zendesk", "received_date=2026-11-20")
    assert name.startswith("part-") and name.endswith(".jsonl")
    assert [f.path for f in zone.list_files()] == [path]


def test_a_volume_that_is_not_mounted_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FEEDBACKLOOP_VOLUMES_ROOT", str(tmp_path / "not-mounted"))
    settings = Settings(lake_uri=VOLUME_LAKE)
    with pytest.raises(LakeLocationError, match=r"not mounted here.*FEEDBACKLOOP_VOLUMES_ROOT"):
        Lake(settings)


def test_a_volume_path_must_name_catalog_schema_and_volume() -> None:
    with pytest.raises(ValidationError, match=r"/Volumes/<catalog>/<schema>/<volume>"):
        Settings(lake_uri="/Volumes/feedbackloop/bronze")


def test_object_store_uris_pass_through_with_their_storage_options(tmp_path: Path) -> None:
    settings = Settings(lake_uri="s3://acme-lake/feedbackloop", storage_options={"AWS_REGION": "eu-west-1"})
    lake = Lake(settings)
    assert lake.uri("bronze", "feedback") == "s3://acme-lake/feedbackloop/bronze/feedback"
    assert lake.storage_options == {"AWS_REGION": "eu-west-1"}
    assert not settings.is_local_lake
    abfss = Settings(lake_uri="abfss://lake@acme.dfs.core.windows.net/feedbackloop")
    assert abfss.table_uri("silver", "x") == "abfss://lake@acme.dfs.core.windows.net/feedbackloop/silver/x"


def test_an_object_store_lake_lists_only_the_tables_that_exist(settings: Settings, tmp_path: Path) -> None:
    remote = settings.model_copy(update={"lake_uri": f"file://{tmp_path}/remote-lake"})
    ensure_source_tables(remote)
    assert (tmp_path / "remote-lake/bronze/feedback/_delta_log").is_dir()
    tables = lake_tables(remote)
    assert ("bronze", "feedback") in tables
    assert ("gold", "fct_feedback") not in tables  # not built yet: not assumed


def test_the_smoke_probe_writes_to_the_volume(volume: Settings, tmp_path: Path) -> None:
    from feedbackloop.smoke import check_lake

    target, _ = check_lake(volume)
    assert target == str(tmp_path / "Volumes/feedbackloop/bronze/lake/_system/smoke-test")


def test_a_local_tables_version_is_read_off_its_log(settings: Settings) -> None:
    lake = Lake(settings)
    assert lake.version("silver", "probe") is None and not lake.exists("silver", "probe")
    for value in range(3):
        lake.append("silver", "probe", pa.table({"value": [value]}))
    table = lake.table("silver", "probe")
    assert table is not None
    table.create_checkpoint()
    log = Path(lake.uri("silver", "probe")) / "_delta_log"
    (log / f"{0:020d}.json").unlink()  # log cleanup after a checkpoint: early commits go
    assert lake.version("silver", "probe") == table.version() == 2
    assert lake.exists("silver", "probe")


def test_an_all_null_column_takes_the_tables_type_so_duckdb_still_reads_it(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append("silver", "probe", pa.table({"a": [1], "b": ["x"]}))
    lake.append("silver", "probe", pa.table({"a": [2], "b": [None]}))  # b: Arrow null, no type
    with connect(settings) as conn:
        rows = conn.execute("select a, b, typeof(b) from silver.probe order by a").fetchall()
    assert rows == [(1, "x", "VARCHAR"), (2, None, "VARCHAR")]


def test_a_new_table_with_an_untyped_column_is_refused_naming_it(settings: Settings) -> None:
    with pytest.raises(ValueError, match=r"silver\.probe: column\(s\) b have no type"):
        Lake(settings).append("silver", "probe", pa.table({"a": [1], "b": [None]}))
    assert not Lake(settings).exists("silver", "probe")
