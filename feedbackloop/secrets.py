"""Secrets from Prefect Secret blocks: one block per secret setting, named ``feedbackloop-<setting>``.

``feedbackloop prefect-setup`` saves the blocks from the environment once; workers then run with
``FEEDBACKLOOP_SECRETS_BACKEND=prefect`` and no secrets in their environment: ``Settings`` fills
every secret the environment does not set from its block (the environment still wins, so a secret
can be overridden per worker). With the default ``env`` backend Prefect is never asked.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

# Settings that carry credentials; the mappings hold cloud keys (deltalake storage options) or
# per-source HMAC secrets. A test checks that every SecretStr setting is listed here.
SECRET_SETTINGS = (
    "databricks_token",
    "llm_api_key",
    "embedding_api_key",
    "elasticsearch_api_key",
    "cdc_dsn",
    "webhook_secrets",
    "storage_options",
    "vault_storage_options",
    "jira_api_token",
    "servicenow_password",
    "slack_webhook_url",
    "action_webhook_secret",
)
MAPPING_SETTINGS = {"webhook_secrets", "storage_options", "vault_storage_options"}


class SecretsBackendError(RuntimeError):
    """The secrets backend is prefect, but the Prefect API could not be asked."""


def block_name(setting: str) -> str:
    return "feedbackloop-" + setting.replace("_", "-")


def plain_value(value: Any) -> str | dict[str, str] | None:
    """What goes into the block: the secret string, or a mapping (Secret blocks hold JSON); None when unset."""
    if isinstance(value, SecretStr):
        return value.get_secret_value() or None
    if isinstance(value, dict):
        plain = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in value.items()}
        return plain or None
    return str(value) if value else None


def push_secret_blocks(settings: Any) -> list[tuple[str, str]]:
    """Save a Secret block for every secret setting that has a value; (block, outcome) per setting."""
    from prefect.blocks.system import Secret

    outcomes = []
    for setting in SECRET_SETTINGS:
        value = plain_value(getattr(settings, setting))
        if value is None:
            outcomes.append((block_name(setting), "skipped: not set"))
            continue
        Secret(value=value).save(block_name(setting), overwrite=True)
        outcomes.append((block_name(setting), "saved"))
    return outcomes


def load_secret_block(setting: str) -> Any | None:
    """The block's value (a mapping decoded), or None when no such block exists."""
    from prefect.blocks.system import Secret

    try:
        # Settings are built in sync code, sometimes while an event loop runs (async flows): always sync.
        block: Secret = Secret.load(block_name(setting), _sync=True)  # type: ignore[call-arg, assignment]
        value = block.get()
    except ValueError:  # Prefect: "Unable to find block document named ..."
        return None
    if setting in MAPPING_SETTINGS:
        return json.loads(value) if isinstance(value, str) else value
    return value


class PrefectSecretsSource(PydanticBaseSettingsSource):
    """A settings source below the environment: secrets from Prefect blocks, when chosen."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # values come from __call__ in one pass

    def __call__(self) -> dict[str, Any]:
        if self.current_state.get("secrets_backend", "env") != "prefect":
            return {}
        missing = [s for s in SECRET_SETTINGS if not self.current_state.get(s)]
        values: dict[str, Any] = {}
        for setting in missing:
            try:
                value = load_secret_block(setting)
            except Exception as exc:
                raise SecretsBackendError(
                    f"FEEDBACKLOOP_SECRETS_BACKEND=prefect, but block {block_name(setting)!r} could not be read "
                    f"from the Prefect API (PREFECT_API_URL): {exc}"
                ) from exc
            if value is not None:
                values[setting] = value
        return values
