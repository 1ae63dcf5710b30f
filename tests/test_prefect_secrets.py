"""Secrets come from Prefect Secret blocks: saved once by `feedbackloop prefect-setup`, read by Settings.

Everything runs against the session's real (ephemeral) Prefect API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.blocks.system import Secret
from pydantic import SecretStr
from typer.testing import CliRunner

from feedbackloop.cli import app
from feedbackloop.secrets import SECRET_SETTINGS, block_name
from feedbackloop.settings import Settings, get_settings
from flows.transform import transform
from tests.fakes.databricks_jobs import serve_jobs_api

pytestmark = [pytest.mark.prefect]


@pytest.fixture(autouse=True)
def no_secret_blocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no secret blocks and no secrets in the environment."""

    def clear() -> None:
        for setting in SECRET_SETTINGS:
            monkeypatch.delenv(f"FEEDBACKLOOP_{setting.upper()}", raising=False)
            with contextlib.suppress(Exception):  # Prefect raises when the block does not exist
                Secret.delete(block_name(setting))

    clear()
    get_settings.cache_clear()
    yield
    clear()
    get_settings.cache_clear()


def test_every_credential_setting_has_a_block() -> None:
    credentials = {name for name, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)}
    assert credentials <= set(SECRET_SETTINGS)
    assert {"storage_options", "vault_storage_options"} <= set(SECRET_SETTINGS)  # cloud keys


def test_prefect_setup_saves_a_block_per_secret_set_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACKLOOP_DATABRICKS_TOKEN", "dapi-from-env")
    monkeypatch.setenv("FEEDBACKLOOP_WEBHOOK_SECRETS", '{"zendesk": "hmac-1"}')
    outcome = CliRunner().invoke(app, ["prefect-setup"])
    assert outcome.exit_code == 0, outcome.output
    assert Secret.load("feedbackloop-databricks-token").get() == "dapi-from-env"
    assert Secret.load("feedbackloop-webhook-secrets").get() == {"zendesk": "hmac-1"}
    assert "feedbackloop-llm-api-key" in outcome.output and "skipped: not set" in outcome.output
    with pytest.raises(ValueError, match="Unable to find block document"):
        Secret.load("feedbackloop-llm-api-key")


def test_prefect_setup_creates_the_work_pool_once() -> None:
    first = CliRunner().invoke(app, ["prefect-setup", "--work-pool", "feedbackloop-test-pool"])
    again = CliRunner().invoke(app, ["prefect-setup", "--work-pool", "feedbackloop-test-pool"])
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert "created" in first.output and "exists" in again.output


def test_settings_take_secrets_from_blocks_with_the_prefect_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    Secret(value="dapi-from-block").save("feedbackloop-databricks-token", overwrite=True)
    Secret(value='{"intercom": "hmac-2"}').save("feedbackloop-webhook-secrets", overwrite=True)
    monkeypatch.setenv("FEEDBACKLOOP_SECRETS_BACKEND", "prefect")
    settings = Settings()
    assert settings.databricks_token == SecretStr("dapi-from-block")
    assert settings.webhook_secrets["intercom"].get_secret_value() == "hmac-2"
    assert settings.llm_api_key.get_secret_value() == ""  # no block, no env: the default


def test_the_environment_wins_over_a_block(monkeypatch: pytest.MonkeyPatch) -> None:
    Secret(value="dapi-from-block").save("feedbackloop-databricks-token", overwrite=True)
    monkeypatch.setenv("FEEDBACKLOOP_SECRETS_BACKEND", "prefect")
    monkeypatch.setenv("FEEDBACKLOOP_DATABRICKS_TOKEN", "dapi-from-env")
    assert Settings().databricks_token.get_secret_value() == "dapi-from-env"


def test_the_env_backend_never_reads_blocks() -> None:
    Secret(value="dapi-from-block").save("feedbackloop-databricks-token", overwrite=True)
    assert Settings().databricks_token.get_secret_value() == ""


def test_an_unreachable_prefect_api_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACKLOOP_SECRETS_BACKEND", "prefect")
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}),  # nothing listens on port 9
        pytest.raises(Exception, match=r"feedbackloop-databricks-token.*could not be read from the Prefect API"),
    ):
        Settings()


def test_the_transform_flow_authenticates_to_databricks_with_the_block_token(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_jobs_api(tmp_path, token="dapi-only-in-a-block") as (api, host, ca_bundle):
        Secret(value="dapi-only-in-a-block").save("feedbackloop-databricks-token", overwrite=True)
        for key, value in {
            "FEEDBACKLOOP_SECRETS_BACKEND": "prefect",
            "FEEDBACKLOOP_DBT_RUNNER": "databricks_job",
            "FEEDBACKLOOP_DATABRICKS_HOST": host,
            "FEEDBACKLOOP_DATABRICKS_WAREHOUSE_ID": "abc123def456",
            "FEEDBACKLOOP_DATABRICKS_CA_BUNDLE": str(ca_bundle),
            "FEEDBACKLOOP_DATABRICKS_POLL_SECONDS": "1",
        }.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        outcome = transform(select="silver", force=True)
    assert outcome["databricks_run"]["state"]["result_state"] == "SUCCESS"
    assert [path for _, path, _ in api.requests if path.endswith("/runs/submit")]
