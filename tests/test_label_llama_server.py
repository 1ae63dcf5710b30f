"""The real openai client against the real llama.cpp server (the ``llm`` extra) with the packaged SmolLM2.

SmolLM2-135M labels badly; these tests check wiring: the project starts and stops the server, the
structured-output mode it needs, and that whatever it answers is validated, not trusted.
"""

from __future__ import annotations

import json
import socket

import pytest

from feedbackloop.label.client import LLMLabeler, run_async
from feedbackloop.label.llama_server import LlamaServer
from feedbackloop.label.prompts import PromptSet
from feedbackloop.label.stage import label_pending
from feedbackloop.label.taxonomy import load_taxonomy
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.label_samples import write_silver_docs

pytest.importorskip("llama_cpp", reason="the llm extra is part of `make setup`")
pytestmark = [pytest.mark.llm, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_label_stage_starts_the_local_server_labels_and_stops_it(settings: Settings) -> None:
    port = free_port()
    local = settings.model_copy(
        update={"llm_endpoint_kind": "llama_cpp", "llm_server_port": port, "label_local_accept_threshold": 1.0}
    )
    write_silver_docs(local, [{"doc_id": "crash", "text": "The app crashes when I open the camera."}])
    stats = label_pending(local, "run-1")
    assert stats["llm_calls"] >= 1 and stats["queued"] == 0
    [row] = Lake(local).read("silver", "feedback_labels").to_pylist()
    assert (row["tier"], row["model_id"], row["endpoint_kind"]) == ("llm", "llama_cpp/smollm2-135m", "llama_cpp")
    assert row["prompt_tokens"] > 0 and row["latency_ms"] > 0
    [cached] = Lake(local).read("silver", "llm_label_cache").to_pylist()
    reply = json.loads(cached["raw_reply"])  # the grammar forced JSON; validation decided whether to trust it
    assert set(reply) == set(json.loads(cached["decision_json"]) if cached["decision_json"] else reply)
    assert row["status"] == (
        "accepted" if cached["status"] == "ok" and row["review_reason"] is None else "needs_review"
    )
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # stopped again


def test_llama_cpp_rejects_openai_json_schema_mode_so_it_is_a_per_endpoint_setting(settings: Settings) -> None:
    local = settings.model_copy(
        update={
            "llm_endpoint_kind": "llama_cpp",
            "llm_structured_output": "json_schema",
            "llm_server_port": free_port(),
            "llm_max_attempts": 1,
        }
    )
    taxonomy = load_taxonomy(local.label_taxonomy_path)
    with LlamaServer.from_settings(local) as server:
        client = LLMLabeler(local, taxonomy, PromptSet.load(local.label_prompt_dir), base_url=server.base_url)
        client.model = "smollm2-135m"
        [result] = run_async(lambda: client.label_many([("The app crashes.", None)]))
    assert result.status == "unavailable"
    assert "HTTP 500" in (result.error or "")
