"""``feedbackloop eval``: accuracy, macro-F1, per-class scores and a confusion matrix against gold labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class EvalReport:
    n: int
    accuracy: float
    macro_f1: float
    labels: list[str]
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]  # rows: gold, columns: predicted (labels order, then "(other)")
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "skipped": self.skipped,
            "per_class": self.per_class,
            "labels": self.labels,
            "confusion": self.confusion,
        }


def scores(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> EvalReport:
    """Macro-F1 averages over the gold label set; predictions outside it count as misses."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    labels = list(labels) if labels is not None else sorted(set(gold))
    index = {label: i for i, label in enumerate(labels)}
    other = len(labels)
    confusion = [[0] * (len(labels) + 1) for _ in labels]
    skipped = 0
    for g, p in zip(gold, predicted, strict=True):
        if g not in index:
            skipped += 1
            continue
        confusion[index[g]][index.get(p, other)] += 1
    n = sum(map(sum, confusion))
    per_class = {}
    for label, i in index.items():
        tp = confusion[i][i]
        predicted_i = sum(row[i] for row in confusion)
        support = sum(confusion[i])
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    correct = sum(confusion[i][i] for i in range(len(labels)))
    macro = sum(c["f1"] for c in per_class.values()) / len(per_class) if per_class else 0.0
    return EvalReport(n, correct / n if n else 0.0, macro, labels, per_class, confusion, skipped)


def load_mapping(path: Path | None) -> dict[str, str]:
    """YAML ``gold label: taxonomy category``; unmapped gold labels are compared as they are."""
    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of gold label -> category")
    return {str(k): str(v) for k, v in data.items()}


def evaluate_file(
    path: Path, gold_column: str, predicted_column: str = "category", mapping_path: Path | None = None
) -> EvalReport:
    from feedbackloop.label.files import read_records

    records = read_records(path)
    if not records:
        raise ValueError(f"{path}: no rows")
    for column in (gold_column, predicted_column):
        if column not in records[0]:
            raise ValueError(f"{path}: no column {column!r}; columns are {sorted(records[0])}")
    mapping = load_mapping(mapping_path)
    gold, predicted, missing = [], [], 0
    for record in records:
        g, p = record.get(gold_column), record.get(predicted_column)
        if g in (None, ""):
            missing += 1
            continue
        gold.append(mapping.get(str(g), str(g)))
        predicted.append("" if p is None else str(p))
    report = scores(gold, predicted)
    report.skipped += missing
    if missing:
        report.notes.append(f"{missing} rows without a gold label were skipped")
    return report
