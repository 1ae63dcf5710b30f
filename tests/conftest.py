from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Nothing leaves loopback during tests.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

from feedbackloop.settings import Settings, get_settings

# Shared fixtures of the governance tests (a PII-rich lake built once, an Elasticsearch server).
pytest_plugins = ["tests.governance_lake"]


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    """One throwaway Prefect API (SQLite) for the whole session; flows run against it for real.

    Like the ephemeral API of `feedbackloop run`, it dies with the process: no flow run heartbeats.
    """
    from prefect.testing.utilities import prefect_test_harness

    from flows._runtime import without_heartbeats

    with prefect_test_harness(server_startup_timeout=180), without_heartbeats():
        yield


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing every path at a fresh temporary lake; flows pick them up via the env."""
    env = {
        "FEEDBACKLOOP_LAKE_URI": str(tmp_path / "lake"),
        "FEEDBACKLOOP_INBOX_DIR": str(tmp_path / "inbox"),
        "FEEDBACKLOOP_WAREHOUSE_PATH": str(tmp_path / "lake" / "warehouse.duckdb"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Elasticsearch API: ELASTICSEARCH_URL when set, else noida-db started for this session."""
    from tests.servers import elasticsearch_url

    with elasticsearch_url(tmp_path_factory.mktemp("noida")) as url:
        yield url
