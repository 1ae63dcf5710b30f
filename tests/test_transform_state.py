"""A layer build selects only what is downstream of the input tables that changed since its last success."""

from __future__ import annotations

import pyarrow as pa

from feedbackloop.bronze.tables import TABLES
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.silver.enrich import ENRICHMENT
from feedbackloop.transform.state import build_selection, project_fingerprint, record_success
from feedbackloop.warehouse import ensure_source_tables


def test_selection_follows_changed_inputs_and_project_changes(settings: Settings) -> None:
    ensure_source_tables(settings)
    fingerprint = project_fingerprint(settings)
    # no successful build yet: the whole layer, unit tests included
    assert build_selection(settings, "silver", fingerprint) == ["--select", "silver"]
    record_success(settings, "silver", fingerprint)
    assert build_selection(settings, "silver", fingerprint) is None  # nothing changed: skip
    assert build_selection(settings, "silver", fingerprint, force=True) == ["--select", "silver"]

    schema, _ = TABLES["feedback"]
    Lake(settings).append("bronze", "feedback", pa.Table.from_pylist([], schema=schema))
    assert build_selection(settings, "silver", fingerprint) == [
        "--select", "source:bronze.feedback+,silver", "--exclude-resource-type", "unit_test",
    ]  # fmt: skip

    record_success(settings, "gold", fingerprint)
    Lake(settings).append("silver", "feedback_enrichment", pa.Table.from_pylist([], schema=ENRICHMENT))
    selection = build_selection(settings, "gold", fingerprint)
    assert selection is not None
    assert "source:silver.feedback_enrichment+,gold" in selection and "feedback_enrichment+,gold" in selection

    # a change to the dbt project (or to the vars passed in) rebuilds and unit-tests the whole layer,
    # incremental models from scratch: their rows came from the old SQL
    assert project_fingerprint(settings, {"access_readers": ["team"]}) != fingerprint
    assert build_selection(settings, "silver", "another-project") == ["--select", "silver", "--full-refresh"]
