"""The demo generator writes deterministic source exports that ingest cleanly and hide detectable incidents."""

from __future__ import annotations

import codecs
import json
import time
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from feedbackloop.demo import DemoConfig, write_demo_inbox
from feedbackloop.demo.text import DEFAULT_DATASETS_DIR, load_corpora
from feedbackloop.ingest.app_store import AppStoreAdapter
from feedbackloop.ingest.base import RowError, SourceAdapter
from feedbackloop.ingest.google_play import GooglePlayAdapter
from feedbackloop.ingest.runner import IngestStats, ingest_inbox
from feedbackloop.ingest.zendesk import ZendeskAdapter
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

SMALL: dict[str, Any] = {"days": 14, "reviews_per_day": 20}
# Big enough that every incident has dozens of complaints, small enough to generate in well under a second.
BUSY: dict[str, Any] = {"days": 28, "reviews_per_day": 60}
TAXONOMY = {"billing", "login", "performance", "ux", "feature_request", "bug", "onboarding", "trust",
            "account_management"}  # fmt: skip
EVIDENCE_EVENT = {
    "inc-billing-android-double-charge": "checkout_failed",
    "inc-login-ios-auth-outage": "login_failed",
}

Demo = tuple[Path, dict[str, Any]]


def _generate(root: Path, **config: Any) -> Demo:
    inbox = root / "inbox"
    return inbox, write_demo_inbox(DemoConfig(**config), inbox)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return _generate(tmp_path_factory.mktemp("small"), **SMALL)


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return _generate(tmp_path_factory.mktemp("busy"), **BUSY)


