"""One access policy file, applied to Databricks (dbt grants + row filter) and Elasticsearch (filtered aliases)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from feedbackloop.governance.access import AccessPolicy, AccessPolicyError
from feedbackloop.settings import PROJECT_ROOT, Settings
from feedbackloop.transform.dbt import access_vars

POLICY = AccessPolicy.load(PROJECT_ROOT / "config" / "access.yaml")


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "access.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("teams: {support: {sources: [zendesk]}}\n", "team 'support' .* needs a group", id="no-group"),
        pytest.param(
            "teams: {support: {group: g, sources: [Zendesk!]}}\npii_stewards: {group: s}\npipeline: {group: p}\n",
            "'Zendesk!' is not a source_system", id="bad-source",
        ),
        pytest.param("teams: {}\n", "defines no teams", id="no-teams"),
        pytest.param("teams: {support: {group: g, sources: [zendesk]}}\npipeline: {group: p}\n",
                     "pii_stewards: group None", id="no-stewards"),
        pytest.param("teams: {support: {group: \"g; drop\", sources: [zendesk]}}\n", "not a valid group name",
                     id="group-injection"),
    ],
)  # fmt: skip
def test_a_malformed_policy_is_refused_naming_the_entry(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AccessPolicyError, match=message):
        AccessPolicy.load(write_policy(tmp_path, text))


def test_dbt_gets_every_team_group_as_reader(settings: Settings) -> None:
    assert access_vars(settings) == {
        "access_readers": ["feedbackloop-mobile", "feedbackloop-product", "feedbackloop-support"],
        "access_row_filter": "access.source_filter",
    }


def test_row_filter_limits_each_group_to_its_sources() -> None:
    sql = POLICY.row_filter_sql("feedbackloop")
    assert "create or replace function feedbackloop.access.source_filter(source_system string)" in sql
    assert "(is_account_group_member('feedbackloop-support') and source_system in ('zendesk'))" in sql
    assert "(is_account_group_member('feedbackloop-mobile') and source_system in ('app_store', 'google_play'))" in sql
    assert "or is_account_group_member('feedbackloop-product')\n" in sql  # "*": every source


def test_only_stewards_and_the_pipeline_get_the_vault() -> None:
    statements = POLICY.databricks_statements("feedbackloop", "abfss://vault@acct.dfs.core.windows.net/pii")
    grants = [s for s in statements if s.startswith("grant") and "vault" in s]
    assert grants == [
        "grant use schema, select on schema feedbackloop.vault to `feedbackloop-pii-stewards`",
        "grant use schema, select, modify on schema feedbackloop.vault to `feedbackloop-pipeline`",
    ]
    assert "revoke all privileges on schema feedbackloop.vault from `feedbackloop-support`" in statements
    assert any("managed location 'abfss://vault@acct.dfs.core.windows.net/pii'" in s for s in statements)


@pytest.mark.slow
@pytest.mark.dbt
def test_databricks_models_carry_the_grants_and_the_row_filter_hook(tmp_path: Path, settings: Settings) -> None:
    env = {
        "PATH": "", "HOME": str(tmp_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "FEEDBACKLOOP_DATABRICKS_HOST": "adb-0000000000000000.0.azuredatabricks.net",
        "FEEDBACKLOOP_DATABRICKS_TOKEN": "dapi-not-a-real-token",
    }  # fmt: skip
    project = str(PROJECT_ROOT / "dbt_project")
    dbt_vars = json.dumps(access_vars(settings))
    done = subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", "parse", "--project-dir", project, "--profiles-dir", project,
         "--target", "databricks", "--target-path", str(tmp_path / "target"), "--vars", dbt_vars],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    nodes = json.loads((tmp_path / "target" / "manifest.json").read_text())["nodes"]
    for model in ("model.feedbackloop.fct_feedback", "model.feedbackloop.stg_bronze__feedback"):
        config = nodes[model]["config"]
        assert config["grants"] == {"select": access_vars(settings)["access_readers"]}
        assert "apply_source_row_filter" in config["post-hook"][0]["sql"]


def feedback_index(client: Elasticsearch, name: str) -> None:
    client.indices.create(index=name, mappings={"properties": {
        "doc_id": {"type": "keyword"}, "source_system": {"type": "keyword"}, "text": {"type": "text"},
    }})  # fmt: skip
    for i, source in enumerate(["zendesk", "app_store", "google_play", "zendesk", "survey"]):
        client.index(index=name, id=f"d{i}", document={"doc_id": f"d{i}", "source_system": source, "text": "slow"})
    client.indices.refresh(index=name)


@pytest.mark.slow
def test_each_team_alias_shows_only_its_sources(elasticsearch_url: str) -> None:
    client = Elasticsearch(elasticsearch_url)
    feedback_index(client, "fb-aliases")
    applied = POLICY.apply_elasticsearch(client, "fb-aliases")
    assert applied["aliases"] == ["fb-aliases-mobile", "fb-aliases-product", "fb-aliases-support"]

    def sources(alias: str) -> set[str]:
        hits = client.search(index=alias, query={"match": {"text": "slow"}}, size=50)["hits"]["hits"]
        return {h["_source"]["source_system"] for h in hits}

    assert sources("fb-aliases-support") == {"zendesk"}
    assert sources("fb-aliases-mobile") == {"app_store", "google_play"}
    assert sources("fb-aliases-product") == {"zendesk", "app_store", "google_play", "survey"}


@pytest.mark.slow
def test_reapplying_a_changed_policy_drops_aliases_of_removed_teams(elasticsearch_url: str, tmp_path: Path) -> None:
    client = Elasticsearch(elasticsearch_url)
    feedback_index(client, "fb-reapply")
    POLICY.apply_elasticsearch(client, "fb-reapply")
    smaller = AccessPolicy.load(write_policy(tmp_path, (
        "teams: {support: {group: feedbackloop-support, sources: [zendesk, survey]}}\n"
        "pii_stewards: {group: stewards}\npipeline: {group: pipeline}\n"
    )))  # fmt: skip
    applied = smaller.apply_elasticsearch(client, "fb-reapply")
    assert applied["removed"] == ["fb-reapply-mobile", "fb-reapply-product"]
    assert set(client.indices.get_alias(index="fb-reapply")["fb-reapply"]["aliases"]) == {"fb-reapply-support"}


def test_roles_carry_the_same_filter_as_document_level_security() -> None:
    roles = POLICY.elasticsearch_roles("feedback")
    assert roles["feedbackloop-support"] == {"indices": [{
        "names": ["feedback-support"], "privileges": ["read"],
        "query": {"bool": {"filter": [{"terms": {"source_system": ["zendesk"]}}]}},
    }]}  # fmt: skip
    assert "query" not in roles["feedbackloop-product"]["indices"][0]
