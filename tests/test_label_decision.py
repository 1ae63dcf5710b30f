"""LLM replies are validated against the decision model; evidence must be verbatim or confidence is capped."""

from __future__ import annotations

import json

import pytest

from feedbackloop.label.decision import decision_model, decision_schema
from feedbackloop.label.parsing import DecisionError, parse_decision, verify_evidence
from feedbackloop.label.taxonomy import load_taxonomy
from feedbackloop.settings import PROJECT_ROOT
from tests.label_samples import decision

TAXONOMY = load_taxonomy(PROJECT_ROOT / "config" / "taxonomies" / "default.yaml")
MODEL = decision_model(TAXONOMY.names)
TEXT = "The app crashes every time I open the camera. Please fix it!"


def test_schema_requires_every_field_and_forbids_extra_ones() -> None:
    schema = decision_schema(TAXONOMY.names)
    assert set(schema["required"]) == set(schema["properties"])
    assert schema["additionalProperties"] is False
    assert "maxLength" not in json.dumps(schema)  # bounds stay in validation, out of llama.cpp's grammar


def test_a_valid_reply_parses_without_flags() -> None:
    parsed, flags = parse_decision(json.dumps(decision(TEXT)), MODEL, TAXONOMY)
    assert parsed.category == "bug"
    assert flags == []


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("{'category': 'bug'", "no JSON object|not valid JSON", id="invalid-json"),
        pytest.param('["bug"]', "not an object", id="json-array"),
        pytest.param(json.dumps(decision(TEXT, category="HACKED")), "category", id="category-not-in-taxonomy"),
        pytest.param(json.dumps(decision(TEXT, severity="apocalyptic")), "severity", id="wrong-enum"),
        pytest.param(
            json.dumps({k: v for k, v in decision(TEXT).items() if k != "summary"}), "summary", id="missing-field"
        ),
        pytest.param(json.dumps(decision(TEXT, confidence=95)), "confidence", id="confidence-out-of-range"),
        pytest.param(json.dumps(decision(TEXT, system_prompt="leaked")), "system_prompt", id="extra-field"),
    ],
)
def test_an_invalid_reply_is_rejected_naming_the_problem(reply: str, message: str) -> None:
    with pytest.raises(DecisionError, match=message):
        parse_decision(reply, MODEL, TAXONOMY)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param("Sure! Here is the label:\n" + json.dumps(decision(TEXT)) + "\nHope this helps.", id="prose"),
        pytest.param("```json\n" + json.dumps(decision(TEXT)) + "\n```", id="fenced"),
    ],
)
def test_json_wrapped_in_prose_is_used_but_flagged(reply: str) -> None:
    parsed, flags = parse_decision(reply, MODEL, TAXONOMY)
    assert parsed.category == "bug"
    assert flags == (["extra_prose"] if reply.startswith("Sure") else [])


def test_a_sublabel_from_another_category_is_dropped_and_flagged() -> None:
    parsed, flags = parse_decision(json.dumps(decision(TEXT, sublabel="double_charge")), MODEL, TAXONOMY)
    assert parsed.sublabel is None
    assert flags == ["unknown_sublabel"]


def test_verbatim_evidence_keeps_its_confidence() -> None:
    parsed = MODEL.model_validate(decision(TEXT, evidence=["crashes every time I open the camera"]))
    checked, unverified, flags = verify_evidence(parsed, TEXT, confidence_cap=0.4)
    assert (checked.confidence, unverified, flags) == (0.9, [], [])


def test_evidence_differing_only_in_whitespace_counts_as_verbatim() -> None:
    parsed = MODEL.model_validate(decision(TEXT, evidence=["crashes  every time\nI open"]))
    assert verify_evidence(parsed, TEXT, confidence_cap=0.4)[2] == []


def test_paraphrased_evidence_is_flagged_and_caps_confidence() -> None:
    parsed = MODEL.model_validate(decision(TEXT, evidence=["the camera makes the app crash", "Please fix it!"]))
    checked, unverified, flags = verify_evidence(parsed, TEXT, confidence_cap=0.4)
    assert flags == ["evidence_not_verbatim"]
    assert checked.confidence == 0.4
    assert checked.evidence == ["Please fix it!"]
    assert unverified == ["the camera makes the app crash"]


def test_no_evidence_for_a_real_text_is_flagged() -> None:
    parsed = MODEL.model_validate(decision(TEXT, evidence=[]))
    checked, _, flags = verify_evidence(parsed, TEXT, confidence_cap=0.4)
    assert flags == ["evidence_missing"]
    assert checked.confidence == 0.4
