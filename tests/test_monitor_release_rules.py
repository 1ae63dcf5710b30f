"""The release_regression rule: complaints per session on one app version against its sibling versions,
and complaint rules that count only when telemetry backs them (requires_telemetry)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from feedbackloop.incidents.detect import Incident, open_or_update
from feedbackloop.incidents.rules import RuleFileError, parse_rules
from feedbackloop.incidents.signals import US_PER_DAY, US_PER_HOUR, Complaints, evaluate_rule

AS_OF = 40 * US_PER_DAY
SHOP = "com.acme.shop"

RULES = """\
version: 1
rules:
  - id: release_complaint_rate
    kind: release_regression
    group_by: [category]
    window_days: 2
    threshold: 3.0
    min_volume: 4
    min_sessions: 30
    min_z: 3.0
"""


def release_rule():
    return parse_rules(RULES).rules[0]


def complaints(per_version: dict[str, int], category: str = "billing", sources: tuple[str, ...] = ("google_play",)):
    """``per_version`` complaints in the last day, spread over the window's hours and over ``sources``."""
    rows = []
    for version, k in per_version.items():
        for i in range(k):
            rows.append(
                {
                    "doc_id": f"{version}-{i}", "event_us": AS_OF - (i + 1) * US_PER_HOUR, "category": category,
                    "product": SHOP, "platform": "android", "product_area": "checkout", "app_version": version,
                    "source_system": sources[i % len(sources)], "cluster_id": "c1",
                }
            )  # fmt: skip
    frame = pd.DataFrame(rows, columns=["doc_id", "event_us", "category", "product", "platform", "product_area",
                                        "app_version", "source_system", "cluster_id"])  # fmt: skip
    return frame.sort_values("event_us").reset_index(drop=True)


def sessions(per_version: dict[str, int]) -> pd.DataFrame:
    hour = AS_OF - 10 * US_PER_HOUR
    rows = [{"platform": "android", "app_version": v, "hour_us": hour, "sessions": n} for v, n in per_version.items()]
    return pd.DataFrame(rows).astype({"sessions": float})


def evaluate(frame: pd.DataFrame, session_counts: dict[str, int] | None, rule=None) -> pd.DataFrame:
    c = Complaints(frame, np.zeros((len(frame), 4)), 0, sessions(session_counts) if session_counts else None)
    hits = evaluate_rule(rule or release_rule(), c, AS_OF)
    return hits.assign(version=[json.loads(s).get("app_version") for s in hits["subject_json"]]).set_index("version")


@pytest.mark.parametrize(
    ("complaints_by_version", "sessions_by_version", "fires"),
    [
        pytest.param({"5.4.0": 8, "5.3.0": 2}, {"5.4.0": 50, "5.3.0": 300}, True, id="few-sessions-many-complaints"),
        pytest.param({"5.4.0": 8, "5.3.0": 48}, {"5.4.0": 50, "5.3.0": 300}, False, id="same-rate-as-siblings"),
        pytest.param({"5.4.0": 3, "5.3.0": 1}, {"5.4.0": 30, "5.3.0": 3000}, False, id="below-the-floor"),
        pytest.param({"5.4.0": 8, "5.3.0": 2}, {"5.4.0": 20, "5.3.0": 300}, False, id="too-few-sessions"),
        pytest.param({"5.4.0": 8, "5.3.0": 5}, {"5.4.0": 300, "5.3.0": 300}, False, id="not-significant"),
    ],
)
def test_a_version_fires_only_with_a_high_significant_rate_above_its_floors(
    complaints_by_version: dict[str, int], sessions_by_version: dict[str, int], fires: bool
) -> None:
    hits = evaluate(complaints(complaints_by_version), sessions_by_version)
    assert bool(hits.loc["5.4.0", "is_fired"]) is fires
    assert not hits.loc["5.3.0", "is_fired"]
    if complaints_by_version["5.4.0"] < 4:  # the floor alone holds it back
        assert hits.loc["5.4.0", "is_significant"] and hits.loc["5.4.0", "observed"] >= 3


