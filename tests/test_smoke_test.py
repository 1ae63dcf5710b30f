"""`feedbackloop smoke-test` reports pass/fail/skip per backend, against the local defaults and the fakes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedbackloop.cli import app
from feedbackloop.settings import Settings, get_settings
from tests.fake_openai import fake_openai
from tests.fakes.databricks_jobs import JobsApi, serve_jobs_api
from tests.servers import OpenAIEmbeddingsServer

pytestmark = [pytest.mark.prefect]


def smoke(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, dict[str, dict]]:
    for key, value in env.items():
        monkeypatch.setenv(f"FEEDBACKLOOP_{key.upper()}", value)
    get_settings.cache_clear()
    outcome = CliRunner().invoke(app, ["smoke-test", "--json"])
    start = outcome.output.index("[")
    return outcome.exit_code, {r["name"]: r for r in json.loads(outcome.output[start:])}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def databricks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobsApi]:
    with serve_jobs_api(tmp_path) as (api, host, ca_bundle):
        monkeypatch.setenv("FEEDBACKLOOP_DATABRICKS_HOST", host)
        monkeypatch.setenv("FEEDBACKLOOP_DATABRICKS_TOKEN", api.token)
        monkeypatch.setenv("FEEDBACKLOOP_DATABRICKS_CA_BUNDLE", str(ca_bundle))
        monkeypatch.setenv("FEEDBACKLOOP_DATABRICKS_HTTP_PATH", "/sql/1.0/warehouses/abc123def456")
        yield api


def test_local_defaults_pass_and_unconfigured_backends_are_skipped(settings: Settings, monkeypatch) -> None:
    code, results = smoke(monkeypatch)
    assert code == 0
    assert {name: r["status"] for name, r in results.items()} == {
        "lake": "pass",
        "landing zone": "pass",
        "warehouse": "pass",
        "databricks jobs": "skip",
        "index": "pass",
        "embeddings": "pass",
        "llm endpoint": "skip",
        "prefect api": "pass",  # the test session's Prefect API
    }
    assert results["lake"]["target"].endswith("/_system/smoke-test")


def test_the_smoke_probe_is_not_a_lake_table(settings: Settings, monkeypatch) -> None:
    from feedbackloop.warehouse import lake_tables

    smoke(monkeypatch)
    assert ("_system", "smoke-test") not in lake_tables(settings)


@pytest.mark.es
def test_production_backends_pass_against_the_local_fakes(
    settings: Settings, monkeypatch, databricks: JobsApi, es_url: str
) -> None:
    with fake_openai(lambda body: "OK") as llm, OpenAIEmbeddingsServer(dim=8) as embeddings:
        code, results = smoke(
            monkeypatch,
            dbt_target="databricks",
            dbt_runner="databricks_job",
            index_backend="elasticsearch",
            elasticsearch_url=es_url,
            embedding_backend="openai",
            embedding_base_url=embeddings.base_url,
            embedding_model="text-embedding-3-small",
            embedding_dim="8",
            llm_endpoint_kind="openai",
            llm_base_url=llm.base_url,
            llm_model="gpt-4o-mini",
        )
    assert code == 0, results
    assert {r["status"] for r in results.values()} == {"pass"}
    assert results["warehouse"]["detail"] == "feedbackloop: RUNNING"
    assert results["index"]["detail"].startswith("Elasticsearch 8.")
    assert results["embeddings"]["detail"] == "text-embedding-3-small: 8-d vector"
    assert llm.requests[0]["max_tokens"] == 1


def test_an_unreachable_llm_endpoint_fails_its_row_and_the_command(settings: Settings, monkeypatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    code, results = smoke(monkeypatch, llm_endpoint_kind="vllm", llm_base_url=url, llm_model="qwen")
    assert code == 1
    assert results["llm endpoint"]["status"] == "fail"
    assert results["llm endpoint"]["target"] == url
    assert "APIConnectionError" in results["llm endpoint"]["detail"]
    assert results["lake"]["status"] == "pass"  # one failing check never stops the others


def test_a_wrong_databricks_token_fails_warehouse_and_jobs_naming_the_status(
    settings: Settings, monkeypatch, databricks: JobsApi
) -> None:
    code, results = smoke(monkeypatch, dbt_target="databricks", dbt_runner="databricks_job", databricks_token="dapi-x")
    assert code == 1
    for name in ("warehouse", "databricks jobs"):
        assert results[name]["status"] == "fail"
        assert "HTTP 401" in results[name]["detail"] and "Invalid access token" in results[name]["detail"]


def test_an_unknown_warehouse_fails_naming_it(settings: Settings, monkeypatch, databricks: JobsApi) -> None:
    code, results = smoke(monkeypatch, dbt_target="databricks", databricks_http_path="/sql/1.0/warehouses/nope")
    assert code == 1
    assert "Warehouse nope does not exist" in results["warehouse"]["detail"]


def test_the_table_names_every_check(settings: Settings, monkeypatch) -> None:
    get_settings.cache_clear()
    outcome = CliRunner().invoke(app, ["smoke-test"], env={"COLUMNS": "200"})
    assert outcome.exit_code == 0, outcome.output
    for name in ("lake", "landing zone", "warehouse", "index", "embeddings", "llm endpoint", "prefect api"):
        assert name in outcome.output
    assert "PASS" in outcome.output and "SKIP" in outcome.output
