"""The retraining policy: signals with their numbers, and whether they add up to a retrain candidate.

Pure functions over already-gathered figures, so every decision can be replayed from its row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from feedbackloop.drift.config import PolicyConfig
from feedbackloop.drift.report import DriftResult

SIGNALS = ("label_drift", "class_imbalance", "new_labels", "holdout_f1_decline", "low_confidence_cluster")


@dataclass
class Signal:
    signal: str
    value: float | None  # None: not evaluated (see detail)
    threshold: float | None
    fired: bool
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Decision:
    should_retrain: bool
    signals: list[Signal]
    suppressed_by: str | None = None

    @property
    def reasons(self) -> list[Signal]:
        return [s for s in self.signals if s.fired]


def label_drift(result: DriftResult | None, policy: PolicyConfig, column: str = "category") -> Signal:
    if not policy.label_drift:
        return Signal("label_drift", None, None, False, "disabled in config")
    drift = result.column(column) if result else None
    if drift is None:
        return Signal("label_drift", None, None, False, "no drift report for this window")
    return Signal(
        "label_drift", drift.score, drift.threshold, drift.drifted, f"{column}: {drift.method}", {"column": column}
    )


def class_imbalance(counts: Mapping[str, int], policy: PolicyConfig) -> Signal:
    """Largest over smallest category count, among categories with at least min_class_count labels."""
    counted = {k: v for k, v in counts.items() if v >= policy.min_class_count}
    if len(counted) < 2:
        return Signal(
            "class_imbalance", None, policy.max_imbalance_ratio, False, "fewer than 2 categories with enough labels"
        )
    largest = max(counted, key=lambda k: counted[k])
    smallest = min(counted, key=lambda k: counted[k])
    ratio = counted[largest] / counted[smallest]
    return Signal(
        "class_imbalance",
        round(ratio, 4),
        policy.max_imbalance_ratio,
        ratio >= policy.max_imbalance_ratio,
        f"{largest}: {counted[largest]} vs {smallest}: {counted[smallest]}",
        {"largest": largest, "smallest": smallest},
    )


def new_labels(accepted_counts: Mapping[str, int], trained: Mapping[str, int] | None, policy: PolicyConfig) -> Signal:
    """Categories with accepted labels now that the classifier never trained on (zero-shot: none trained)."""
    if not policy.new_labels:
        return Signal("new_labels", None, None, False, "disabled in config")
    trained = trained or {}
    new = sorted(k for k, v in accepted_counts.items() if v >= policy.min_class_count and not trained.get(k))
    detail = ", ".join(new) if new else "none"
    if not trained:
        detail += " (the classifier has never been trained on accepted labels)"
    return Signal("new_labels", float(len(new)), 1.0, bool(new), detail, {"categories": new})


def holdout_f1_decline(
    baseline_f1: float | None, current_f1: float | None, holdout_labels: int, policy: PolicyConfig
) -> Signal:
    if baseline_f1 is None:
        return Signal("holdout_f1_decline", None, policy.max_f1_decline, False, "no promoted model with a holdout F1")
    if current_f1 is None or holdout_labels < policy.min_holdout_labels:
        detail = f"{holdout_labels} holdout labels, fewer than {policy.min_holdout_labels}"
        return Signal("holdout_f1_decline", None, policy.max_f1_decline, False, detail)
    decline = baseline_f1 - current_f1
    return Signal(
        "holdout_f1_decline",
        round(decline, 4),
        policy.max_f1_decline,
        decline > policy.max_f1_decline,
        f"macro-F1 {current_f1:.3f} now vs {baseline_f1:.3f} at promotion on {holdout_labels} holdout labels",
        {"baseline_f1": baseline_f1, "current_f1": current_f1, "holdout_labels": holdout_labels},
    )


def low_confidence_cluster(
    clusters: Mapping[str, Sequence[float | None]], source: str | None, policy: PolicyConfig
) -> Signal:
    """The worst cluster's share of low-confidence labels, among clusters of at least min_cluster_size."""
    if source is None:
        return Signal("low_confidence_cluster", None, policy.low_confidence_share, False, "no clusters to read")
    worst, worst_share, worst_size = None, 0.0, 0
    for cluster_id, confidences in clusters.items():
        if len(confidences) < policy.min_cluster_size:
            continue
        low = sum(1 for c in confidences if c is None or c < policy.low_confidence)
        share = low / len(confidences)
        if worst is None or share > worst_share:
            worst, worst_share, worst_size = cluster_id, share, len(confidences)
    if worst is None:
        return Signal(
            "low_confidence_cluster",
            None,
            policy.low_confidence_share,
            False,
            f"no {source} cluster of {policy.min_cluster_size}+ labelled docs",
        )
    return Signal(
        "low_confidence_cluster",
        round(worst_share, 4),
        policy.low_confidence_share,
        worst_share >= policy.low_confidence_share,
        f"{source} {worst}: {worst_share:.0%} of {worst_size} labels below confidence {policy.low_confidence}",
        {"cluster_id": worst, "source": source, "size": worst_size},
    )


def decide(
    signals: list[Signal], policy: PolicyConfig, now: datetime, last_candidate_at: datetime | None = None
) -> Decision:
    """A candidate when any signal fires, unless the last candidate is younger than the cooldown."""
    fired = any(s.fired for s in signals)
    if fired and last_candidate_at is not None:
        until = last_candidate_at + timedelta(hours=policy.cooldown_hours)
        if now < until:
            return Decision(False, signals, f"cooldown: last candidate at {last_candidate_at.isoformat()}")
    return Decision(fired, signals)