def test_the_hit_carries_the_rate_ratio_and_the_expected_complaints() -> None:
    hit = evaluate(complaints({"5.4.0": 8, "5.3.0": 2}), {"5.4.0": 50, "5.3.0": 300}).loc["5.4.0"]
    assert hit["observed"] == pytest.approx((8 / 50) / (2 / 300))
    assert hit["baseline"] == pytest.approx(10 * 50 / 350)
    assert hit["volume"] == 8 and hit["is_significant"] and hit["has_baseline"]


def test_a_brand_new_category_with_no_complaints_on_sibling_versions_is_measured_against_one() -> None:
    hit = evaluate(complaints({"5.4.0": 6}, category="brand_new"), {"5.4.0": 50, "5.3.0": 300}).loc["5.4.0"]
    assert hit["observed"] == pytest.approx((6 / 50) / (1 / 300)) and hit["is_fired"]


def test_without_sibling_versions_or_telemetry_there_is_no_baseline() -> None:
    only = evaluate(complaints({"5.4.0": 8}), {"5.4.0": 500})  # every user on one version: nothing to compare
    none = evaluate(complaints({"5.4.0": 8}), None)  # no telemetry tables yet
    for hits in (only, none):
        assert not hits.loc["5.4.0", "has_baseline"] and not hits.loc["5.4.0", "is_fired"]


def test_complaints_without_a_version_are_never_a_release_regression() -> None:
    hits = evaluate(complaints({"unknown": 9, "5.3.0": 1}), {"5.3.0": 300, "5.4.0": 40})
    assert not hits["is_fired"].any()


def test_an_empty_window_evaluates_to_nothing() -> None:
    assert evaluate(complaints({}), {"5.4.0": 50, "5.3.0": 300}).empty


def test_the_quorum_of_sources_applies() -> None:
    rule = parse_rules(RULES + "    quorum: {min_sources: 2}\n").rules[0]
    one = evaluate(complaints({"5.4.0": 8, "5.3.0": 2}), {"5.4.0": 50, "5.3.0": 300}, rule)
    two = evaluate(complaints({"5.4.0": 8, "5.3.0": 2}, sources=("google_play", "zendesk")),
                   {"5.4.0": 50, "5.3.0": 300}, rule)  # fmt: skip
    assert not one.loc["5.4.0", "is_fired"] and two.loc["5.4.0", "is_fired"]


def test_requires_telemetry_is_refused_on_a_telemetry_rule() -> None:
    text = RULES.replace("kind: release_regression", "kind: telemetry_zscore\n    metric: error_events").replace(
        "    min_sessions: 30\n", "    requires_telemetry: true\n"
    )
    with pytest.raises(RuleFileError, match="requires_telemetry is for complaint rules"):
        parse_rules(text, "rules.yaml")


def _hit(rule_id: str, kind: str, subject: dict[str, str], observed: float = 5.0) -> dict:
    return {
        "rule_id": rule_id, "rule_kind": kind, "subject_json": json.dumps(subject), "is_fired": True,
        "observed": observed,
        "window_start_us": AS_OF - 2 * US_PER_DAY, "window_end_us": AS_OF, "cluster_id": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("telemetry_fired", "opens"),
    [pytest.param(True, True, id="backed-by-telemetry"), pytest.param(False, False, id="complaints-alone")],
)
def test_a_rule_that_requires_telemetry_counts_only_when_telemetry_fires_for_the_product(
    telemetry_fired: bool, opens: bool
) -> None:
    frame = complaints({"5.4.0": 6})
    hits = [_hit("weak_rise", "volume_change", {"category": "billing", "product": SHOP}),
            _hit("other_rule", "zscore", {"category": "billing", "product": SHOP})]  # fmt: skip
    if telemetry_fired:
        hits.append(_hit("telemetry_errors", "telemetry_zscore", {"platform": "android", "version_major": "5"}))
    c = Complaints(frame, np.zeros((0, 0)), 0)
    opened, _ = open_or_update([], pd.DataFrame(hits), c, AS_OF, "run-1", set(), 2, {"weak_rise"})
    assert bool(opened) is opens
    if opens:
        assert opened[0].rule_ids == ["other_rule", "telemetry_errors", "weak_rise"]


ANDROID_ERRORS = {"platform": "android", "version_major": "5"}


