"""The decision matrix: the shipped one is valid, and a bad edit fails naming its line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedbackloop.act.decisions import DecisionsError, load_decisions, parse_decisions
from feedbackloop.settings import PROJECT_ROOT

SHIPPED = (PROJECT_ROOT / "config" / "decisions.yaml").read_text()


def test_the_shipped_matrix_routes_every_outcome_to_its_action_kind() -> None:
    matrix = load_decisions(PROJECT_ROOT / "config" / "decisions.yaml")
    kinds = {outcome: route.action for outcome, route in matrix.outcomes.items()}
    assert kinds == {
        "product_behaviour": "engineering_ticket",
        "policy_content": "content_update",
        "model_quality": "retrain_candidate",
    }


def test_an_override_picks_the_owner_by_product_area() -> None:
    route = load_decisions(PROJECT_ROOT / "config" / "decisions.yaml").route("product_behaviour")
    assert route.owner_for({"product_area": "checkout"}).queue == "PAY"
    assert route.owner_for({"product_area": "search"}).queue == "ENG"


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


TYPOS = [
    ("    sink: jira\n", "    sink: jria\n", r"'jria' is not allowed.*did you mean 'jira'", "sink-typo"),
    ("    owner:\n      team: mobile", "    ownr:\n      team: mobile", r"unknown key 'ownr'.*'owner'", "key-typo"),
    ("  policy_content:", "  policy_contnet:", r"'policy_contnet' is not allowed.*'policy_content'", "outcome-typo"),
    ("    min_severity: medium", "    min_severity: urgent", r"'urgent' is not allowed", "severity"),
    ("    action: content_update", "    action: content_updates", r"did you mean 'content_update'", "action-typo"),
]


@pytest.mark.parametrize(("old", "new", "message"), [pytest.param(*t[:3], id=t[3]) for t in TYPOS])
def test_a_typo_is_reported_with_its_line(old: str, new: str, message: str) -> None:
    assert old in SHIPPED
    text = SHIPPED.replace(old, new, 1)
    line = line_of(text, new.strip().splitlines()[0])
    with pytest.raises(DecisionsError, match=rf"decisions.yaml, .*line {line}: [^;]*{message}"):
        parse_decisions(text, "decisions.yaml")


def test_broken_yaml_names_the_line() -> None:
    text = SHIPPED.replace("    sink: servicenow\n", "    sink: [servicenow\n", 1)
    with pytest.raises(DecisionsError, match=r"line \d+: not valid YAML"):
        parse_decisions(text, "decisions.yaml")


def test_an_outcome_without_a_route_is_refused() -> None:
    text = "outcomes:\n  product_behaviour:\n    action: engineering_ticket\n    sink: none\n    owner: {team: a}\n"
    with pytest.raises(DecisionsError, match=r"missing \['policy_content', 'model_quality'\]"):
        parse_decisions(text, "d.yaml")


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(DecisionsError, match="FEEDBACKLOOP_DECISIONS_PATH"):
        load_decisions(tmp_path / "nope.yaml")
