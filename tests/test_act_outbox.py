"""The outbox delivers each action exactly once per state, over real HTTP to local fakes of the sinks."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from feedbackloop.act.outbox import read_actions
from feedbackloop.act.stage import plan_and_dispatch
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.act_data import T0, decision, incident, with_sinks, write_decisions, write_incidents
from tests.fakes.ticketing import FakeJira, FakeServiceNow, FakeSlack, FakeWebhookReceiver
from tests.servers import free_port


def actions(settings: Settings) -> list[dict]:
    return list(read_actions(Lake(settings)).values())


def attempts(settings: Settings) -> list[dict]:
    return Lake(settings).read("gold", "fct_action_attempts").to_pylist()


def test_an_incident_seen_in_three_runs_opens_one_jira_issue_then_comments(settings: Settings) -> None:
    with FakeJira() as jira:
        s = with_sinks(settings, jira=jira)
        for run, members in enumerate((12, 20, 31), start=1):
            write_incidents(s, [incident(member_count=members, last_seen_at=T0 + timedelta(hours=run))])
            plan_and_dispatch(s, f"run-{run}")
        assert list(jira.issues) == ["PAY-1"]
        assert len(jira.issues["PAY-1"].comments) == 2
        [action] = actions(s)
        assert (action["status"], action["external_id"], action["updates_sent"]) == ("sent", "PAY-1", 2)
        assert action["external_url"] == f"{jira.url}/browse/PAY-1"


def test_the_jira_issue_carries_an_adf_description_and_the_idempotency_label(settings: Settings) -> None:
    with FakeJira() as jira:
        write_incidents(settings, [incident()])
        plan_and_dispatch(with_sinks(settings, jira=jira), "run-1")
        fields = jira.issues["PAY-1"].fields
        action_id = actions(settings)[0]["action_id"]
        assert fields["description"]["type"] == "doc"
        assert f"fbl-{action_id}" in fields["labels"]
        assert fields["issuetype"] == {"name": "Bug"} and fields["priority"] == {"name": "High"}
        text = json.dumps(fields["description"])
        assert "I was charged twice for one order" in text and "9aef5d6" in text


def test_an_unchanged_incident_sends_nothing_on_the_next_run(settings: Settings) -> None:
    with FakeJira() as jira:
        s = with_sinks(settings, jira=jira)
        write_incidents(s, [incident()])
        plan_and_dispatch(s, "run-1")
        before = len(jira.requests)
        stats = plan_and_dispatch(s, "run-2")
        assert len(jira.requests) == before and stats["delivered_this_run"] == 0


def test_a_reply_lost_after_the_create_is_found_by_label_and_not_created_again(settings: Settings) -> None:
    with FakeJira() as jira:
        s = with_sinks(settings, jira=jira, action_max_attempts=1)
        write_incidents(s, [incident()])
        jira.faults = ["ok", "lose_reply"]  # the JQL lookup is answered; the create is done, its reply lost
        first = plan_and_dispatch(s, "run-1")
        assert first["deferred"] == 1 and len(jira.issues) == 1
        assert actions(s)[0]["status"] == "pending"
        second = plan_and_dispatch(s, "run-2")
        assert second["adopted"] == 1 and second["created"] == 0
        assert list(jira.issues) == ["PAY-1"]
        assert actions(s)[0]["external_id"] == "PAY-1"


def test_jira_down_then_up_delivers_on_the_next_run_without_duplicates(settings: Settings) -> None:
    with FakeJira() as jira:
        s = with_sinks(settings, jira=jira, action_max_attempts=3)
        write_incidents(s, [incident("inc-a"), incident("inc-b", product_area="search")])
        jira.down = True
        first = plan_and_dispatch(s, "run-1")
        assert first["pending"] == 2 and first["sent"] == 0 and not jira.issues
        failed_tries = [a for a in attempts(s) if a["outcome"] in ("retry", "transient")]
        assert failed_tries and {a["http_status"] for a in failed_tries} == {503}
        jira.down = False
        second = plan_and_dispatch(s, "run-2")
        third = plan_and_dispatch(s, "run-3")
        assert second["created"] == 2 and third["created"] == 0
        assert sorted(jira.issues) == ["ENG-1", "PAY-1"]


def test_an_unreachable_sink_leaves_actions_pending_with_the_error_recorded(settings: Settings) -> None:
    s = with_sinks(settings, jira_url=f"http://127.0.0.1:{free_port()}", action_max_attempts=2)
    write_incidents(s, [incident()])
    stats = plan_and_dispatch(s, "run-1")
    [action] = actions(s)
    assert stats["deferred"] == 1 and action["status"] == "pending" and action["attempts"] == 2
    assert "ConnectError" in action["last_error"]
    assert [a["outcome"] for a in attempts(s)] == ["retry", "transient"]
    assert all(a["http_status"] is None for a in attempts(s))


def test_a_503_is_retried_with_backoff_within_the_run(settings: Settings) -> None:
    with FakeJira() as jira:
        s = with_sinks(settings, jira=jira)
        write_incidents(s, [incident()])
        jira.faults = [503, 503]
        stats = plan_and_dispatch(s, "run-1")
        assert stats["created"] == 1 and list(jira.issues) == ["PAY-1"]
        assert [a["outcome"] for a in attempts(s)][:3] == ["retry", "retry", "ok"]


def test_a_4xx_is_marked_failed_with_the_reason_and_not_retried(settings: Settings) -> None:
    with FakeJira(projects=("ENG",)) as jira:  # PAY does not exist on this site
        s = with_sinks(settings, jira=jira)
        write_incidents(s, [incident()])
        plan_and_dispatch(s, "run-1")
        [action] = actions(s)
        assert action["status"] == "failed"
        assert "HTTP 400" in action["last_error"] and "valid project is required" in action["last_error"]
        assert [(a["operation"], a["http_status"], a["outcome"]) for a in attempts(s)][-1] == (
            "create",
            400,
            "permanent",
        )
        before = len(jira.requests)
        write_incidents(s, [incident(member_count=40)])
        plan_and_dispatch(s, "run-2")
        assert len(jira.requests) == before and actions(s)[0]["status"] == "failed"


def test_a_failed_action_is_sent_again_with_retry_failed(settings: Settings) -> None:
    with FakeJira(projects=("ENG",)) as jira:
        s = with_sinks(settings, jira=jira)
        write_incidents(s, [incident()])
        plan_and_dispatch(s, "run-1")
        jira.projects = ("ENG", "PAY")
        jira._numbers["PAY"] = iter(range(1, 100))
        stats = plan_and_dispatch(s, "run-2", retry_failed=True)
        assert stats["created"] == 1 and actions(s)[0]["status"] == "sent"


def test_servicenow_creates_a_task_then_adds_work_notes_with_patch(settings: Settings) -> None:
    with FakeServiceNow() as snow:
        s = with_sinks(settings, servicenow=snow)
        write_incidents(s, [incident(outcome="policy_content", category="trust")])
        plan_and_dispatch(s, "run-1")
        write_incidents(s, [incident(outcome="policy_content", category="trust", member_count=25)])
        plan_and_dispatch(s, "run-2")
        [record] = snow.records["task"].values()
        [action] = actions(s)
        assert (
            record["assignment_group"] == "Support Content" and record["correlation_id"] == f"fbl-{action['action_id']}"
        )
        assert len(record["work_notes_log"]) == 1 and "25 complaints" in record["work_notes_log"][0]
        assert len(snow.calls("PATCH", r"/api/now/table/task/\w+")) == 1
        assert action["external_id"] == record["sys_id"] and action["kind"] == "content_update"


def test_servicenow_finds_a_record_whose_create_reply_was_lost(settings: Settings) -> None:
    with FakeServiceNow() as snow:
        s = with_sinks(settings, servicenow=snow, action_max_attempts=1)
        write_incidents(s, [incident(outcome="policy_content")])
        snow.faults = ["ok", "lose_reply"]
        plan_and_dispatch(s, "run-1")
        stats = plan_and_dispatch(s, "run-2")
        assert stats["adopted"] == 1 and len(snow.records["task"]) == 1


def test_an_escalated_incident_is_announced_on_slack_once(settings: Settings) -> None:
    with FakeJira() as jira, FakeSlack() as slack:
        s = with_sinks(settings, jira=jira, slack=slack)
        for members in (12, 30):
            write_incidents(s, [incident(is_escalated=True, severity="critical", member_count=members)])
            plan_and_dispatch(s, f"run-{members}")
        [message] = slack.messages
        assert [b["type"] for b in message["blocks"]] == ["header", "section", "context"]
        assert message["text"].startswith("[critical] Charged twice at checkout")
        assert ":rotating_light:" in message["blocks"][0]["text"]["text"]
        assert "payments-engineering" in message["blocks"][2]["elements"][0]["text"]
        assert len(jira.issues) == 1


def test_the_signed_webhook_verifies_at_the_receiver(settings: Settings) -> None:
    with FakeWebhookReceiver(secret="whsec-test") as receiver:
        s = with_sinks(settings, webhook=receiver.url, secret="whsec-test")
        write_decisions(s, [decision("dec-1", T0)])
        stats = plan_and_dispatch(s, "run-1")
        assert stats["created"] == 1 and not receiver.rejected
        [body] = receiver.deliveries.values()
        assert body["kind"] == "retrain_candidate" and body["owner"]["team"] == "ml-platform"
        assert actions(s)[0]["external_id"] == f"rcv-{body['action_id']}"


def test_a_webhook_signed_with_another_secret_is_rejected_and_marked_failed(settings: Settings) -> None:
    with FakeWebhookReceiver(secret="the-real-one") as receiver:
        s = with_sinks(settings, webhook=receiver.url, secret="a-stale-one")
        write_decisions(s, [decision("dec-1", T0)])
        plan_and_dispatch(s, "run-1")
        assert receiver.rejected and "bad signature" in receiver.rejected[0]
        [action] = actions(s)
        assert action["status"] == "failed" and "HTTP 401" in action["last_error"]


def test_a_file_webhook_appends_signed_deliveries(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "deliveries.jsonl"
    s = with_sinks(settings, webhook=out.as_uri(), secret="s3cret")
    write_decisions(s, [decision("dec-1", T0)])
    plan_and_dispatch(s, "run-1")
    [line] = out.read_text().splitlines()
    delivery = json.loads(line)
    from feedbackloop.stream.signatures import StandardWebhooksScheme

    StandardWebhooksScheme().verify(delivery["headers"], delivery["body"].encode(), b"s3cret")
    assert actions(s)[0]["status"] == "sent"


def test_retrain_decisions_within_the_cooldown_update_one_action(settings: Settings) -> None:
    with FakeWebhookReceiver(secret="k") as receiver:
        s = with_sinks(settings, webhook=receiver.url, secret="k")
        write_decisions(s, [decision("dec-1", T0)])
        plan_and_dispatch(s, "run-1")
        write_decisions(s, [decision("dec-1", T0), decision("dec-2", T0 + timedelta(days=1)),
                            decision("dec-3", T0 + timedelta(days=2), should_retrain=False)])  # fmt: skip
        plan_and_dispatch(s, "run-2")
        [action] = actions(s)
        types = sorted(body["type"] for body in receiver.deliveries.values())
        assert types == ["action.created", "action.updated"] and action["updates_sent"] == 1
        write_decisions(s, [decision("dec-1", T0), decision("dec-9", T0 + timedelta(days=30))])
        plan_and_dispatch(s, "run-3")
        assert len(actions(s)) == 2


def test_without_a_configured_sink_actions_stay_pending_and_are_counted(settings: Settings) -> None:
    write_incidents(settings, [incident(), incident("inc-2", outcome="policy_content")])
    stats = plan_and_dispatch(settings, "run-1")
    assert stats["pending"] == 2 and stats["unconfigured"] == 2 and stats["requests"] == 0
    assert {a["last_error"] for a in actions(settings)} == {
        "sink jira is not configured (FEEDBACKLOOP_JIRA_URL is empty)",
        "sink servicenow is not configured (FEEDBACKLOOP_SERVICENOW_URL is empty)",
    }


def test_missing_incident_and_decision_tables_mean_nothing_to_do(settings: Settings) -> None:
    stats = plan_and_dispatch(settings, "run-1")
    assert stats["actions"] == 0 and stats["incidents_read"] == 0
    assert Lake(settings).count("gold", "fct_actions") == 0


def test_an_incident_below_the_outcome_min_severity_opens_nothing(settings: Settings) -> None:
    write_incidents(settings, [incident(severity="low")])
    stats = plan_and_dispatch(settings, "run-1")
    assert stats["actions"] == 0 and stats["skipped"] == {"below min_severity medium": 1}


def test_an_incident_with_an_unknown_outcome_is_skipped_and_counted(settings: Settings) -> None:
    write_incidents(settings, [incident(outcome=None)])
    stats = plan_and_dispatch(settings, "run-1")
    assert stats["actions"] == 0 and stats["skipped"] == {"unroutable outcome None": 1}


def test_the_owner_comes_from_the_first_matching_override(settings: Settings) -> None:
    write_incidents(settings, [incident("a"), incident("b", product="com.acme.dashboard", product_area="perf"),
                               incident("c", product_area="search")])  # fmt: skip
    plan_and_dispatch(settings, "run-1")
    owners = {a["source_id"]: a["owner_team"] for a in actions(settings)}
    assert owners == {"a": "payments-engineering", "b": "dashboard-engineering", "c": "mobile-engineering"}


def test_a_resolved_incident_comments_on_its_ticket_once(settings: Settings) -> None:
    with FakeJira() as jira:
        s = with_sinks(settings, jira=jira)
        write_incidents(s, [incident()])
        plan_and_dispatch(s, "run-1")
        write_incidents(s, [incident(status="resolved")])
        plan_and_dispatch(s, "run-2")
        plan_and_dispatch(s, "run-3")
        [comment] = jira.issues["PAY-1"].comments
        assert "Resolved" in json.dumps(comment["body"])


def test_an_incident_resolved_before_any_action_opens_nothing(settings: Settings) -> None:
    write_incidents(settings, [incident(status="resolved")])
    assert plan_and_dispatch(settings, "run-1")["actions"] == 0


@pytest.mark.parametrize("down", [pytest.param(True, id="down"), pytest.param(False, id="up")])
def test_a_down_sink_is_not_hammered_for_every_action(settings: Settings, down: bool) -> None:
    with FakeJira() as jira:
        s = with_sinks(settings, jira=jira, action_max_attempts=2, action_max_in_flight=1)
        write_incidents(s, [incident(f"inc-{i}", product_area=f"area-{i}") for i in range(5)])
        jira.down = down
        plan_and_dispatch(s, "run-1")
        assert len(jira.requests) == (2 if down else 10)  # down: one action's tries, then the breaker


CRASH_AFTER_SEND = """
import os, sys
from datetime import UTC, datetime
from pydantic import SecretStr
from feedbackloop.act.decisions import load_decisions
from feedbackloop.act.http import AttemptLog
from feedbackloop.act.outbox import dispatch, merge, read_actions
from feedbackloop.act.plan import build_plan
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

