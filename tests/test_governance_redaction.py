"""Redaction in the silver layer: only redacted text reaches gold and the models; the vault is apart."""

from __future__ import annotations

import stat
from pathlib import Path

import pyarrow as pa
import pytest

from feedbackloop.governance.vault import Vault, VaultAccessError, reidentify
from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings, get_settings
from feedbackloop.silver.redact import REDACTED, redact_new_feedback
from feedbackloop.silver.texts import model_inputs
from feedbackloop.transform.dbt import run_dbt
from feedbackloop.warehouse import connect
from tests.governance_lake import BOB_EMAIL, JANE_CARD, JANE_EMAIL, JANE_NAME, JANE_PHONE
from tests.samples import app_store_row, write_app_store

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.dbt]
SECRETS = [JANE_EMAIL, JANE_NAME, JANE_PHONE, JANE_CARD, BOB_EMAIL, "Olivia Stone", "ACC-00012345"]


def test_gold_holds_redacted_text_only(governed: Settings) -> None:
    with connect(governed) as conn:
        columns = [r[0] for r in conn.execute("describe gold.fct_feedback").fetchall()]
        rows = conn.execute("select * from gold.fct_feedback").fetchall()
    assert not [c for c in columns if c.startswith("clean_") or c in ("customer_text", "raw_payload")]
    dumped = repr(rows)
    assert [s for s in SECRETS if s in dumped] == []
    assert "[EMAIL_1]" in dumped and "[PERSON_1]" in dumped and "[CARD_1]" in dumped


def test_model_inputs_are_redacted(governed: Settings) -> None:
    texts = model_inputs(governed).column("text").to_pylist()
    assert texts and [s for s in SECRETS if any(s in t for t in texts)] == []
    assert any("[EMAIL_1]" in t for t in texts)


def test_one_value_keeps_one_placeholder_across_customer_agent_and_notes(governed: Settings) -> None:
    with connect(governed) as conn:
        customer, agent, notes = conn.execute(
            "select redacted_text, redacted_agent_text, redacted_system_notes from gold.fct_feedback "
            "where source_record_id = '1'"
        ).fetchone()
    assert "[PERSON_1]" in customer and "[PERSON_1]" in agent and "[PERSON_1]" in notes
    assert "[PHONE_1]" in customer and "[PHONE_1]" in notes


def test_vault_lives_outside_the_lake_with_owner_only_permissions(governed: Settings) -> None:
    vault = Path(Vault(governed).uri()).parent
    lake = Path(governed.lake_uri).resolve()
    assert lake not in vault.parents and vault != lake
    assert stat.S_IMODE(vault.stat().st_mode) == 0o700
    files = [p for p in vault.rglob("*") if p.is_file()]
    assert files and {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    assert not list(lake.rglob("pii_vault"))


def test_vault_inside_the_lake_is_refused(governed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACKLOOP_VAULT_URI", str(Path(governed.lake_uri) / "vault"))
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="must not be inside the lake"):
        Vault(get_settings())


def test_reidentification_needs_the_vault_set_explicitly(governed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with connect(governed) as conn:
        doc_id, text = conn.execute(
            "select doc_id, redacted_text from gold.fct_feedback where source_record_id = '1'"
        ).fetchone()
    with pytest.raises(VaultAccessError, match="FEEDBACKLOOP_VAULT_URI"):
        reidentify(governed, doc_id, text)
    monkeypatch.setenv("FEEDBACKLOOP_VAULT_URI", governed.effective_vault_uri)
    get_settings.cache_clear()
    restored = reidentify(get_settings(), doc_id, text)
    assert JANE_EMAIL in restored and JANE_NAME in restored and "[" not in restored


def test_rerun_redacts_nothing_and_new_records_only(governed: Settings) -> None:
    assert redact_new_feedback(governed, "again").docs_pending == 0
    write_app_store(governed.inbox_dir / "app_store" / "more.csv", [app_store_row("r9", body="Mail me: x.y@z.com")])
    ingest_inbox(governed, "run-2")
    run_dbt(governed, ["build", "--select", "silver", "--indirect-selection", "cautious"])
    vault_rows = Vault(governed).table().to_pyarrow_dataset().count_rows()
    stats = redact_new_feedback(governed, "run-2")
    assert (stats.docs_pending, stats.docs_redacted, stats.entities) == (1, 1, {"EMAIL_ADDRESS": 1})
    assert Vault(governed).table().to_pyarrow_dataset().count_rows() == vault_rows + 1


def test_crash_between_vault_and_silver_append_leaves_no_duplicate_vault_rows(governed: Settings) -> None:
    lake = Lake(governed)
    vault_rows = Vault(governed).table().to_pyarrow_dataset().count_rows()
    # As if the redacted rows of the last batch never committed, while its vault rows did.
    lake.overwrite("silver", "feedback_redacted", pa.Table.from_pylist([], schema=REDACTED))
    stats = redact_new_feedback(governed, "rerun")
    assert stats.docs_redacted == lake.count("silver", "stg_bronze__feedback")
    assert stats.vault_rows == 0
    assert Vault(governed).table().to_pyarrow_dataset().count_rows() == vault_rows


def test_a_vault_write_with_an_untyped_column_is_refused_naming_it(settings: Settings) -> None:
    rows = pa.table({"doc_id": ["d1"], "entity_type": pa.array([None], pa.null())})
    with pytest.raises(ValueError, match=r"vault\.pii_vault: column\(s\) entity_type have no type"):
        Vault(settings).append(rows)
    assert Vault(settings).table() is None
