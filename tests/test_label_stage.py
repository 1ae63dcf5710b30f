"""The label stage over the lake: tiers, audit columns, cache, queueing, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from feedbackloop.embed.model import get_embedder
from feedbackloop.label.stage import label_pending
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.fake_openai import Reply, fake_openai
from tests.label_samples import decision, feedback_text, valid_reply, write_silver_docs

pytestmark = pytest.mark.slow

DOCS = [
    {"doc_id": "crash", "text": "The app crashes every time I open the camera. Please fix it!"},
    {"doc_id": "charge", "text": "I was charged twice for my subscription. I want a refund."},
    {"doc_id": "empty", "text": ""},
    {"doc_id": "emoji", "text": "😭😭 👎"},
    {"doc_id": "huge", "text": "Slow. " + "The feed takes ages to load. " * 3700},  # ~100 KB
    {"doc_id": "german", "text": "Die App stürzt ständig ab, bitte reparieren.", "language": "de"},
]
AUDIT = ["taxonomy_version", "model_id", "endpoint_kind", "label_run_id", "code_version", "labeled_at", "tier"]
LLM_AUDIT = ["prompt_version", "temperature", "latency_ms", "prompt_tokens", "completion_tokens", "cost_usd"]


def with_llm(settings: Settings, base_url: str, **overrides: Any) -> Settings:
    values = {
        "llm_endpoint_kind": "openai",
        "llm_base_url": base_url,
        "llm_model": "gpt-4o-mini",
        "llm_backoff_seconds": 0.01,
        "llm_timeout_seconds": 5.0,
        "label_local_accept_threshold": 1.0,  # every worded English item goes to the LLM
        **overrides,
    }
    return settings.model_copy(update=values)


def labels(settings: Settings) -> dict[str, dict[str, Any]]:
    rows = Lake(settings).read("silver", "feedback_labels").to_pylist()
    return {r["doc_id"]: r for r in sorted(rows, key=lambda r: r["labeled_at"])}


def test_every_doc_gets_one_audited_label_row(settings: Settings) -> None:
    write_silver_docs(settings, DOCS)
    with fake_openai(valid_reply) as fake:
        stats = label_pending(with_llm(settings, fake.base_url), "run-1")
    rows = labels(settings)
    assert set(rows) == {d["doc_id"] for d in DOCS}
    assert (stats["rule"], stats["llm"], stats["llm_calls"]) == (2, 4, 4)
    assert stats["llm_calls_saved"] == 2
    for row in rows.values():
        assert all(row[c] is not None for c in AUDIT), row
        assert row["label_run_id"] == "run-1"
    for doc_id in ("crash", "charge", "huge", "german"):
        assert all(rows[doc_id][c] is not None for c in LLM_AUDIT)
        assert rows[doc_id]["model_id"] == "openai/gpt-4o-mini"
    assert stats["cost_usd"] == pytest.approx(4 * (100 * 0.15 + 20 * 0.60) / 1e6)


def test_empty_and_emoji_only_text_take_the_rule_tier_without_an_llm_call(settings: Settings) -> None:
    write_silver_docs(settings, DOCS[2:4])
    with fake_openai(valid_reply) as fake:
        label_pending(with_llm(settings, fake.base_url), "run-1")
    rows = labels(settings)
    assert fake.requests == []
    assert rows["empty"]["flags"] == ["empty_text"] and rows["empty"]["category"] == "other"
    assert rows["emoji"]["flags"] == ["no_words"] and rows["emoji"]["sentiment_label"] == "negative"


def test_a_100_kb_text_is_truncated_and_flagged(settings: Settings) -> None:
    write_silver_docs(settings, [DOCS[4]])
    with fake_openai(valid_reply) as fake:
        label_pending(with_llm(settings, fake.base_url, label_max_input_chars=4000), "run-1")
    assert len(feedback_text(fake.requests[0])) == 4000
    assert "truncated" in labels(settings)["huge"]["flags"]


def test_non_english_text_is_not_decided_by_the_english_local_model(settings: Settings) -> None:
    write_silver_docs(settings, [DOCS[5]])
    with fake_openai(valid_reply) as fake:
        label_pending(with_llm(settings, fake.base_url, label_local_accept_threshold=0.0), "run-1")
    row = labels(settings)["german"]
    assert row["tier"] == "llm"
    assert "non_local_language" in row["flags"]


def test_a_rerun_makes_no_llm_calls(settings: Settings) -> None:
    write_silver_docs(settings, DOCS[:2])
    with fake_openai(valid_reply) as fake:
        label_pending(with_llm(settings, fake.base_url), "run-1")
        again = label_pending(with_llm(settings, fake.base_url), "run-2")
        relabel = label_pending(with_llm(settings, fake.base_url), "run-3", relabel=True)
    assert len(fake.requests) == 2
    assert again["docs_pending"] == relabel["docs_pending"] == 0
    assert again["llm_calls"] == relabel["llm_calls"] == 0


def test_a_model_change_relabels_only_on_request_and_same_texts_hit_the_cache(settings: Settings) -> None:
    write_silver_docs(settings, DOCS[:2])
    with fake_openai(valid_reply) as fake:
        label_pending(with_llm(settings, fake.base_url), "run-1")
        quiet = label_pending(with_llm(settings, fake.base_url, llm_model="gpt-4o"), "run-2")
        relabelled = label_pending(with_llm(settings, fake.base_url, llm_model="gpt-4o"), "run-3", relabel=True)
        back = label_pending(with_llm(settings, fake.base_url), "run-4", relabel=True)
    assert quiet["docs_pending"] == 0
    assert (relabelled["docs_pending"], relabelled["llm_calls"]) == (2, 2)
    assert (back["docs_pending"], back["llm_calls"], back["llm_cache_hits"]) == (2, 0, 2)
    assert labels(settings)["crash"]["is_cache_hit"] is True


def test_an_unreachable_endpoint_leaves_items_queued_for_a_later_run(settings: Settings) -> None:
    write_silver_docs(settings, DOCS[:3])
    down = label_pending(with_llm(settings, "http://127.0.0.1:9/v1", llm_max_attempts=2), "run-1")
    assert (down["queued"], down["rule"]) == (2, 1)
    assert set(labels(settings)) == {"empty"}
    with fake_openai(valid_reply) as fake:
        up = label_pending(with_llm(settings, fake.base_url), "run-2")
    assert (up["docs_pending"], up["llm"]) == (2, 2)
    assert set(labels(settings)) == {"crash", "charge", "empty"}


QUOTE = ["I was charged twice for my subscription"]


@pytest.mark.parametrize(
    ("reply", "overrides", "reason"),
    [
        pytest.param("not json", {}, "invalid_output", id="invalid-twice"),
        pytest.param(
            decision("", category="billing", confidence=0.2, evidence=QUOTE), {}, "low_confidence", id="low-confidence"
        ),
        pytest.param(
            decision("", category="billing", severity="critical", evidence=QUOTE), {}, "high_impact", id="high-impact"
        ),
        pytest.param(
            decision("", category="bug", evidence=QUOTE), {"label_conflict_threshold": 0.0}, "conflict", id="conflict"
        ),
    ],
)
def test_untrustworthy_llm_labels_go_to_review_with_a_reason(
    settings: Settings, reply: str | dict[str, Any], overrides: dict[str, Any], reason: str
) -> None:
    write_silver_docs(settings, [DOCS[1]])  # a billing text the local tier recognises
    content = reply if isinstance(reply, str) else json.dumps(reply)
    with fake_openai(lambda request: content) as fake:
        stats = label_pending(with_llm(settings, fake.base_url, **overrides), "run-1")
    row = labels(settings)["charge"]
    assert (row["status"], row["review_reason"]) == ("needs_review", reason)
    assert stats["review_reasons"] == {reason: 1}


def test_without_an_llm_tier_unsure_local_labels_go_to_review(settings: Settings) -> None:
    write_silver_docs(settings, DOCS[:2])
    stats = label_pending(settings.model_copy(update={"label_local_accept_threshold": 1.0}), "run-1")
    assert stats["local"] == 2 and stats["llm_calls"] == 0
    assert {r["review_reason"] for r in labels(settings).values()} == {"low_confidence"}


def test_precomputed_embeddings_are_used_when_they_match(settings: Settings) -> None:
    write_silver_docs(settings, DOCS[:2])
    embedder = get_embedder(settings)
    from feedbackloop.silver.texts import model_inputs

    inputs = model_inputs(settings).to_pylist()
    vectors = embedder.embed([r["text"] for r in inputs])
    table = pa.table(
        {
            "doc_id": [r["doc_id"] for r in inputs],
            "text_kind": ["text"] * len(inputs),
            "embedding_version": [embedder.model_id] * len(inputs),
            "dim": pa.array([embedder.dim] * len(inputs), pa.int32()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(np.ravel(vectors), pa.float32()), embedder.dim),
            "input_hash": [r["input_hash"] if r["doc_id"] == "crash" else "stale" for r in inputs],
            "embedded_at": pa.array([datetime.now(UTC)] * len(inputs), pa.timestamp("us", tz="UTC")),
            "embed_run_id": ["e1"] * len(inputs),
        }
    )
    Lake(settings).append("silver", "feedback_embeddings", table)
    stats = label_pending(settings, "run-1")
    assert stats["vectors_precomputed"] == 1  # the other vector was made from an older text


def test_a_429_storm_still_labels_everything(settings: Settings) -> None:
    write_silver_docs(settings, DOCS[:2])
    script = [Reply(status=429, headers={"retry-after": "0"})] * 3
    with fake_openai(valid_reply, script=script) as fake:
        stats = label_pending(with_llm(settings, fake.base_url, llm_max_attempts=4, llm_max_in_flight=1), "run-1")
    assert stats["llm"] == 2 and stats["queued"] == 0
    assert stats["llm_errors"] == {"429": 3}
