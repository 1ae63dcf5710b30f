"""Retention per source, and lineage from any gold row back to its file, offset, runs and code."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from feedbackloop.cli import app
from feedbackloop.governance.lineage import LineageNotFound, aggregate_lineage, lineage
from feedbackloop.governance.retention import enforce_retention, plan_retention
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings, get_settings
from feedbackloop.warehouse import connect
from flows.retention import retention

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.dbt]
# The sample records are from 2026-10-01..04; "now" is chosen relative to that.
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def with_retention(monkeypatch: pytest.MonkeyPatch, policy: dict[str, int]) -> Settings:
    monkeypatch.setenv("FEEDBACKLOOP_RETENTION_DAYS", json.dumps(policy))
    get_settings.cache_clear()
    return get_settings()


def test_expired_docs_of_a_source_are_erased_and_other_sources_kept(
    governed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = with_retention(monkeypatch, {"zendesk": 30})
    result = enforce_retention(settings, now=NOW)
    assert result.status == "completed" and result.docs_erased == 3
    with connect(settings) as conn:
        sources = dict(conn.execute("select source_system, count(*) from bronze.feedback group by 1").fetchall())
        gold = dict(conn.execute("select source_system, count(*) from gold.fct_feedback group by 1").fetchall())
    assert sources == {"app_store": 2} and gold == {"app_store": 2}
    assert Lake(settings).count("bronze", "quarantine") == 1  # quarantined today: its period runs from then
    assert Lake(settings).count("bronze", "telemetry_events") == 2  # telemetry has no period: kept


def test_the_default_period_covers_unlisted_sources_and_telemetry_has_its_own(
    governed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = with_retention(monkeypatch, {"*": 30, "zendesk": 3650, "telemetry": 10})
    plan = plan_retention(settings, now=NOW)
    assert len(plan.doc_ids) == 2  # the two app store reviews
    assert len(plan.event_ids) == 2


def test_nothing_expired_is_a_no_op(governed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = with_retention(monkeypatch, {"*": 3650})
    version = Lake(settings).table("bronze", "feedback").version()
    assert enforce_retention(settings, now=NOW).status == "nothing_expired"
    assert Lake(settings).table("bronze", "feedback").version() == version


def test_a_period_below_one_day_is_refused(governed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = with_retention(monkeypatch, {"zendesk": 0})
    with pytest.raises(ValueError, match="at least 1 day"):
        plan_retention(settings, now=NOW)


def test_retention_flow_runs_with_an_audit_record(governed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with_retention(monkeypatch, {"app_store": 1})
    result = retention()
    assert result["status"] == "completed" and result["docs_erased"] == 2
    (audit,) = Lake(get_settings()).read("governance", "erasure_audit").to_pylist()
    assert (audit["request_kind"], audit["subject_kind"]) == ("retention", "source retention")


def gold_doc(settings: Settings, source_record_id: str) -> str:
    with connect(settings) as conn:
        (doc_id,) = conn.execute(
            "select doc_id from gold.fct_feedback where source_record_id = ?", [source_record_id]
        ).fetchone()
    return doc_id


def test_lineage_names_the_source_file_offset_runs_and_code_version(governed: Settings) -> None:
    result = lineage(governed, gold_doc(governed, "1"))
    assert result.source["source_file"].endswith("zendesk/tickets.json")
    assert result.source["source_offset"] == 1
    flows = {run["flow_name"] for run in result.runs.values()}
    assert {"ingest", "enrich"} <= flows
    assert all(run["code_version"].startswith("0.1.0") for run in result.runs.values())
    assert result.stages["redaction"][0]["redaction_version"] == "pii-1"
    assert "silver.feedback_embedding_rejects" in result.absent  # nothing was rejected: reported, not an error


def test_lineage_shows_the_label_with_its_model_and_run(governed: Settings) -> None:
    result = lineage(governed, gold_doc(governed, "1"))
    (label,) = [row for row in result.stages["labels"] if row["table"] == "silver.feedback_labels"]
    assert label["model_id"] and label["taxonomy_version"]
    assert result.runs[label["label_run_id"]]["flow_name"] == "label"
    assert "silver.feedback_labels" not in result.absent


def test_lineage_of_an_unknown_row_says_so(governed: Settings) -> None:
    with pytest.raises(LineageNotFound, match="no row with doc_id 'nope'"):
        lineage(governed, "nope")


def test_lineage_cli_prints_file_and_offset(governed: Settings) -> None:
    outcome = CliRunner().invoke(app, ["lineage", gold_doc(governed, "r1")])
    assert outcome.exit_code == 0, outcome.output
    flat = "".join(outcome.output.replace("│", " ").split())  # rich wraps long paths anywhere
    assert "app_store/reviews.csv@offset2" in flat  # line 2: the first row after the header


def test_an_aggregate_gold_row_lists_the_source_records_it_counts(governed: Settings) -> None:
    with connect(governed) as conn:
        (row_id, count) = conn.execute(
            "select daily_volume_id, feedback_count from gold.fct_feedback_daily_volume"
            " where source_system = 'app_store'"
        ).fetchone()
    result = aggregate_lineage(governed, row_id)
    assert result.table == "gold.fct_feedback_daily_volume" and result.docs == count == 2
    assert {s["source_offset"] for s in result.sources} == {2, 3}
    assert all(s["source_file"].endswith("app_store/reviews.csv") for s in result.sources)


def test_an_unknown_aggregate_row_says_so(governed: Settings) -> None:
    with pytest.raises(LineageNotFound, match="or any gold aggregate"):
        aggregate_lineage(governed, "nope")
