"""Prefect set up for runs in this process: no heartbeats in ephemeral mode, nothing changed against a server."""

from __future__ import annotations

import threading

import pytest
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    get_current_settings,
    temporary_settings,
)

from feedbackloop.settings import Settings
from feedbackloop.transform import dbt as dbt_module
from flows._runtime import is_ephemeral, local_runs, start_ephemeral_api
from flows.pipeline import parse_ahead


def test_ephemeral_mode_runs_flows_without_heartbeats() -> None:
    with temporary_settings(updates={PREFECT_API_URL: None, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}):
        assert is_ephemeral()
        with local_runs():
            assert get_current_settings().flows.heartbeat_frequency is None


def test_a_prefect_server_keeps_its_heartbeats() -> None:
    server = {PREFECT_API_URL: "http://prefect.example:4200/api", PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}
    with temporary_settings(updates=server):
        assert not is_ephemeral()
        with local_runs():
            assert get_current_settings().flows.heartbeat_frequency == 60


def test_no_temporary_api_starts_against_a_server() -> None:
    before = threading.active_count()
    with temporary_settings(updates={PREFECT_API_URL: "http://prefect.example:4200/api"}):
        wait = start_ephemeral_api()
    wait()
    assert threading.active_count() == before


@pytest.mark.dbt
@pytest.mark.slow
def test_parse_ahead_parses_only_when_a_layer_build_will_run(settings: Settings) -> None:
    dbt_module._parsed.clear()
    parse_ahead(["ingest", "enrich"])
    assert not dbt_module._parsed
    parse_ahead(["ingest", "silver"])
    assert len(dbt_module._parsed) == 1
