"""The production dashboard (dashboards/feedbackloop.lvdash.json) reads the same gold tables as the console."""

from __future__ import annotations

import json
import re
from pathlib import Path

from feedbackloop.settings import PROJECT_ROOT, Settings
from feedbackloop.warehouse import connect
from tests.console_data import write_contract_tables, write_feedback

DASHBOARD = json.loads((PROJECT_ROOT / "dashboards" / "feedbackloop.lvdash.json").read_text())
DATASETS = {d["name"]: "".join(d["queryLines"]) for d in DASHBOARD["datasets"]}
# Databricks SQL -> DuckDB, for the few functions whose names differ; everything else is shared SQL.
TO_DUCKDB = {"feedbackloop.gold.": "gold.", "unix_timestamp(": "epoch("}


def widgets() -> list[dict]:
    return [item["widget"] for page in DASHBOARD["pages"] for item in page["layout"]]


def test_every_widget_reads_a_defined_dataset_and_encodes_only_its_fields() -> None:
    for widget in widgets():
        [query] = widget["queries"]
        assert query["query"]["datasetName"] in DATASETS, widget["name"]
        names = {f["name"] for f in query["query"]["fields"]}
        encodings = widget["spec"]["encodings"]
        used = {e["fieldName"] for e in encodings.get("columns", [])}
        used |= {e["fieldName"] for key, e in encodings.items() if key != "columns"}
        assert used <= names, f"{widget['name']} encodes fields its query does not select: {used - names}"


def test_queries_name_only_gold_tables_of_the_catalog() -> None:
    tables = {t for sql in DATASETS.values() for t in re.findall(r"from\s+([\w.]+)", sql)}
    assert tables and all(t.startswith("feedbackloop.gold.") for t in tables)


def test_every_dataset_query_runs_over_the_gold_tables_and_has_the_widgets_columns(
    settings: Settings, tmp_path: Path
) -> None:
    write_feedback(settings)
    write_contract_tables(settings, tmp_path / "reports")
    with connect(settings) as conn:
        for dataset, sql in DATASETS.items():
            for databricks, duckdb in TO_DUCKDB.items():
                sql = sql.replace(databricks, duckdb)
            check_columns(dataset, {d[0] for d in conn.execute(sql).description})


def check_columns(dataset: str, columns: set[str]) -> None:
    for widget in widgets():
        query = widget["queries"][0]["query"]
        if query["datasetName"] == dataset:
            referenced = {c for f in query["fields"] for c in re.findall(r"`(\w+)`", f["expression"])}
            assert referenced <= columns, f"{widget['name']} reads columns {referenced - columns} not in {dataset}"