def _open(frame: pd.DataFrame, hits: list[dict], explains: dict[str, set[str]] | None = None):
    c = Complaints(frame, np.zeros((0, 0)), 0)
    opened, _ = open_or_update([], pd.DataFrame(hits), c, AS_OF, "run-1", set(), 2, {"weak_rise"}, explains)
    return sorted(i.category for i in opened)


def test_a_weak_signal_on_another_platform_is_not_backed_by_this_platforms_telemetry() -> None:
    hits = [_hit("weak_rise", "zscore", {"category": "billing", "product": SHOP, "platform": "ios"}),
            _hit("telemetry_errors", "telemetry_zscore", ANDROID_ERRORS)]  # fmt: skip
    assert _open(complaints({"5.4.0": 6}), hits) == []


def test_one_telemetry_anomaly_backs_only_the_products_strongest_weak_signal() -> None:
    frame = pd.concat([complaints({"5.4.0": 6}), complaints({"5.4.0": 5}, category="ux")], ignore_index=True)
    frame["doc_id"] = [f"d{i}" for i in range(len(frame))]
    hits = [_hit("weak_rise", "zscore", {"category": "billing", "product": SHOP}, observed=9.0),
            _hit("weak_rise", "zscore", {"category": "ux", "product": SHOP}, observed=3.5),
            _hit("telemetry_errors", "telemetry_zscore", ANDROID_ERRORS)]  # fmt: skip
    assert _open(frame.sort_values("event_us").reset_index(drop=True), hits) == ["billing"]


@pytest.mark.parametrize(
    ("category", "opens"), [pytest.param("performance", True, id="explained"), pytest.param("billing", False, id="not")]
)
def test_a_telemetry_rule_backs_only_the_categories_it_explains(category: str, opens: bool) -> None:
    hits = [_hit("weak_rise", "zscore", {"category": category, "product": SHOP}),
            _hit("telemetry_latency", "telemetry_zscore", ANDROID_ERRORS)]  # fmt: skip
    opened = _open(complaints({"5.4.0": 6}, category=category), hits, {"telemetry_latency": {"performance"}})
    assert opened == ([category] if opens else [])


def test_explains_is_refused_on_a_complaint_rule() -> None:
    with pytest.raises(RuleFileError, match="explains is for telemetry rules"):
        parse_rules(RULES + "    explains: [billing]\n", "rules.yaml")


@pytest.mark.parametrize(
    ("open_category", "opens"),
    [pytest.param(None, True, id="no-open-incident"), pytest.param("billing", False, id="claimed-by-billing")],
)
def test_a_products_telemetry_anomaly_belongs_to_its_open_incident(open_category: str | None, opens: bool) -> None:
    incidents = [Incident("inc-1", open_category, SHOP)] if open_category else []
    hits = [_hit("weak_rise", "zscore", {"category": "trust", "product": SHOP}),
            _hit("telemetry_errors", "telemetry_zscore", ANDROID_ERRORS)]  # fmt: skip
    c = Complaints(complaints({"5.4.0": 6}, category="trust"), np.zeros((0, 0)), 0)
    opened, _ = open_or_update(incidents, pd.DataFrame(hits), c, AS_OF, "run-1", set(), 2, {"weak_rise"})
    assert [i.category for i in opened] == (["trust"] if opens else [])


@pytest.mark.parametrize(
    ("explains", "opens"),
    [
        pytest.param({"telemetry_latency": {"performance"}}, True, id="explained-category-vouches"),
        pytest.param({}, False, id="generic-anomaly-does-not"),
    ],
)
def test_scattered_complaints_open_an_incident_only_when_telemetry_explains_their_category(
    explains: dict[str, set[str]], opens: bool
) -> None:
    frame = complaints({"5.4.0": 6}, category="performance")
    frame["cluster_id"] = [f"c{i}" for i in range(len(frame))]  # worded too differently to share a cluster
    hits = [_hit("weak_rise", "zscore", {"category": "performance", "product": SHOP}),
            _hit("other_rule", "zscore", {"category": "performance", "product": SHOP}),
            _hit("telemetry_latency", "telemetry_zscore", ANDROID_ERRORS)]  # fmt: skip
    assert _open(frame, hits, explains) == (["performance"] if opens else [])
