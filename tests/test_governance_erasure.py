"""Right to erasure: a person leaves every layer, the vault, registered stages and the index, for good."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from feedbackloop.cli import app
from feedbackloop.governance import registry
from feedbackloop.governance.erasure import ErasureError, Subject, forget, resolve, submitted
from feedbackloop.governance.indexes import elasticsearch_deleter
from feedbackloop.governance.vault import Vault
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.transform.dbt import run_dbt
from feedbackloop.warehouse import connect, lake_tables
from tests.governance_lake import BOB_EMAIL, JANE_CARD, JANE_EMAIL, JANE_NAME, JANE_PHONE, strings_in_tree

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.dbt]
JANE_SECRETS = [JANE_EMAIL, JANE_NAME, JANE_PHONE, JANE_CARD, "ACC-00012345"]


def jane_docs(settings: Settings) -> list[str]:
    return resolve(settings, Subject(email=JANE_EMAIL)).doc_ids


def all_table_dirs(settings: Settings) -> list[Path]:
    lake = Lake(settings)
    tables = [Path(lake.uri(layer, name)) for layer, name in lake_tables(settings)]
    vault_root = Path(settings.effective_vault_uri)
    return tables + [p.parent for p in vault_root.glob("*/_delta_log")]


def test_resolving_by_email_finds_her_docs_across_sources_and_quarantine(governed: Settings) -> None:
    plan = resolve(governed, Subject(email=JANE_EMAIL))
    with connect(governed) as conn:
        hers = {r[0] for r in conn.execute("select doc_id from bronze.feedback where user_id = '501'").fetchall()}
    assert set(plan.doc_ids) == hers and len(hers) == 2  # the email was in ticket 1; ticket 2 comes via user 501
    assert len(plan.quarantine_ids) == 1
    assert plan.event_ids == []  # telemetry is linked by user id only


def test_an_agent_quoting_her_email_in_another_ticket_erases_that_ticket_only(governed: Settings) -> None:
    from feedbackloop.ingest.runner import ingest_inbox
    from tests.samples import write_zendesk, zendesk_ticket

    comments = [
        {"author_id": 502, "public": True, "body": "Where is my refund?", "created_at": "2026-10-05T08:00:00Z"},
        {"author_id": 9001, "public": True, "body": f"Your friend {JANE_EMAIL} asked too.",
         "created_at": "2026-10-05T09:00:00Z"},
    ]  # fmt: skip
    ticket = zendesk_ticket(4, requester_id=502, comments=comments)
    write_zendesk(governed.inbox_dir / "zendesk" / "more.json", [ticket])
    ingest_inbox(governed, "run-2")
    plan = resolve(governed, Subject(email=JANE_EMAIL))
    with connect(governed) as conn:
        rows = conn.execute("select source_record_id, doc_id from bronze.feedback where user_id = '502'")
        bob = dict(rows.fetchall())
    assert bob["4"] in plan.doc_ids  # it holds her email
    assert bob["3"] not in plan.doc_ids  # his own ticket stays


def test_forget_by_email_leaves_nothing_in_any_table_or_old_version(governed: Settings) -> None:
    docs = jane_docs(governed)
    versions_before = {d: DeltaTable(str(d)).version() for d in all_table_dirs(governed)}
    result = forget(governed, Subject(email=JANE_EMAIL))
    assert result.status == "completed" and result.docs_erased == 2
    assert result.rows_by_table["bronze.feedback"] == 2 and result.rows_by_table["vault.pii_vault"] > 0
    for table_dir in all_table_dirs(governed):
        dt = DeltaTable(str(table_dir))
        if "doc_id" in dt.schema().to_arrow().names:
            assert set(dt.to_pyarrow_table(columns=["doc_id"]).column("doc_id").to_pylist()).isdisjoint(docs), table_dir
        for version in range(versions_before.get(table_dir, 0) + 1):
            try:
                old = DeltaTable(str(table_dir), version=version).to_pyarrow_table()
            except Exception:
                continue  # purged: the version cannot be read any more, which is the point
            if "doc_id" in old.column_names:
                assert set(old.column("doc_id").to_pylist()).isdisjoint(docs), f"{table_dir}@{version}"
    # Not one of her values anywhere on disk: data files, checkpoints, logs (with their statistics).
    for root in (Path(governed.lake_uri), Path(governed.effective_vault_uri)):
        leaks = [(p.name, s) for p, text in strings_in_tree(root) for s in JANE_SECRETS if s in text]
        assert leaks == [], leaks[:5]


def test_other_people_survive_an_erasure(governed: Settings) -> None:
    lake = Lake(governed)
    before = lake.count("bronze", "feedback")
    forget(governed, Subject(email=JANE_EMAIL))
    assert lake.count("bronze", "feedback") == before - 2
    assert resolve(governed, Subject(email=BOB_EMAIL)).doc_ids
    with connect(governed) as conn:
        app_store = conn.execute("select count(*) from gold.fct_feedback where source_system = 'app_store'")
        assert app_store.fetchone() == (2,)


def test_forget_by_user_id_also_removes_her_telemetry(governed: Settings) -> None:
    result = forget(governed, Subject(user_id="501"))
    assert (result.docs_erased, result.events_erased) == (2, 1)
    with connect(governed) as conn:
        assert conn.execute("select count(*) from bronze.telemetry_events where user_id = '501'").fetchone() == (0,)
        assert conn.execute("select count(*) from bronze.telemetry_events").fetchone() == (1,)


def test_gold_rebuilt_after_erasure_passes_its_tests_without_her(governed: Settings) -> None:
    forget(governed, Subject(email=JANE_EMAIL))
    run_dbt(governed, ["build", "--select", "silver", "gold", "--indirect-selection", "cautious"])
    with connect(governed) as conn:
        assert conn.execute("select count(*) from gold.fct_feedback where user_id = '501'").fetchone() == (0,)
        assert conn.execute("select count(*) from gold.fct_feedback").fetchone() == (3,)


def test_an_unknown_person_changes_nothing_and_is_audited_as_not_found(governed: Settings) -> None:
    versions = {d: DeltaTable(str(d)).version() for d in all_table_dirs(governed)}
    result = forget(governed, Subject(email="nobody@nowhere.example"))
    assert result.status == "not_found" and result.docs_erased == 0
    assert {d: DeltaTable(str(d)).version() for d in versions} == versions
    audit = Lake(governed).read("governance", "erasure_audit").to_pylist()
    assert [(a["status"], a["subject_kind"]) for a in audit] == [("not_found", "email")]


def test_cli_reports_an_unknown_person_without_echoing_the_identifier(governed: Settings) -> None:
    outcome = CliRunner().invoke(app, ["forget", "--email", "nobody@nowhere.example"])
    assert outcome.exit_code == 1
    assert "no records match that person" in outcome.output and "nobody@" not in outcome.output


def test_cli_forget_keeps_the_email_out_of_the_flow_run_parameters(governed: Settings) -> None:
    from prefect.client.orchestration import get_client

    outcome = CliRunner().invoke(app, ["forget", "--email", JANE_EMAIL])
    assert outcome.exit_code == 0, outcome.output
    assert '"status": "completed"' in outcome.output
    with get_client(sync_client=True) as client:
        parameters = [json.dumps(run.parameters) for run in client.read_flow_runs() if run.parameters]
    assert parameters and not [p for p in parameters if JANE_EMAIL in p]
    assert Vault(governed).table("erasure_requests").to_pyarrow_table().num_rows == 0  # request withdrawn


def test_a_flow_run_for_an_unknown_request_key_fails_clearly(governed: Settings) -> None:
    with pytest.raises(ErasureError, match="no submitted erasure request"):
        submitted(governed, "0" * 64)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({}, "needs --user-id or --email", id="no-identifier"),
        pytest.param({"email": "jane.roe.example.org"}, "does not look like an email", id="not-an-email"),
    ],
)
def test_a_request_without_a_usable_identifier_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ErasureError, match=message):
        Subject(**kwargs)


def test_audit_says_what_went_and_when_without_any_pii(governed: Settings) -> None:
    docs = jane_docs(governed)
    result = forget(governed, Subject(email=JANE_EMAIL))
    (audit,) = Lake(governed).read("governance", "erasure_audit").to_pylist()
    assert audit["request_id"] == result.request_id and audit["status"] == "completed"
    assert audit["completed_at"] >= audit["requested_at"]
    assert json.loads(audit["rows_by_table"])["bronze.feedback"] == 2
    dumped = json.dumps(audit, default=str)
    assert [s for s in [*JANE_SECRETS, "501", *docs] if s in dumped] == []


class Interrupted(Exception):
    pass


def test_an_erasure_interrupted_midway_is_completed_by_a_rerun(governed: Settings) -> None:
    docs = jane_docs(governed)

    def crash_after_bronze(step: str, rows: int) -> None:
        if step == "bronze.feedback":  # her source rows are gone, telemetry and quarantine are not yet
            raise Interrupted(step)

    with pytest.raises(Interrupted):
        forget(governed, Subject(user_id="501", email=JANE_EMAIL), progress=crash_after_bronze)
    assert Lake(governed).count("bronze", "telemetry_events") == 2
    result = forget(governed, Subject(user_id="501", email=JANE_EMAIL))
    assert result.resumed and result.status == "completed" and result.docs_erased == len(docs)
    assert Lake(governed).count("bronze", "telemetry_events") == 1
    assert Lake(governed).count("bronze", "quarantine") == 0
    assert Vault(governed).table("erasure_journal").to_pyarrow_table().num_rows == 0  # journal closed
    assert len(Lake(governed).read("governance", "erasure_audit")) == 1


@pytest.fixture
def stage_tables_and_index(governed: Settings, elasticsearch_url: str) -> Iterator[tuple[Settings, object]]:
    """Extra embedding rows (contract schema) and a real search index over every doc, the index registered.

    The pipeline that built the lake labelled every doc already."""
    from elasticsearch import Elasticsearch

    lake = Lake(governed)
    docs = lake.read("silver", "stg_bronze__feedback", columns=["doc_id"]).column("doc_id").to_pylist()
    now = datetime.now(UTC)
    vectors = np.random.default_rng(1).random((len(docs), 4), dtype=np.float32)
    lake.append("silver", "feedback_embeddings", pa.table({
        "doc_id": docs, "text_kind": ["text"] * len(docs), "embedding_version": ["test@1"] * len(docs),
        "dim": pa.array([4] * len(docs), pa.int32()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), 4),
        "input_hash": ["h"] * len(docs), "embedded_at": pa.array([now] * len(docs), pa.timestamp("us", tz="UTC")),
        "embed_run_id": ["embed-1"] * len(docs),
    }))  # fmt: skip
    client = Elasticsearch(elasticsearch_url)
    index = f"feedback-{Path(governed.lake_uri).parent.name.lower()}"
    client.indices.create(index=index, mappings={"properties": {"doc_id": {"type": "keyword"}}})
    for doc_id in docs:
        client.index(index=index, id=doc_id, document={"doc_id": doc_id}, refresh=True)
    registry.register_index("test_index", elasticsearch_deleter(client, index))
    try:
        yield governed, (client, index)
    finally:
        registry.unregister("test_index")
        client.indices.delete(index=index)


def test_erasure_reaches_labels_embeddings_and_the_index(stage_tables_and_index: tuple) -> None:
    settings, (client, index) = stage_tables_and_index
    docs = jane_docs(settings)
    total = client.count(index=index)["count"]
    lake = Lake(settings)
    # The pipeline that built this lake embedded her docs too; the fixture added rows of its own.
    hers = {
        name: sum(d in docs for d in lake.read("silver", name, columns=["doc_id"]).column("doc_id").to_pylist())
        for name in ("feedback_labels", "feedback_embeddings")
    }
    result = forget(settings, Subject(email=JANE_EMAIL))
    assert result.rows_by_table["index.test_index"] == 2
    assert result.rows_by_table["silver.feedback_labels"] == hers["feedback_labels"] >= 2
    assert result.rows_by_table["silver.feedback_embeddings"] == hers["feedback_embeddings"] >= 2
    assert client.count(index=index)["count"] == total - 2
    assert client.count(index=index, query={"terms": {"doc_id": docs}})["count"] == 0


def test_erasure_drops_the_llm_answers_cached_for_her_texts(governed: Settings) -> None:
    from feedbackloop.label.cache import TABLE, LabelCache
    from feedbackloop.label.client import LLMResult

    lake = Lake(governed)
    docs = set(jane_docs(governed))
    labels = lake.read("silver", "feedback_labels", columns=["doc_id", "input_hash"]).to_pylist()
    hers = {r["input_hash"] for r in labels if r["doc_id"] in docs}
    others = {r["input_hash"] for r in labels if r["doc_id"] not in docs} - hers
    assert hers and others
    # A small model's reply can quote the text back, her name included.
    LabelCache(lake, "prompt@1", "taxonomy@1", "llama_cpp/test").store(
        {h: LLMResult(status="invalid", raw=f"{{'quote': '{JANE_NAME} here'}}") for h in hers}
        | {h: LLMResult(status="invalid", raw="{'quote': 'someone else'}") for h in others}
    )
    result = forget(governed, Subject(email=JANE_EMAIL))
    assert result.rows_by_table["index.llm_label_cache"] == len(hers)
    left = set(lake.read(*TABLE, columns=["input_hash"]).column("input_hash").to_pylist())
    assert left == others
    cache_dir = Path(lake.uri(*TABLE))
    assert not [path for path, text in strings_in_tree(cache_dir) if JANE_NAME in text]


def test_erasure_removes_her_docs_from_the_configured_vector_index(governed: Settings) -> None:
    from feedbackloop.index import open_index

    docs = jane_docs(governed)
    indexed = [d for d in docs if open_index(governed).vector_of(d) is not None]
    assert indexed  # the pipeline that built the lake indexed her docs
    result = forget(governed, Subject(email=JANE_EMAIL))
    assert result.rows_by_table["index.vector_index"] == len(indexed)
    assert all(open_index(governed).vector_of(d) is None for d in docs)
