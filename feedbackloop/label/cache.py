"""The LLM label cache: a Delta table keyed by (input hash, prompt version, taxonomy version, model)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from feedbackloop.label.client import LLMResult
from feedbackloop.label.decision import LabelDecision
from feedbackloop.label.tables import LLM_LABEL_CACHE
from feedbackloop.lake import Lake

TABLE = ("silver", "llm_label_cache")


def cache_key(input_hash: str, prompt_version: str, taxonomy_version: str, model_id: str) -> str:
    return hashlib.sha256("\0".join((input_hash, prompt_version, taxonomy_version, model_id)).encode()).hexdigest()[:32]


class LabelCache:
    def __init__(self, lake: Lake, prompt_version: str, taxonomy_version: str, model_id: str) -> None:
        self.lake = lake
        self.prompt_version = prompt_version
        self.taxonomy_version = taxonomy_version
        self.model_id = model_id

    def key(self, input_hash: str) -> str:
        return cache_key(input_hash, self.prompt_version, self.taxonomy_version, self.model_id)

    def lookup(self, input_hashes: list[str], model: type[LabelDecision]) -> dict[str, LLMResult]:
        """Cached results by input hash; only answers that completed (valid or invalid) are cached."""
        if not input_hashes or not self.lake.exists(*TABLE):
            return {}
        keys = {self.key(h): h for h in set(input_hashes)}
        table = self.lake.read(*TABLE, filter_=pc.field("cache_key").isin(list(keys)))
        found: dict[str, LLMResult] = {}
        for row in table.to_pylist():
            decision = model.model_validate_json(row["decision_json"]) if row["decision_json"] else None
            found[keys[row["cache_key"]]] = LLMResult(
                status=row["status"],
                decision=decision,
                flags=list(row["flags"] or []),
                unverified_evidence=list(row["unverified_evidence"] or []),
                error=row["error"],
                raw=row["raw_reply"],
                latency_ms=row["latency_ms"] or 0,
                prompt_tokens=row["prompt_tokens"] or 0,
                completion_tokens=row["completion_tokens"] or 0,
                cost_usd=row["cost_usd"],
            )
        return found

    def store(self, results: dict[str, LLMResult]) -> int:
        rows = []
        now = datetime.now(UTC)
        for input_hash, result in results.items():
            if result.status == "unavailable":
                continue  # not an answer: the item must be tried again
            rows.append(
                {
                    "cache_key": self.key(input_hash),
                    "input_hash": input_hash,
                    "prompt_version": self.prompt_version,
                    "taxonomy_version": self.taxonomy_version,
                    "model_id": self.model_id,
                    "status": result.status,
                    "decision_json": result.decision.model_dump_json() if result.decision else None,
                    "flags": result.flags,
                    "unverified_evidence": result.unverified_evidence,
                    "error": result.error,
                    "raw_reply": (result.raw or "")[:20_000] or None,
                    "latency_ms": result.latency_ms,
                    "prompt_tokens": result.prompt_tokens,
                    "completion_tokens": result.completion_tokens,
                    "cost_usd": result.cost_usd,
                    "cached_at": now,
                }
            )
        if rows:
            self.lake.append(*TABLE, pa.Table.from_pylist(rows, schema=LLM_LABEL_CACHE))
        return len(rows)
