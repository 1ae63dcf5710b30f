"""The cascade: rule tier -> local classifier -> LLM (cache first) -> human review.

Every item ends as exactly one label row (accepted or needs_review) or stays queued because the
LLM endpoint was unavailable; the run's stats say how many took each path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from feedbackloop.label.cache import LabelCache
from feedbackloop.label.client import LLMLabeler, LLMResult, run_async
from feedbackloop.label.decision import decision_model
from feedbackloop.label.examples import ExampleBank
from feedbackloop.label.features import vader_scores
from feedbackloop.label.local_tier import LocalPrediction, LocalTier
from feedbackloop.label.taxonomy import Taxonomy
from feedbackloop.settings import Settings

_WORD = re.compile(r"\w", re.UNICODE)
Sink = Callable[[list[dict[str, Any]]], None]


@dataclass
class LabelInput:
    key: str  # doc_id, or the row number of a file
    text: str | None
    input_hash: str = ""
    language: str | None = None
    rating: float | None = None
    metadata: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.input_hash:
            self.input_hash = hashlib.md5((self.text or "").encode()).hexdigest()


@dataclass
class CascadeStats:
    items: int = 0
    rule: int = 0
    local: int = 0
    local_escalated: int = 0  # head predictions made by a tuned encoder because the frozen head was unsure
    llm: int = 0
    llm_cache_hits: int = 0
    accepted: int = 0
    review: int = 0
    queued: int = 0
    truncated: int = 0
    llm_calls: int = 0
    llm_calls_saved: int = 0
    llm_retries: int = 0
    llm_repairs: int = 0
    llm_max_in_flight: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    review_reasons: dict[str, int] = field(default_factory=dict)
    llm_errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cost_usd"] = round(self.cost_usd, 6)
        return out


@dataclass
class Audit:
    taxonomy_version: str
    prompt_version: str
    llm_model_id: str
    endpoint_kind: str
    temperature: float
    run_id: str
    code_version: str


class Cascade:
    def __init__(
        self,
        settings: Settings,
        taxonomy: Taxonomy,
        local: LocalTier,
        audit: Audit,
        llm: LLMLabeler | None = None,
        cache: LabelCache | None = None,
        examples: ExampleBank | None = None,
    ) -> None:
        self.settings = settings
        self.taxonomy = taxonomy
        self.local = local
        self.audit = audit
        self.llm = llm
        self.cache = cache
        self.examples = examples if examples is not None and len(examples) else None
        self.stats = CascadeStats()

    # -- rows ---------------------------------------------------------------------------------------
    def _row(self, item: LabelInput, tier: str, **values: Any) -> dict[str, Any]:
        row: dict[str, Any] = {
            "doc_id": item.key,
            "input_hash": item.input_hash,
            "tier": tier,
            "taxonomy_version": self.audit.taxonomy_version,
            "label_run_id": self.audit.run_id,
            "code_version": self.audit.code_version,
            "labeled_at": datetime.now(UTC),
            "evidence": [],
            "unverified_evidence": [],
            "flags": [],
            "is_cache_hit": False,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "latency_ms": 0,
        }
        row.update(values)
        row["label_id"] = hashlib.sha256(
            "\0".join(
                str(row.get(k))
                for k in ("doc_id", "input_hash", "tier", "taxonomy_version", "prompt_version", "model_id")
            ).encode()
        ).hexdigest()[:32]
        status = row.get("status", "accepted")
        self.stats.accepted += status == "accepted"
        if status == "needs_review":
            self.stats.review += 1
            reason = row["review_reason"]
            self.stats.review_reasons[reason] = self.stats.review_reasons.get(reason, 0) + 1
        return row

    def _local_row(
        self, item: LabelInput, pred: LocalPrediction, i: int, flags: list[str], **values: Any
    ) -> dict[str, Any]:
        category = pred.category[i]
        return self._row(
            item,
            "local",
            category=category,
            severity=None,
            sentiment_label=pred.sentiment[i],
            sentiment_score=float(pred.sentiment_score[i]),
            recommended_action=self.taxonomy.default_action(category),
            confidence=float(pred.category_confidence[i]),
            local_category=category,
            local_confidence=float(pred.category_confidence[i]),
            model_id=self.local.model_id,
            endpoint_kind="in_process",
            flags=flags,
            **values,
        )

    def _llm_row(
        self, item: LabelInput, result: LLMResult, pred: LocalPrediction, i: int, flags: list[str], cache_hit: bool
    ) -> dict[str, Any]:
        audit = {
            "model_id": self.audit.llm_model_id,
            "prompt_version": self.audit.prompt_version,
            "endpoint_kind": self.audit.endpoint_kind,
            "temperature": self.audit.temperature,
            "local_category": pred.category[i],
            "local_confidence": float(pred.category_confidence[i]),
            "is_cache_hit": cache_hit,
            "latency_ms": 0 if cache_hit else result.latency_ms,
            "prompt_tokens": 0 if cache_hit else result.prompt_tokens,
            "completion_tokens": 0 if cache_hit else result.completion_tokens,
            "cost_usd": 0.0 if cache_hit else result.cost_usd,
            "error": result.error,
        }
        if result.status != "ok" or result.decision is None:
            # Keep the local proposal so a reviewer starts from something; confidence 0 marks it unusable.
            return self._row(
                item,
                "llm",
                status="needs_review",
                review_reason="invalid_output",
                category=pred.category[i],
                sentiment_label=pred.sentiment[i],
                sentiment_score=float(pred.sentiment_score[i]),
                recommended_action=self.taxonomy.default_action(pred.category[i]),
                confidence=0.0,
                flags=[*flags, "invalid_output"],
                **audit,
            )
        decision = result.decision
        settings = self.settings
        reason = None
        if pred.category[i] != decision.category and pred.category_confidence[i] >= settings.label_conflict_threshold:
            reason = "conflict"
        elif decision.confidence < settings.label_llm_accept_threshold:
            reason = "low_confidence"
        elif decision.severity in settings.label_review_severities:
            reason = "high_impact"
        return self._row(
            item,
            "llm",
            status="needs_review" if reason else "accepted",
            review_reason=reason,
            **decision.model_dump(exclude={"evidence"}),
            evidence=decision.evidence,
            unverified_evidence=result.unverified_evidence,
            flags=[*flags, *result.flags],
            **audit,
        )

    # -- the run ------------------------------------------------------------------------------------
    def run(self, items: Sequence[LabelInput], vectors: np.ndarray, sink: Sink) -> CascadeStats:
        """Label ``items`` (``vectors`` are their embeddings, row for row); rows go to ``sink`` in batches."""
        settings, stats = self.settings, self.stats
        stats.items += len(items)
        texts, flags = [], []
        for item in items:
            text, item_flags = item.text or "", []
            if len(text) > settings.label_max_input_chars:
                text = text[: settings.label_max_input_chars]
                item_flags.append("truncated")
                stats.truncated += 1
            texts.append(text)
            flags.append(item_flags)
        pred = self.local.predict(vectors, texts, [item.rating for item in items])
        stats.local_escalated += pred.escalated
        route = pred.route_confidence(settings.label_local_route_on) if items else np.zeros(0)
        rows: list[dict[str, Any]] = []
        to_llm: list[int] = []
        for i, item in enumerate(items):
            if not _WORD.search(texts[i]):
                rows.append(self._rule_row(item, texts[i], flags[i]))
                continue
            language_ok = item.language in (None, "", *settings.label_local_languages)
            if not language_ok:
                flags[i].append("non_local_language")
            if language_ok and route[i] >= settings.label_local_accept_threshold:
                stats.local += 1
                rows.append(self._local_row(item, pred, i, flags[i], status="accepted"))
            elif self.llm is None:
                stats.local += 1
                rows.append(
                    self._local_row(item, pred, i, flags[i], status="needs_review", review_reason="low_confidence")
                )
            else:
                to_llm.append(i)
        stats.llm_calls_saved += len(items) - len(to_llm)
        if rows:
            sink(rows)
        if to_llm and self.llm is not None:
            self._run_llm(items, texts, to_llm, pred, flags, sink, vectors)
        return stats

    def _rule_row(self, item: LabelInput, text: str, flags: list[str]) -> dict[str, Any]:
        self.stats.rule += 1
        compound = float(vader_scores([text])[0, 3]) if text.strip() else 0.0
        sentiment = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        fallback = self.taxonomy.fallback_category
        return self._row(
            item,
            "rule",
            status="accepted",
            category=fallback,
            sentiment_label=sentiment,
            sentiment_score=compound,
            recommended_action=self.taxonomy.default_action(fallback),
            confidence=1.0,
            summary="no words to label" if text.strip() else "empty feedback",
            model_id="rule:no_words",
            endpoint_kind="rule",
            flags=[*flags, "no_words" if text.strip() else "empty_text"],
        )

    def _run_llm(
        self,
        items: Sequence[LabelInput],
        texts: list[str],
        to_llm: list[int],
        pred: LocalPrediction,
        flags: list[list[str]],
        sink: Sink,
        vectors: np.ndarray,
    ) -> None:
        assert self.llm is not None
        stats = self.stats
        model = decision_model(self.taxonomy.names)
        cached = self.cache.lookup([items[i].input_hash for i in to_llm], model) if self.cache else {}
        rows, pending = [], []
        for i in to_llm:
            hit = cached.get(items[i].input_hash)
            if hit is not None:
                stats.llm += 1
                stats.llm_cache_hits += 1
                stats.llm_calls_saved += 1
                rows.append(self._llm_row(items[i], hit, pred, i, flags[i], cache_hit=True))
            else:
                pending.append(i)
        if rows:
            sink(rows)
        buffer: list[dict[str, Any]] = []
        fresh: dict[str, LLMResult] = {}

        def flush() -> None:
            if buffer:
                sink(list(buffer))
                buffer.clear()
            if self.cache is not None and fresh:
                self.cache.store(dict(fresh))
                fresh.clear()

        def on_result(position: int, result: LLMResult) -> None:
            i = pending[position]
            if result.status == "unavailable":
                stats.queued += 1
                return
            stats.llm += 1
            fresh[items[i].input_hash] = result
            buffer.append(self._llm_row(items[i], result, pred, i, flags[i], cache_hit=False))
            if len(buffer) >= self.settings.label_batch_size:
                flush()

        llm = self.llm
        work = [(texts[i], items[i].metadata) for i in pending]
        shown = None
        if self.examples is not None and pending:
            shown = self.examples.nearest(
                vectors[pending], self.settings.label_llm_examples, [texts[i] for i in pending]
            )
            for i in pending:  # the label says which example set its prompt showed
                flags[i].append(self.examples.version)

        if work:
            run_async(lambda: llm.label_many(work, on_result, shown))
        flush()
        s = llm.stats
        stats.llm_calls, stats.llm_retries, stats.llm_repairs = s.calls, s.retries, s.repairs
        stats.llm_max_in_flight = s.max_in_flight
        stats.prompt_tokens, stats.completion_tokens = s.prompt_tokens, s.completion_tokens
        stats.cost_usd, stats.unpriced_calls, stats.llm_errors = s.cost_usd, s.unpriced_calls, dict(s.http_errors)
