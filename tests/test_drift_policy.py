"""The retraining policy as tables of cases: each signal's numbers, and when they add up to a candidate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feedbackloop.drift import policy
from feedbackloop.drift.config import PolicyConfig
from feedbackloop.drift.report import ColumnDrift, DriftResult

POLICY = PolicyConfig()
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def result_with(category_p_value: float) -> DriftResult:
    drift = ColumnDrift("category", "chi-square p_value", category_p_value, 0.05, category_p_value < 0.05)
    return DriftResult(None, [drift], 0.0, False, None, None, None, 100, 100)


@pytest.mark.parametrize(
    ("result", "fired", "value"),
    [
        pytest.param(result_with(0.001), True, 0.001, id="category-drifted"),
        pytest.param(result_with(0.4), False, 0.4, id="category-stable"),
        pytest.param(None, False, None, id="no-report"),
    ],
)
def test_label_drift_follows_the_category_column_of_the_report(
    result: DriftResult | None, fired: bool, value: float | None
) -> None:
    signal = policy.label_drift(result, POLICY)
    assert (signal.fired, signal.value) == (fired, value)


@pytest.mark.parametrize(
    ("counts", "fired", "value"),
    [
        pytest.param({"praise": 300, "billing": 10}, True, 30.0, id="30-to-1"),
        pytest.param({"praise": 100, "billing": 10}, False, 10.0, id="10-to-1"),
        pytest.param({"praise": 300, "billing": 2}, False, None, id="minority-below-min-count"),
        pytest.param({}, False, None, id="empty-window"),
    ],
)
def test_class_imbalance_is_largest_over_smallest_counted_category(
    counts: dict[str, int], fired: bool, value: float | None
) -> None:
    signal = policy.class_imbalance(counts, POLICY)
    assert (signal.fired, signal.value) == (fired, value)


@pytest.mark.parametrize(
    ("accepted", "trained", "new"),
    [
        pytest.param({"billing": 5, "login": 5}, {"billing": 40, "login": 30}, [], id="all-known"),
        pytest.param({"billing": 5, "refunds": 4}, {"billing": 40}, ["refunds"], id="brand-new-category"),
        pytest.param({"billing": 5, "refunds": 1}, {"billing": 40}, [], id="new-but-below-min-count"),
        pytest.param({"billing": 5}, None, ["billing"], id="never-trained"),
        pytest.param({}, {"billing": 40}, [], id="empty-window"),
    ],
)
def test_new_labels_are_accepted_categories_missing_from_the_training_set(
    accepted: dict[str, int], trained: dict[str, int] | None, new: list[str]
) -> None:
    signal = policy.new_labels(accepted, trained, POLICY)
    assert signal.data["categories"] == new and signal.fired == bool(new)


@pytest.mark.parametrize(
    ("baseline", "current", "holdout", "fired", "value"),
    [
        pytest.param(0.80, 0.70, 50, True, 0.1, id="dropped-0.10"),
        pytest.param(0.80, 0.78, 50, False, 0.02, id="dropped-0.02"),
        pytest.param(0.80, 0.85, 50, False, -0.05, id="improved"),
        pytest.param(0.80, 0.40, 5, False, None, id="holdout-too-small"),
        pytest.param(None, 0.40, 50, False, None, id="no-promoted-model"),
    ],
)
def test_holdout_f1_decline_compares_with_the_f1_at_promotion(
    baseline: float | None, current: float | None, holdout: int, fired: bool, value: float | None
) -> None:
    signal = policy.holdout_f1_decline(baseline, current, holdout, POLICY)
    assert (signal.fired, signal.value) == (fired, value)


@pytest.mark.parametrize(
    ("clusters", "source", "fired", "value"),
    [
        pytest.param({"inc-1": [0.3, 0.4, 0.2, 0.9, 0.45]}, "incident", True, 0.8, id="4-of-5-unsure"),
        pytest.param({"inc-1": [0.9, 0.8, 0.2, 0.9, 0.95]}, "incident", False, 0.2, id="1-of-5-unsure"),
        pytest.param({"inc-1": [0.1, 0.1, 0.1]}, "incident", False, None, id="cluster-too-small"),
        pytest.param({"g": [None, None, 0.9, 0.9, 0.9, 0.1]}, "near-duplicate group", True, 0.5, id="null-unsure"),
        pytest.param({}, None, False, None, id="no-cluster-tables"),
    ],
)
def test_low_confidence_cluster_is_the_worst_clusters_unsure_share(
    clusters: dict[str, list[float | None]], source: str | None, fired: bool, value: float | None
) -> None:
    signal = policy.low_confidence_cluster(clusters, source, POLICY)
    assert (signal.fired, signal.value) == (fired, value)


FIRED = policy.Signal("label_drift", 0.001, 0.05, True)
QUIET = policy.Signal("class_imbalance", 3.0, 25.0, False)


@pytest.mark.parametrize(
    ("signals", "last_candidate", "should_retrain", "suppressed"),
    [
        pytest.param([FIRED, QUIET], None, True, False, id="one-signal-fires"),
        pytest.param([QUIET], None, False, False, id="nothing-fires"),
        pytest.param([FIRED], NOW - timedelta(hours=2), False, True, id="within-cooldown"),
        pytest.param([FIRED], NOW - timedelta(hours=30), True, False, id="after-cooldown"),
        pytest.param([QUIET], NOW - timedelta(hours=2), False, False, id="quiet-within-cooldown"),
    ],
)
def test_a_candidate_needs_a_fired_signal_outside_the_cooldown(
    signals: list[policy.Signal], last_candidate: datetime | None, should_retrain: bool, suppressed: bool
) -> None:
    decision = policy.decide(signals, POLICY, NOW, last_candidate)
    assert decision.should_retrain == should_retrain
    assert (decision.suppressed_by is not None) == suppressed
    assert decision.reasons == [s for s in signals if s.fired]