url, lake_uri = sys.argv[1], sys.argv[2]
settings = Settings(lake_uri=lake_uri, jira_url=url, jira_user_email="bot@acme.example",
                    jira_api_token=SecretStr("jira-token"))
lake = Lake(settings)
existing = read_actions(lake)
plan = build_plan(lake, load_decisions(settings.decisions_path), set(existing), 7)
rows = merge(existing, plan, "crashing-run", datetime.now(UTC))
stats = dispatch(settings, rows, AttemptLog("crashing-run"), datetime.now(UTC))
assert stats.created == 1, stats
os._exit(9)  # killed after the ticket was created, before the outbox was written
"""


def test_a_process_killed_between_send_and_record_opens_no_second_issue(settings: Settings) -> None:
    with FakeJira() as jira:
        write_incidents(settings, [incident()])
        crashed = subprocess.run([sys.executable, "-c", CRASH_AFTER_SEND, jira.url, settings.lake_uri], check=False)
        assert crashed.returncode == 9 and list(jira.issues) == ["PAY-1"]
        assert not Lake(settings).exists("gold", "fct_actions")
        stats = plan_and_dispatch(with_sinks(settings, jira=jira), "run-after-crash")
        assert (stats["adopted"], stats["created"]) == (1, 0)
        assert list(jira.issues) == ["PAY-1"] and actions(settings)[0]["external_id"] == "PAY-1"


def test_malformed_incident_and_decision_rows_are_skipped_and_counted(settings: Settings) -> None:
    write_incidents(settings, [incident(incident_id=None), incident()])
    write_decisions(settings, [{**decision("dec-1", T0), "decided_at": None}])
    stats = plan_and_dispatch(settings, "run-1")
    assert stats["actions"] == 1
    assert stats["skipped"] == {
        "incident without incident_id": 1,
        "retrain decision without decision_id or decided_at": 1,
    }
