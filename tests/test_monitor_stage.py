"""The monitor stage on a small lake: incidents from bursts, silence on noise, incremental reruns, bad input."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from feedbackloop.incidents.report import list_incidents
from feedbackloop.incidents.stage import run_monitor, run_monitor_catching_up
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect
from tests.incident_lake import START, Scenario, write

BURST_AT = START + timedelta(days=30, hours=5)


def _burst_lake(settings: Settings, **burst: object) -> Scenario:
    scenario = Scenario()
    scenario.background(35, 20)
    scenario.burst(BURST_AT, 30, 40, "billing", "double_charge", **burst)
    write(settings, scenario, telemetry_errors_after=BURST_AT)
    return scenario


def test_a_burst_of_one_complaint_opens_one_incident_with_its_category_and_telemetry(settings: Settings) -> None:
    _burst_lake(settings)
    run_monitor(settings, "r1", as_of=START + timedelta(days=28))
    assert list_incidents(settings) == []
    stats = run_monitor(settings, "r2", as_of=START + timedelta(days=31, hours=12))
    assert stats["incidents_opened"] == 1
    (incident,) = list_incidents(settings)
    assert (incident["category"], incident["product"], incident["status"]) == ("billing", "com.acme.shop", "open")
    assert incident["member_count"] >= 30
    assert len(incident["rule_ids"]) >= 2
    assert incident["telemetry_rows"] >= 1
    assert incident["usual_deploy_sha"] == "abc0def"
    assert incident["evidence"]["complaints"][0]["quote"]
    assert "charge" in incident["name"] or "double" in incident["name"]


def test_steady_background_complaints_open_no_incident(settings: Settings) -> None:
    scenario = Scenario()
    scenario.background(35, 20)
    write(settings, scenario)
    for day in (14, 21, 28, 32, 35):
        run_monitor(settings, f"r{day}", as_of=START + timedelta(days=day))
    assert list_incidents(settings, status=None) == []
    hits = connect(settings).execute("select count(*), count(*) filter (where is_fired) from gold.fct_rule_hits")
    rows, fired = hits.fetchone()
    assert rows > 0  # every evaluation is recorded, with its numbers, even when nothing fires
    assert fired <= 2  # a lone rule may fire on noise; the incident quorum keeps it from paging


def test_a_rerun_assigns_nothing_twice_and_updates_the_same_incident(settings: Settings) -> None:
    _burst_lake(settings)
    as_of = START + timedelta(days=31, hours=12)
    first = run_monitor(settings, "r1", as_of=as_of)
    second = run_monitor(settings, "r2", as_of=as_of)
    assert first["complaints_assigned"] > 0 and second["complaints_assigned"] == 0
    assert second["incidents_opened"] == 0
    later = run_monitor(settings, "r3", as_of=as_of + timedelta(days=1))
    assert later["incidents_opened"] == 0
    (incident,) = list_incidents(settings)
    assert incident["incident_id"] == first["opened"][0]
    members = Lake(settings).read("gold", "fct_incident_members").to_pandas()
    assert not members.duplicated(["incident_id", "doc_id"]).any()


def test_a_new_complaint_close_to_a_critical_incident_escalates_it_at_once(settings: Settings) -> None:
    scenario = Scenario()
    scenario.background(35, 20)
    scenario.burst(BURST_AT, 30, 40, "billing", "double_charge", severity="critical")
    late = scenario.burst(BURST_AT + timedelta(days=3), 1, 1, "billing", "double_charge", severity="critical")
    write(settings, scenario, telemetry_errors_after=BURST_AT)
    run_monitor(settings, "r1", as_of=BURST_AT + timedelta(days=2))
    (incident,) = list_incidents(settings)
    assert incident["severity"] == "critical" and not incident["is_escalated"]
    stats = run_monitor(settings, "r2", as_of=BURST_AT + timedelta(days=3, hours=2))
    assert stats["escalations"] == 1
    (incident,) = list_incidents(settings)
    assert incident["is_escalated"]
    members = Lake(settings).read("gold", "fct_incident_members").to_pandas()
    assert members.loc[members["doc_id"] == late[0], "incident_id"].tolist() == [incident["incident_id"]]
    requests = Lake(settings).read("silver", "feedback_review_requests").to_pandas()
    assert requests["doc_id"].tolist() == late and requests["review_reason"].tolist() == ["high_impact"]


def test_a_quiet_incident_is_resolved(settings: Settings) -> None:
    _burst_lake(settings)
    run_monitor(settings, "r1", as_of=START + timedelta(days=31, hours=12))
    run_monitor(settings, "r2", as_of=START + timedelta(days=39))
    (incident,) = list_incidents(settings, status="resolved")
    assert incident["resolved_at"] is not None


def test_an_empty_lake_is_an_empty_run(settings: Settings) -> None:
    stats = run_monitor(settings, "r1")
    assert stats["complaints"] == 0 and stats["incidents_open"] == 0


def test_an_empty_window_records_no_hits_and_does_not_crash(settings: Settings) -> None:
    scenario = Scenario()
    scenario.background(5, 10)
    write(settings, scenario)
    stats = run_monitor(settings, "r1", as_of=START + timedelta(days=200))
    assert stats["rules_fired"] == 0 and stats["incidents_open"] == 0


def test_a_brand_new_category_with_no_baseline_is_evaluated_without_crashing(settings: Settings) -> None:
    scenario = Scenario()
    scenario.background(30, 20)
    scenario.burst(START + timedelta(days=29), 20, 12, "accessibility", "screen_reader")
    write(settings, scenario)
    run_monitor(settings, "r1", as_of=START + timedelta(days=30))
    rows = (
        connect(settings)
        .execute(
            "select rule_id, baseline, volume, has_baseline from gold.fct_rule_hits "
            "where subject like '%accessibility%'"
        )
        .df()
    )
    wow = rows[rows["rule_id"] == "category_volume_wow"].iloc[0]
    assert wow["baseline"] == 0 and wow["volume"] == 12 and wow["has_baseline"]


def test_a_complaint_without_a_vector_waits_for_the_next_run(settings: Settings) -> None:
    scenario = Scenario()
    scenario.background(3, 5)
    write(settings, scenario)
    lake = Lake(settings)
    embeddings = lake.read("silver", "feedback_embeddings")
    lake.overwrite("silver", "feedback_embeddings", embeddings.slice(0, embeddings.num_rows - 2))
    stats = run_monitor(settings, "r1")
    assert stats["complaints_without_vector"] == 2
    lake.overwrite("silver", "feedback_embeddings", embeddings)
    assert run_monitor(settings, "r2")["complaints_assigned"] == 2


def test_a_rule_file_with_a_typo_stops_the_run_naming_the_line(settings: Settings, tmp_path: Path, monkeypatch) -> None:
    from feedbackloop.incidents.rules import RuleFileError
    from feedbackloop.settings import get_settings

    bad = tmp_path / "rules.yaml"
    text = (Path(__file__).parent.parent / "monitors" / "rules.yaml").read_text()
    bad.write_text(text.replace("min_volume: 20", "min_volume: twenty", 1))
    monkeypatch.setenv("FEEDBACKLOOP_MONITOR_RULES_PATH", str(bad))
    get_settings.cache_clear()
    with pytest.raises(RuleFileError, match=r"rules.yaml, line \d+: rule 'category_volume_wow': min_volume"):
        run_monitor(get_settings(), "r1")
    assert not Lake(settings).exists("gold", "fct_rule_hits")


def test_incident_tables_are_registered_for_erasure() -> None:
    from feedbackloop.governance.registry import doc_tables

    labels = {t.label for t in doc_tables()}
    assert {"gold.fct_incident_members", "gold.fct_incident_telemetry", "gold.fct_feedback_cluster_members"} <= labels


def test_rule_hits_carry_their_numbers(settings: Settings) -> None:
    _burst_lake(settings)
    run_monitor(settings, "r1", as_of=START + timedelta(days=31, hours=12))
    hits = connect(settings).execute("select * from gold.fct_rule_hits where is_fired").df()
    assert len(hits) >= 2
    assert hits["observed"].notna().all() and (hits["volume"] >= hits["threshold"].clip(upper=1)).all()
    assert set(hits["incident_id"].dropna()) == {list_incidents(settings)[0]["incident_id"]}
    assert json.loads(hits["subject_json"].iloc[0])


def test_a_first_run_over_weeks_of_history_catches_up_day_by_day_and_sees_the_burst_when_it_happened(
    settings: Settings,
) -> None:
    scenario = _burst_lake(settings)
    settings = settings.model_copy(update={"monitor_warmup_days": 25.0})  # fewer passes, same story
    stats = run_monitor_catching_up(settings, "first")
    runs = connect(settings).execute("select as_of, is_catch_up, run_id from gold.fct_monitor_runs order by as_of")
    passes = runs.fetchall()
    newest = max(i["event_at"] for i in scenario.items)
    assert stats["passes"] == len(passes) and passes[-1][1:] == (False, "first")
    assert all(p[1] for p in passes[:-1]) and all(p[0].hour == 0 for p in passes[:-1])
    assert passes[0][0] == START + timedelta(days=25) and passes[-2][0].date() == newest.date()
    (incident,) = list_incidents(settings, status=None)
    assert incident["detected_at"] == START + timedelta(days=31)  # the first midnight after the burst began


def test_a_second_run_with_nothing_new_makes_one_pass_and_opens_nothing(settings: Settings) -> None:
    _burst_lake(settings)
    settings = settings.model_copy(update={"monitor_warmup_days": 25.0})
    run_monitor_catching_up(settings, "first")
    stats = run_monitor_catching_up(settings, "again")
    assert stats["passes"] == 1 and stats["incidents_opened"] == 0
    assert len(list_incidents(settings, status=None)) == 1
