"""The embedded warehouse: DuckDB over the Delta lake, plus the one-time extension install."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from feedbackloop.bronze.tables import TABLES as BRONZE_TABLES
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings


def install_duckdb_extensions() -> None:
    """Install DuckDB's delta extension from its PyPI wheel; ``LOAD delta`` would try to download it."""
    from duckdb_extensions import import_extension

    import_extension("delta")


def source_tables() -> dict[tuple[str, str], pa.Schema]:
    """Every Delta table dbt reads as a source, with the schema of the Python stage that writes it."""
    from feedbackloop.embed.tables import NEAR_DUPLICATE_LINKS
    from feedbackloop.label.tables import SOURCE_TABLES as LABEL_TABLES
    from feedbackloop.silver.enrich import ENRICHMENT
    from feedbackloop.silver.redact import REDACTED

    tables = {("bronze", name): schema for name, (schema, _) in BRONZE_TABLES.items()}
    tables["silver", "feedback_enrichment"] = ENRICHMENT
    tables["silver", "feedback_near_duplicate_links"] = NEAR_DUPLICATE_LINKS
    tables["silver", "feedback_redacted"] = REDACTED
    tables.update(LABEL_TABLES)
    return tables


def ensure_source_tables(settings: Settings) -> None:
    """Create empty source tables so dbt resolves them on a first run with an empty inbox."""
    lake = Lake(settings)
    for (layer, name), schema in source_tables().items():
        if not lake.exists(layer, name):
            lake.append(layer, name, pa.Table.from_pylist([], schema=schema))


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per Delta table (``gold.fct_feedback`` ...).

    Readers never open dbt's warehouse file, so a dashboard or a test can query while dbt writes.
    """
    conn = duckdb.connect()
    conn.execute("load delta")
    conn.execute("set TimeZone = 'UTC'")
    lake = Lake(settings)
    for layer, name in lake_tables(settings):
        conn.execute(f"create schema if not exists {layer}")
        uri = lake.uri(layer, name).replace("'", "''")
        conn.execute(f"create or replace view {layer}.{name} as select * from delta_scan('{uri}')")
    return conn


def files_have_columns(paths: list[str], columns: list[str]) -> bool:
    """Whether every one of these Parquet files holds all of ``columns`` (read off their footers)."""
    return all(set(columns) <= set(pq.read_schema(path).names) for path in paths)


def parquet_files(paths: list[str]) -> str:
    """DuckDB SQL reading these Parquet files as one relation (columns matched by name)."""
    quoted = ", ".join("'" + path.replace("'", "''") + "'" for path in paths)
    return f"read_parquet([{quoted}], union_by_name = true)"


def lake_tables(settings: Settings) -> list[tuple[str, str]]:
    """(layer, table) for every Delta table present.

    A local lake (a mounted volume included) is listed; an object store cannot be listed cheaply by
    prefix everywhere, so each known table is opened through deltalake with the lake's storage options.
    """
    if not settings.is_local_lake:
        lake = Lake(settings)
        known = [(layer, name) for layer, names in LAYER_TABLES.items() for name in names]
        known += [key for key in source_tables() if key not in known]
        return sorted(key for key in known if lake.exists(*key))
    root = Path(settings.lake_root)
    return sorted(
        (log.parent.parent.name, log.parent.name)
        for log in root.glob("*/*/_delta_log")
        if log.is_dir() and log.parent.parent.name.isidentifier() and log.parent.name.isidentifier()
    )


LAYER_TABLES = {
    "bronze": list(BRONZE_TABLES),
    "silver": [
        "stg_bronze__feedback",
        "stg_bronze__telemetry_events",
        "stg_bronze__feedback_changes",
        "int_feedback__latest_changes",
        "int_feedback__deduplicated",
        "feedback_redacted",
        "feedback_labels",
        "feedback_label_reviews",
    ],
    "gold": [
        "fct_feedback",
        "fct_feedback_daily_volume",
        "fct_telemetry_daily",
        "dim_deploys",
        "fct_feedback_near_duplicates",
        "fct_feedback_labels",
        "fct_label_review_queue",
        "dim_feedback_clusters",
        "fct_feedback_cluster_members",
        "dim_incidents",
        "fct_incident_members",
        "fct_incident_telemetry",
        "fct_rule_hits",
        "fct_monitor_runs",
        "fct_actions",
        "fct_action_attempts",
        "fct_run_metrics",
        "fct_incident_detection",
        "fct_drift_reports",
        "fct_retrain_decisions",
        "fct_model_evaluations",
    ],
}


ROW_COUNTS_FILE = "row_counts.json"


def layer_counts(settings: Settings) -> Iterator[tuple[str, str, int | None]]:
    """Every lake table's row count; None for a table not made yet.

    A run summary counts every table, and opening each costs 10-30 ms. So counts are kept by Delta
    version in the state dir: a table with no commit since its last count is not opened, and one
    whose new commits only appended adds the row counts their statistics give.
    """
    lake = Lake(settings)
    path = settings.state_dir / ROW_COUNTS_FILE
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    counted = {}
    for layer, names in LAYER_TABLES.items():
        for name in names:
            version = lake.version(layer, name)
            if version is None:
                yield layer, name, None
                continue
            stamp = lake.commit_stamp(layer, name, version)
            rows = _count(lake, layer, name, version, stamp, known.get(f"{layer}.{name}"))
            if stamp is not None:
                counted[f"{layer}.{name}"] = [version, stamp, rows]
            yield layer, name, rows
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(counted), encoding="utf-8")
        partial.replace(path)


def _count(lake: Lake, layer: str, name: str, version: int, stamp: int | None, known: list[int] | None) -> int:
    """The table's row count at ``version`` (whose commit has ``stamp``), from ``known`` ([version,
    commit stamp, rows]) if it still holds."""
    if not known or len(known) != 3 or known[0] > version:
        return lake.count(layer, name)
    known_stamp = stamp if known[0] == version else lake.commit_stamp(layer, name, known[0])
    if known_stamp is not None and known[1] == known_stamp:
        appended = 0 if known[0] == version else lake.rows_appended_since(layer, name, known[0])
        if appended is not None:
            return int(known[2]) + appended
    return lake.count(layer, name)
