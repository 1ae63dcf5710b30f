"""Recall and precision of the redactor per PII type on a labelled set, plus its false positives.

A planted value counts as found when findings of its type cover all of it (a partly redacted card
number still leaks). A finding counts as correct when it overlaps a planted value of its type; any
other finding is a false positive, listed so a reviewer can see what was redacted needlessly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from feedbackloop.silver.pii.engine import Finding, Redactor
from feedbackloop.silver.pii.testset import LabeledText

TARGETS = {"EMAIL_ADDRESS": 0.95, "PHONE_NUMBER": 0.95, "CREDIT_CARD": 0.95, "IBAN_CODE": 0.95, "PERSON": 0.85}


@dataclass
class TypeScore:
    planted: int = 0
    found: int = 0
    detected: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.detected if self.detected else 1.0


@dataclass
class Evaluation:
    per_type: dict[str, TypeScore] = field(default_factory=dict)
    per_tag_recall: dict[str, tuple[int, int]] = field(default_factory=dict)  # tag -> (found, planted)
    false_positives: list[tuple[str, str, str]] = field(default_factory=list)  # (type, value, context)
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    texts: int = 0
    texts_without_pii: int = 0
    false_positive_texts: int = 0  # texts with no planted PII that got any placeholder

    def as_dict(self) -> dict[str, Any]:
        return {
            "per_type": {
                t: {"planted": s.planted, "recall": round(s.recall, 4), "precision": round(s.precision, 4)}
                for t, s in sorted(self.per_type.items())
            },
            "per_tag_recall": {t: round(f / p, 4) for t, (f, p) in sorted(self.per_tag_recall.items()) if p},
            "false_positives": len(self.false_positives),
            "false_positive_texts": f"{self.false_positive_texts}/{self.texts_without_pii}",
        }

    def failed_targets(self) -> dict[str, float]:
        return {t: s.recall for t, s in self.per_type.items() if t in TARGETS and s.recall < TARGETS[t]}


def _covered(span_start: int, span_end: int, findings: Sequence[Finding], entity_type: str) -> bool:
    positions = set(range(span_start, span_end))
    for f in findings:
        if f.entity_type == entity_type:
            positions -= set(range(f.start, f.end))
    return not positions


def evaluate(redactor: Redactor, items: Sequence[LabeledText]) -> Evaluation:
    findings = redactor.detect(
        [[item.text] for item in items], [item.country for item in items], None, [item.language for item in items]
    )
    result = Evaluation(texts=len(items))
    for item, doc in zip(items, findings, strict=True):
        found = doc[0]
        if not item.spans:
            result.texts_without_pii += 1
            result.false_positive_texts += bool(found)
        for span in item.spans:
            score = result.per_type.setdefault(span.entity_type, TypeScore())
            score.planted += 1
            # Whitespace between the parts of a split value need not be covered.
            hit = _covered(span.start, span.end, found, span.entity_type) or _covered_ignoring_space(
                item.text, span.start, span.end, found, span.entity_type
            )
            score.found += hit
            for tag in item.tags:
                tag_found, tag_planted = result.per_tag_recall.get(tag, (0, 0))
                result.per_tag_recall[tag] = (tag_found + hit, tag_planted + 1)
            if not hit:
                result.misses.append((span.entity_type, item.text[span.start : span.end], _context(item.text, span)))
        for f in found:
            score = result.per_type.setdefault(f.entity_type, TypeScore())
            score.detected += 1
            if any(s.entity_type == f.entity_type and f.start < s.end and s.start < f.end for s in item.spans):
                score.correct += 1
            else:
                result.false_positives.append((f.entity_type, item.text[f.start : f.end], _context(item.text, f)))
    return result


def _covered_ignoring_space(text: str, start: int, end: int, findings: Sequence[Finding], entity_type: str) -> bool:
    positions = {i for i in range(start, end) if not text[i].isspace()}
    for f in findings:
        if f.entity_type == entity_type:
            positions -= set(range(f.start, f.end))
    return not positions


def _context(text: str, span: Any) -> str:
    return text[max(0, span.start - 40) : span.end + 20].replace("\n", "\\n")
