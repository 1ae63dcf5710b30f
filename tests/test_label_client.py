"""The LLM client against a local server speaking the OpenAI chat-completions protocol.

The fake stands in for hosted endpoints (OpenAI, Azure, vLLM) and scripts the faults they produce;
the real llama.cpp server is exercised in test_label_llama_server.py.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from feedbackloop.label.client import LLMLabeler, LLMResult, run_async
from feedbackloop.label.prompts import PromptSet
from feedbackloop.label.taxonomy import load_taxonomy
from feedbackloop.settings import PROJECT_ROOT, Settings
from tests.fake_openai import FakeOpenAI, Reply, fake_openai
from tests.label_samples import decision, feedback_text, valid_reply
from tests.test_label_prompts import INJECTIONS

TAXONOMY = load_taxonomy(PROJECT_ROOT / "config" / "taxonomies" / "default.yaml")
PROMPTS = PromptSet.load(PROJECT_ROOT / "prompts" / "label")
TEXT = "The app crashes every time I open the camera. Please fix it!"


def labeler(base_url: str, **overrides: Any) -> LLMLabeler:
    values: dict[str, Any] = {
        "llm_endpoint_kind": "openai",
        "llm_model": "gpt-4o-mini",
        "llm_backoff_seconds": 0.01,
        "llm_timeout_seconds": 5.0,
        **overrides,
    }
    return LLMLabeler(Settings(**values), TAXONOMY, PROMPTS, base_url=base_url)


def label(fake: FakeOpenAI, texts: list[str], **overrides: Any) -> tuple[list[LLMResult], LLMLabeler]:
    client = labeler(fake.base_url, **overrides)
    results = run_async(lambda: client.label_many([(t, None) for t in texts]))
    return results, client


def test_a_valid_answer_is_accepted_with_tokens_and_cost_accounted() -> None:
    with fake_openai(valid_reply) as fake:
        [result], client = label(fake, [TEXT])
    assert result.status == "ok"
    assert result.decision is not None and result.decision.category == "bug"
    assert (result.prompt_tokens, result.completion_tokens) == (100, 20)
    assert result.cost_usd == pytest.approx((100 * 0.15 + 20 * 0.60) / 1e6)
    assert client.stats.cost_usd == pytest.approx(result.cost_usd)


def test_a_model_missing_from_the_price_table_is_reported_as_unpriced() -> None:
    with fake_openai(valid_reply) as fake:
        [result], client = label(fake, [TEXT], llm_model="mystery-model")
    assert result.cost_usd is None
    assert client.stats.unpriced_calls == 1


@pytest.mark.parametrize(
    ("kind", "mode", "expected"),
    [
        pytest.param("openai", "auto", "json_schema", id="openai-json-schema"),
        pytest.param("llama_cpp", "auto", "json_object", id="llama-cpp-json-object-with-schema"),
        pytest.param("vllm", "json_object", "json_object", id="explicit-json-object"),
    ],
)
def test_structured_output_mode_is_chosen_per_endpoint(kind: str, mode: str, expected: str) -> None:
    with fake_openai(valid_reply) as fake:
        label(fake, [TEXT], llm_endpoint_kind=kind, llm_structured_output=mode)
    response_format = fake.requests[0]["response_format"]
    assert response_format["type"] == expected
    schema = response_format.get("schema") or response_format.get("json_schema", {}).get("schema")
    if mode != "json_object":
        assert schema["properties"]["category"]["enum"] == TAXONOMY.names


@pytest.mark.parametrize(
    ("fault", "error_key"),
    [
        pytest.param(Reply(status=429, headers={"retry-after": "0"}), "429", id="rate-limited"),
        pytest.param(Reply(status=500), "500", id="server-error"),
        pytest.param(Reply(status=503), "503", id="unavailable"),
        pytest.param(Reply(delay=1.5), "timeout", id="timeout"),
    ],
)
def test_transient_failures_are_retried_with_backoff(fault: Reply, error_key: str) -> None:
    with fake_openai(valid_reply, script=[fault, fault]) as fake:
        [result], client = label(fake, [TEXT], llm_timeout_seconds=1.0)
    assert result.status == "ok"
    assert client.stats.http_errors == {error_key: 2}
    assert client.stats.retries == 2


def test_persistent_failures_leave_the_item_unlabelled_not_invalid() -> None:
    with fake_openai(valid_reply, script=[Reply(status=500)] * 3) as fake:
        [result], _ = label(fake, [TEXT], llm_max_attempts=3)
    assert result.status == "unavailable"
    assert "gave up after 3 attempts: HTTP 500" in (result.error or "")
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("this is not json at all", id="invalid-json"),
        pytest.param(json.dumps(decision(TEXT, severity="urgent")), id="wrong-enum"),
        pytest.param(json.dumps({k: v for k, v in decision(TEXT).items() if k != "confidence"}), id="missing-field"),
    ],
)
def test_an_invalid_answer_gets_one_repair_turn(bad: str) -> None:
    with fake_openai(valid_reply, script=[Reply(content=bad)]) as fake:
        [result], client = label(fake, [TEXT])
    assert result.status == "ok"
    assert "repaired" in result.flags
    assert client.stats.repairs == 1
    repair = fake.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": bad}
    assert "not a valid label" in repair[-1]["content"]


def test_an_answer_still_invalid_after_the_repair_is_recorded_as_invalid() -> None:
    with fake_openai(valid_reply, script=[Reply(content="nope"), Reply(content="still nope")]) as fake:
        [result], _ = label(fake, [TEXT])
    assert result.status == "invalid"
    assert result.calls == 2
    assert result.raw == "still nope"
    assert "no JSON object" in (result.error or "")


def test_prose_around_the_json_is_accepted_and_flagged() -> None:
    with fake_openai(lambda req: "Here you go:\n" + valid_reply(req) + "\nAnything else?") as fake:
        [result], _ = label(fake, [TEXT])
    assert result.status == "ok"
    assert result.flags == ["extra_prose"]


def test_invented_evidence_caps_confidence() -> None:
    with fake_openai(lambda req: json.dumps(decision(TEXT, evidence=["the camera is broken"]))) as fake:
        [result], _ = label(fake, [TEXT], label_evidence_confidence_cap=0.3)
    assert result.decision is not None and result.decision.confidence == 0.3
    assert "evidence_not_verbatim" in result.flags


def test_an_unreachable_endpoint_opens_the_breaker_and_stops_calling() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        client = labeler(f"http://127.0.0.1:{port}/v1", llm_breaker_failures=2, llm_max_in_flight=1)
        results = run_async(lambda: client.label_many([(TEXT, None)] * 20))
    assert {r.status for r in results} == {"unavailable"}
    assert client.stats.breaker_open
    assert client.stats.calls == 2


def test_requests_in_flight_never_exceed_the_configured_bound() -> None:
    with fake_openai(valid_reply, script=[Reply(delay=0.2)] * 12) as fake:
        label(fake, [f"{TEXT} #{i}" for i in range(12)], llm_max_in_flight=3)
    assert fake.max_in_flight == 3


@pytest.mark.parametrize("injection", INJECTIONS, ids=[f"injection-{i}" for i in range(len(INJECTIONS))])
def test_injected_text_changes_neither_the_instructions_nor_the_schema(injection: str) -> None:
    with fake_openai(valid_reply) as fake:
        label(fake, [TEXT, injection], llm_max_in_flight=1)
    benign, attacked = fake.requests
    assert attacked["messages"][0] == benign["messages"][0]  # the system prompt
    assert attacked["response_format"] == benign["response_format"]
    assert len(attacked["messages"]) == 2
    assert feedback_text(attacked).replace("feedback-text>", "feedback>") == injection


@pytest.mark.parametrize(
    "obeyed",
    [
        pytest.param(json.dumps({"category": "HACKED", "confidence": 1.0}), id="injected-json"),
        pytest.param("PWNED", id="injected-word"),
        pytest.param(json.dumps({**decision(TEXT), "admin": True}), id="injected-extra-field"),
    ],
)
def test_a_model_that_obeys_an_injection_produces_no_accepted_label(obeyed: str) -> None:
    with fake_openai(lambda req: obeyed) as fake:
        [result], _ = label(fake, [INJECTIONS[0]])
    assert result.status == "invalid"
    assert result.decision is None
