"""The rule file: validated on load, and a typo names the file line and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedbackloop.incidents.rules import RuleFileError, load_rules, parse_rules
from feedbackloop.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "monitors" / "rules.yaml"

RULE = """\
version: 1
rules:
  - id: category_volume_wow
    kind: volume_change
    group_by: [category]
    threshold: 0.3
    min_volume: 20
    quorum: {consecutive_windows: 2, step_hours: 12}
"""


def test_the_shipped_rule_file_covers_every_rule_kind_with_a_floor_and_a_quorum() -> None:
    rules = load_rules(SHIPPED).rules
    assert {r.kind for r in rules} == {
        "volume_change", "cluster_share", "centroid_drift", "zscore", "telemetry_zscore", "release_regression"
    }  # fmt: skip
    assert all(r.min_volume >= 1 for r in rules)
    # a quorum of windows or of sources; telemetry rules only corroborate complaints (a second source), and
    # requires_telemetry rules need a telemetry rule firing alongside them
    assert all(
        r.quorum.consecutive_windows >= 2
        or r.quorum.min_sources >= 2
        or r.requires_telemetry
        or r.kind == "telemetry_zscore"
        for r in rules
    )


def test_a_misspelt_key_is_reported_with_its_line_and_rule_id() -> None:
    with pytest.raises(RuleFileError, match=r"rules.yaml, line 6: rule 'category_volume_wow': treshold: Extra"):
        parse_rules(RULE.replace("threshold", "treshold"), "monitors/rules.yaml")


def test_a_missing_required_value_names_the_rule_line() -> None:
    with pytest.raises(RuleFileError, match=r"line 3: rule 'category_volume_wow': min_volume: Field required"):
        parse_rules(RULE.replace("    min_volume: 20\n", ""), "monitors/rules.yaml")


def test_an_unknown_kind_is_reported_on_its_line() -> None:
    with pytest.raises(RuleFileError, match=r"line 4: .*kind: Input should be 'volume_change'"):
        parse_rules(RULE.replace("volume_change", "volume_chnage"), "monitors/rules.yaml")


def test_broken_yaml_syntax_names_the_line() -> None:
    with pytest.raises(RuleFileError, match=r"line 6 \(while parsing a flow sequence on line 5\): not valid YAML"):
        parse_rules(RULE.replace("[category]", "[category"), "monitors/rules.yaml")


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        pytest.param(("min_volume: 20", "min_volume: 0"), "greater than or equal to 1", id="floor-below-one"),
        pytest.param(("step_hours: 12", "step_hours: -1"), "greater than 0", id="negative-step"),
        pytest.param(("[category]", "[categroy]"), "Input should be 'category'", id="unknown-dimension"),
    ],
)
def test_out_of_range_values_are_refused(edit: tuple[str, str], reason: str) -> None:
    with pytest.raises(RuleFileError, match=reason):
        parse_rules(RULE.replace(*edit), "rules.yaml")


def test_a_share_rule_above_one_is_refused() -> None:
    text = RULE.replace("volume_change", "cluster_share").replace("threshold: 0.3", "threshold: 50")
    with pytest.raises(RuleFileError, match="share of negative items"):
        parse_rules(text, "rules.yaml")


def test_duplicate_rule_ids_are_refused() -> None:
    body = RULE.split("rules:\n")[1]
    with pytest.raises(RuleFileError, match="used twice"):
        parse_rules(RULE + body, "rules.yaml")


def test_a_missing_rule_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="FEEDBACKLOOP_MONITOR_RULES_PATH"):
        load_rules(tmp_path / "nope.yaml")
