"""The demo's closing scorecard: planted incidents (the manifest) next to what the monitor opened."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from feedbackloop.demo.scorecard import detected_incidents, scorecard
from feedbackloop.incidents.tables import INCIDENT_TELEMETRY, INCIDENTS
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

AT = datetime(2026, 11, 10, tzinfo=UTC)
MANIFEST = {
    "incidents": [
        {"id": "inc-billing", "category": "billing", "product": "com.acme.shop", "onset": "2026-11-08T00:00:00Z"},
        {"id": "inc-login", "category": "login", "product": "com.acme.bank", "onset": "2026-11-09T00:00:00Z"},
    ]
}


def write_incidents(settings: Settings) -> None:
    lake = Lake(settings)
    incidents = [
        {"incident_id": "i1", "name": "billing: charged / twice", "category": "billing",
         "product": "com.acme.shop", "status": "open", "member_count": 12, "detected_at": AT},
        {"incident_id": "i2", "name": "ux: dark / mode", "category": "ux",
         "product": "com.acme.shop", "status": "open", "member_count": 5, "detected_at": AT},
    ]  # fmt: skip
    lake.append("gold", "dim_incidents", pa.Table.from_pylist(incidents, schema=INCIDENTS))
    evidence = [{"incident_id": "i1", "doc_id": d, "join_key": "session"} for d in ("a", "b")]
    lake.append("gold", "fct_incident_telemetry", pa.Table.from_pylist(evidence, schema=INCIDENT_TELEMETRY))


def test_a_planted_incident_is_matched_by_category_and_product_with_its_telemetry_count(settings: Settings) -> None:
    write_incidents(settings)
    rows, others = scorecard(MANIFEST, detected_incidents(settings))
    billing, login = rows
    assert billing["detected"]["incident_id"] == "i1" and billing["detected"]["telemetry_rows"] == 2
    assert login["detected"] is None
    assert [o["incident_id"] for o in others] == ["i2"]


def test_time_to_detection_is_data_time_from_the_planted_onset(settings: Settings) -> None:
    write_incidents(settings)
    billing, login = scorecard(MANIFEST, detected_incidents(settings))[0]
    assert billing["hours_to_detection"] == 48.0 and login["hours_to_detection"] is None


def test_before_the_first_monitor_run_nothing_is_detected_and_nothing_fails(settings: Settings) -> None:
    rows, others = scorecard(MANIFEST, detected_incidents(settings))
    assert [r["detected"] for r in rows] == [None, None] and others == []