@pytest.fixture(scope="module")
def busy_control(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return _generate(tmp_path_factory.mktemp("busy_control"), **BUSY, scenario="control")


@pytest.fixture(scope="module")
def ingested(small: Demo, tmp_path_factory: pytest.TempPathFactory) -> tuple[IngestStats, Settings]:
    inbox, _ = small
    settings = Settings(lake_uri=str(tmp_path_factory.mktemp("lake")), inbox_dir=inbox)
    return ingest_inbox(settings, "demo-test"), settings


def _files(inbox: Path) -> dict[str, bytes]:
    return {p.relative_to(inbox).as_posix(): p.read_bytes() for p in sorted(inbox.rglob("*")) if p.is_file()}


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


@cache
def _feedback(inbox: Path) -> list[dict[str, Any]]:
    """Every readable review and ticket, canonicalised by its adapter, once per record."""
    adapters: dict[str, type[SourceAdapter]] = {
        "app_store": AppStoreAdapter,
        "google_play": GooglePlayAdapter,
        "zendesk": ZendeskAdapter,
    }
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for source, adapter_type in adapters.items():
        for path in sorted(p for p in (inbox / source).rglob("*") if p.is_file()):
            adapter = adapter_type()
            for row in adapter.read(path):
                if row.payload is None:
                    continue
                try:
                    record = adapter.to_canonical(row.payload)
                except RowError:
                    continue
                if not record["source_record_id"]:
                    continue
                record["source"] = source
                if source == "app_store":  # the App Store export has no app column; its folder names it
                    record["product"] = path.parent.name
                records[(source, record["source_record_id"])] = record
    return list(records.values())


@cache
def _telemetry(inbox: Path) -> list[dict[str, Any]]:
    events = []
    for path in sorted((inbox / "telemetry").iterdir()):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # the planted truncated line
    return events


def _windows(manifest: dict[str, Any], incident: dict[str, Any]) -> tuple[tuple[datetime, datetime], ...]:
    """The incident window and an equally long window right before it (clipped to the data)."""
    onset, end = _at(incident["onset"]), _at(incident["end"])
    start = max(_at(manifest["window"]["start"]), onset - (end - onset))
    return (start, onset), (onset, end)


def _complaints(manifest: dict[str, Any], incident: dict[str, Any], records: list[dict[str, Any]]) -> list[float]:
    """Complaints per hour mentioning the incident, before and during it."""
    keywords = [k.lower() for k in incident["evidence"]["complaint_keywords"]]
    rates = []
    for lo, hi in _windows(manifest, incident):
        hits = [
            r for r in records
            if r["product"] == incident["product"] and r["platform"] in (incident["platform"], None)
            and lo <= r["event_at"] < hi and any(k in r["customer_text"].lower() for k in keywords)
        ]  # fmt: skip
        rates.append(len(hits) / ((hi - lo).total_seconds() / 3600))
    return rates


# -- determinism ---------------------------------------------------------------------------------------


def test_same_config_writes_byte_identical_files(small: Demo, tmp_path: Path) -> None:
    inbox, manifest = small
    again_inbox, again = _generate(tmp_path, **SMALL)
    assert _files(again_inbox) == _files(inbox)
    assert again == manifest


def test_manifest_is_saved_next_to_the_inbox(small: Demo) -> None:
    inbox, manifest = small
    assert json.loads((inbox.parent / "demo_manifest.json").read_text(encoding="utf-8")) == manifest


def test_another_seed_writes_different_data(small: Demo, tmp_path: Path) -> None:
    inbox, _ = small
    other_inbox, _ = _generate(tmp_path, **SMALL, seed=8)
    assert _files(other_inbox) != _files(inbox)


# -- files and formats ---------------------------------------------------------------------------------


def test_each_source_gets_one_file_per_iso_week(small: Demo) -> None:
    inbox, manifest = small
    names = set(_files(inbox))
    for week in ("2026-W45", "2026-W46", "2026-W47"):
        assert f"app_store/com.acme.shop/reviews_{week}.csv" in names
        assert f"google_play/reviews_com.acme.bank_{week}.csv" in names
        assert f"zendesk/tickets_{week}.json" in names
        assert f"telemetry/events_{week}.jsonl" in names
    assert sorted(names) == manifest["files"]


def test_google_play_reports_are_utf16_with_a_bom(small: Demo) -> None:
    inbox, _ = small
    for path in (inbox / "google_play").iterdir():
        assert path.read_bytes().startswith(codecs.BOM_UTF16_LE)


def test_ingest_reads_every_file_and_quarantines_only_the_planted_dirt(
    ingested: tuple[IngestStats, Settings], small: Demo
) -> None:
    stats, _ = ingested
    _, manifest = small
    dirt = manifest["dirt"]
    assert stats.files_processed == sum(t["files"] for t in manifest["totals"].values())
    assert stats.rows_quarantined == dirt["expected_quarantine_rows"] > 0
    assert stats.rows_duplicate == dirt["expected_duplicate_rows"] > 0
    assert stats.rows_written == stats.rows_read - stats.rows_quarantined - stats.rows_duplicate
    assert set(stats.quarantine_reasons) == {
        "missing source_record_id",
        "unparseable timestamp",
        "ticket has no id",
        "missing event_id",
        "invalid JSON",
    }


def test_every_source_lands_in_bronze(ingested: tuple[IngestStats, Settings]) -> None:
    _, settings = ingested
    lake = Lake(settings)
    sources = lake.read("bronze", "feedback", columns=["source_system"]).column("source_system").to_pylist()
    assert set(sources) == {"app_store", "google_play", "zendesk"}
    assert lake.count("bronze", "telemetry_events") > 1000


def test_quarantine_dirt_stays_under_one_percent(small: Demo) -> None:
    _, manifest = small
    rows = sum(t["rows"] for t in manifest["totals"].values())
    assert manifest["dirt"]["expected_quarantine_rows"] < 0.01 * rows


def test_deploy_events_carry_7_to_40_hex_char_shas(small: Demo) -> None:
    inbox, manifest = small
    deploys = [e for e in _telemetry(inbox) if e["event_type"] == "deploy"]
    assert len(deploys) == len(manifest["deploys"]) >= 5
    for event in deploys:
        sha = event["deploy_sha"]
        assert 7 <= len(sha) <= 40 and int(sha, 16) >= 0


def test_missing_datasets_fall_back_to_templated_text(tmp_path: Path) -> None:
    _, manifest = _generate(tmp_path, **SMALL, datasets_dir=tmp_path / "no-datasets")
    assert manifest["real_text"]["rows_available"] == {}
    assert manifest["totals"]["app_store"]["rows"] > 0


@pytest.mark.skipif(not DEFAULT_DATASETS_DIR.exists(), reason="shared datasets not present")
def test_real_review_text_is_mixed_in(small: Demo) -> None:
    inbox, _ = small
    real = {text for pool in load_corpora(DEFAULT_DATASETS_DIR).maalej.values() for _, text, _ in pool}
    bodies = {r["customer_text"] for r in _feedback(inbox) if r["source"] == "google_play"}
    assert any(body in real for body in bodies)


def test_regenerating_replaces_the_previous_demo_files(tmp_path: Path) -> None:
    _generate(tmp_path, days=21, reviews_per_day=5)
    inbox, manifest = _generate(tmp_path, days=14, reviews_per_day=5)
    assert sorted(_files(inbox)) == manifest["files"]


def test_unknown_scenario_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        write_demo_inbox(DemoConfig(**SMALL, scenario="chaos"), tmp_path / "inbox")


def test_config_comes_from_the_demo_settings() -> None:
    settings = Settings(demo_seed=3, demo_days=20, demo_end_date="2026-05-01", demo_reviews_per_day=5)
    config = DemoConfig.from_settings(settings)
    assert (config.seed, config.days, config.end_date, config.reviews_per_day) == (3, 20, date(2026, 5, 1), 5)


def test_default_config_generates_in_a_few_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    _generate(tmp_path)
    assert time.perf_counter() - started < 15  # about 1.5 s on a 2-core build machine


# -- planted incidents ---------------------------------------------------------------------------------


def test_manifest_lists_the_planted_incidents_inside_the_window(small: Demo) -> None:
    _, manifest = small
    start, end = _at(manifest["window"]["start"]), _at(manifest["window"]["end"])
    incidents = {i["id"]: i for i in manifest["incidents"]}
    assert set(incidents) == {*EVIDENCE_EVENT, "inc-performance-dashboard-latency-creep"}
    for incident in incidents.values():
        assert incident["category"] in TAXONOMY
        assert {incident["product"], incident["platform"]} <= {p for x in manifest["products"] for p in x.values()}
        assert start < _at(incident["onset"]) < _at(incident["end"]) < end


def test_billing_incident_begins_with_the_deploy_of_its_version(small: Demo) -> None:
    inbox, manifest = small
    billing = next(i for i in manifest["incidents"] if i["category"] == "billing")
    deploy = next(e for e in _telemetry(inbox) if e["deploy_sha"] == billing["deploy_sha"])
    assert (deploy["event_type"], deploy["platform"], deploy["app_version"]) == ("deploy", "android", "5.4.0")
    assert _at(deploy["event_at"]) == _at(billing["onset"])


def test_login_outage_has_no_deploy_nearby(small: Demo) -> None:
    _, manifest = small
    login = next(i for i in manifest["incidents"] if i["category"] == "login")
    onset = _at(login["onset"])
    assert login["deploy_sha"] is None
    assert not [
        d for d in manifest["deploys"]
        if d["product"] == "com.acme.bank" and d["platform"] == "ios"
        and onset - timedelta(days=2) <= _at(d["deployed_at"]) <= _at(login["end"])
    ]  # fmt: skip


def test_control_scenario_plants_nothing_but_keeps_background_and_deploys(busy: Demo, busy_control: Demo) -> None:
    _, incidents = busy
    _, control = busy_control
    assert control["incidents"] == []
    assert [w["id"] for w in control["counterfactual_windows"]] == [i["id"] for i in incidents["incidents"]]
    assert control["deploys"] == incidents["deploys"]
    planted = {"app_store": 0, "google_play": 0, "zendesk": 0}
    for incident in incidents["incidents"]:
        counts = incident["evidence"]["planted"]
        planted["app_store"] += counts.get("app_store_reviews", 0)
        planted["google_play"] += counts.get("google_play_reviews", 0)
        planted["zendesk"] += counts.get("tickets", 0)
    for source, n in planted.items():
        assert control["totals"][source]["rows"] == incidents["totals"][source]["rows"] - n


@pytest.mark.parametrize("incident_id", [*EVIDENCE_EVENT, "inc-performance-dashboard-latency-creep"])
def test_incident_complaints_rise_well_above_the_preceding_baseline(busy: Demo, incident_id: str) -> None:
    inbox, manifest = busy
    incident = next(i for i in manifest["incidents"] if i["id"] == incident_id)
    before, during = _complaints(manifest, incident, _feedback(inbox))
    assert during >= 3 * before and during > 0


@pytest.mark.parametrize("incident_id", [*EVIDENCE_EVENT, "inc-performance-dashboard-latency-creep"])
def test_incident_complaints_rise_well_above_the_control_scenario(
    busy: Demo, busy_control: Demo, incident_id: str
) -> None:
    (inbox, manifest), (control_inbox, _) = busy, busy_control
    incident = next(i for i in manifest["incidents"] if i["id"] == incident_id)
    _, during = _complaints(manifest, incident, _feedback(inbox))
    _, control = _complaints(manifest, incident, _feedback(control_inbox))
    assert during >= 3 * control and during > 0


@pytest.mark.parametrize("incident_id", list(EVIDENCE_EVENT))
def test_incident_failures_spike_in_telemetry(busy: Demo, incident_id: str) -> None:
    inbox, manifest = busy
    incident = next(i for i in manifest["incidents"] if i["id"] == incident_id)
    versions = set(manifest["app_versions"][f"{incident['product']}/{incident['platform']}"])
    rates = []
    for lo, hi in _windows(manifest, incident):
        failures = [
            e for e in _telemetry(inbox)
            if e["event_type"] == EVIDENCE_EVENT[incident_id] and e["platform"] == incident["platform"]
            and e["app_version"] in versions and lo <= _at(e["event_at"]) < hi
        ]  # fmt: skip
        rates.append(len(failures) / ((hi - lo).total_seconds() / 3600))
    assert rates[1] >= 5 * max(rates[0], 0.1)


def test_dashboard_latency_creeps_up_during_the_performance_incident(busy: Demo) -> None:
    inbox, manifest = busy
    incident = next(i for i in manifest["incidents"] if i["category"] == "performance")
    means = []
    for lo, hi in _windows(manifest, incident):
        values = [
            e["value"] for e in _telemetry(inbox)
            if e["event_type"] == "latency" and e["platform"] == "web" and lo <= _at(e["event_at"]) < hi
        ]  # fmt: skip
        means.append(sum(values) / len(values))
    assert means[1] >= 1.5 * means[0]


@pytest.mark.parametrize("incident_id", list(EVIDENCE_EVENT))
def test_incident_tickets_join_to_the_customers_failing_sessions(busy: Demo, incident_id: str) -> None:
    inbox, manifest = busy
    incident = next(i for i in manifest["incidents"] if i["id"] == incident_id)
    failing = {
        (e["user_id"], e["session_id"]) for e in _telemetry(inbox) if e["event_type"] == EVIDENCE_EVENT[incident_id]
    }
    onset, end = _at(incident["onset"]), _at(incident["end"])
    keywords = [k.lower() for k in incident["evidence"]["complaint_keywords"]]
    tickets = [
        r for r in _feedback(inbox)
        if r["source"] == "zendesk" and r["product"] == incident["product"] and onset <= r["event_at"] < end
        and any(k in r["customer_text"].lower() for k in keywords)
    ]  # fmt: skip
    joined = [t for t in tickets if (t["user_id"], t["session_id"]) in failing]
    assert len(tickets) >= 3
    assert len(joined) >= 0.4 * len(tickets)


def test_onsets_fall_inside_the_window_for_the_shortest_demo(tmp_path: Path) -> None:
    _, manifest = _generate(tmp_path, days=14, reviews_per_day=1, end_date=date(2027, 1, 3))
    end = datetime(2027, 1, 4, tzinfo=UTC)
    assert all(_at(i["end"]) < end for i in manifest["incidents"])
