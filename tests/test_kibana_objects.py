"""The shipped Kibana saved objects import cleanly: valid NDJSON, every reference resolves, every field is mapped."""

from __future__ import annotations

import json

import pytest

from feedbackloop.index.elastic import mapping
from feedbackloop.settings import PROJECT_ROOT, Settings

OBJECTS = [json.loads(line) for line in (PROJECT_ROOT / "kibana" / "feedbackloop.ndjson").read_text().splitlines()]
BY_ID = {(o["type"], o["id"]): o for o in OBJECTS}
MAPPED = set(mapping(384, "any")["properties"])


def test_there_is_a_data_view_a_saved_search_and_a_dashboard() -> None:
    assert {o["type"] for o in OBJECTS} >= {"index-pattern", "search", "dashboard"}


def test_the_data_view_targets_the_alias_readers_use() -> None:
    (data_view,) = [o for o in OBJECTS if o["type"] == "index-pattern"]
    assert data_view["attributes"]["title"] == Settings().elasticsearch_alias
    assert data_view["attributes"]["timeFieldName"] == "event_at"


@pytest.mark.parametrize("saved", OBJECTS, ids=[o["id"] for o in OBJECTS])
def test_every_reference_points_at_a_shipped_object(saved: dict) -> None:
    for reference in saved["references"]:
        assert (reference["type"], reference["id"]) in BY_ID


def test_the_saved_search_shows_useful_mapped_columns() -> None:
    (search,) = [o for o in OBJECTS if o["type"] == "search"]
    columns = search["attributes"]["columns"]
    assert {"text", "category", "severity", "source_system", "platform"} <= set(columns)
    assert set(columns) <= MAPPED


@pytest.mark.parametrize("vis", [o for o in OBJECTS if o["type"] == "visualization"], ids=lambda o: o["id"])
def test_visualizations_aggregate_on_mapped_fields(vis: dict) -> None:
    state = json.loads(vis["attributes"]["visState"])
    fields = {agg["params"]["field"] for agg in state["aggs"] if "field" in agg["params"]}
    assert fields and fields <= MAPPED


def test_every_dashboard_panel_has_its_reference() -> None:
    (dashboard,) = [o for o in OBJECTS if o["type"] == "dashboard"]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    names = {r["name"] for r in dashboard["references"]}
    assert {f"{p['panelIndex']}:{p['panelRefName']}" for p in panels} == names
