"""PII redaction: throughput against plain per-text Presidio, accuracy on the labelled set, incrementality.

    .venv/bin/python bench/bench_redaction.py --texts 20000 --baseline-texts 400

1. Throughput. The corpus is the labelled set's texts (real reviews, multilingual tickets, agent
   notes, about a third with planted PII) cycled to ``--texts``, each copy made distinct so no
   cache helps. The batch redactor (NER-only pipeline, gated sentences, nlp.pipe, regex fast paths)
   runs with 1 and 2 NER processes; the baseline is Presidio as documented, one
   ``AnalyzerEngine.analyze`` + ``AnonymizerEngine.anonymize`` per text, on a sample.
2. Accuracy. Recall and precision per type and false positives on the labelled set, for the
   redactor and for plain Presidio (same set, same run).
3. Incremental. The silver stage over a lake of ``--lake-docs`` docs, then a rerun with 1% new:
   only the new docs are redacted.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedbackloop.settings import Settings  # noqa: E402
from feedbackloop.silver.pii.engine import Finding, Redactor, plain_presidio  # noqa: E402
from feedbackloop.silver.pii.evaluate import TARGETS, evaluate  # noqa: E402
from feedbackloop.silver.pii.testset import build_testset  # noqa: E402

PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "EMAIL_ADDRESS", "PHONE_NUMBER": "PHONE_NUMBER", "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE", "IP_ADDRESS": "IP_ADDRESS", "PERSON": "PERSON",
}  # fmt: skip


def corpus(items: list, n: int) -> list[str]:
    """``n`` distinct texts: the labelled set cycled, each copy tagged with a letters-only suffix
    (a number would hand every text to the digit-driven recognizers, which real feedback does not)."""
    texts = [item.text for item in items]
    return [f"{texts[i % len(texts)]} ~{_letters(i)}" for i in range(n)]


def _letters(i: int) -> str:
    out = ""
    while True:
        i, rest = divmod(i, 26)
        out += chr(ord("a") + rest)
        if i == 0:
            return out


def time_batch(redactor: Redactor, texts: list[str], repeats: int = 3) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        redactor.redact([[t] for t in texts])
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def time_plain(analyzer, anonymizer, texts: list[str]) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for text in texts:
        results = analyzer.analyze(text=text, language="en")
        anonymizer.anonymize(text=text, analyzer_results=results)
    return time.perf_counter() - start


class PlainPresidioAsRedactor:
    """Adapts plain Presidio to ``evaluate`` (detect) so both are scored by the same code."""

    def __init__(self, analyzer) -> None:  # type: ignore[no-untyped-def]
        self.analyzer = analyzer

    def detect(self, docs, countries=None, locales=None, languages=None):  # type: ignore[no-untyped-def]
        out = []
        for fields in docs:
            per_field = []
            for text in fields:
                found = [
                    Finding(PRESIDIO_TYPES[r.entity_type], r.start, r.end)
                    for r in self.analyzer.analyze(text=text or "", language="en")
                    if r.entity_type in PRESIDIO_TYPES and r.score >= 0.5
                ]
                per_field.append(found)
            out.append(per_field)
        return out


def print_accuracy(name: str, result) -> None:  # type: ignore[no-untyped-def]
    print(f"\n== accuracy: {name} ({result.texts} texts, {result.texts_without_pii} without PII) ==")
    print(f"{'type':<14} {'planted':>7} {'recall':>7} {'precision':>9}  target")
    for entity, score in sorted(result.per_type.items()):
        target = TARGETS.get(entity)
        mark = "" if target is None else (f">= {target}  {'ok' if score.recall >= target else 'MISSED'}")
        print(f"{entity:<14} {score.planted:>7} {score.recall:>7.3f} {score.precision:>9.3f}  {mark}")
    tags = ", ".join(f"{t} {f / p:.3f}" for t, (f, p) in sorted(result.per_tag_recall.items()) if p)
    print(f"recall by placement: {tags}")
    fp_texts = f"{result.false_positive_texts}/{result.texts_without_pii}"
    print(
        f"false positives: {len(result.false_positives)} findings; texts without PII that got a placeholder: {fp_texts}"
    )


def incremental(work: Path, docs: int, items: list) -> None:
    import pyarrow as pa

    from feedbackloop.lake import Lake
    from feedbackloop.silver.redact import redact_new_feedback

    shutil.rmtree(work, ignore_errors=True)
    settings = Settings(lake_uri=str(work / "lake"), warehouse_path=work / "lake" / "w.duckdb", pii_ner_processes=2)
    lake = Lake(settings)
    texts = corpus(items, docs + docs // 100)

    def silver_rows(start: int, stop: int) -> pa.Table:
        n = stop - start
        return pa.table({
            "doc_id": [f"doc-{i}" for i in range(start, stop)], "text_hash": [f"h{i}" for i in range(start, stop)],
            "user_id": [f"u{i % 5000}" for i in range(start, stop)], "source_system": ["zendesk"] * n,
            "country": ["US"] * n, "locale": ["en-US"] * n, "clean_text": texts[start:stop],
            "clean_agent_text": [None] * n, "clean_system_notes": [None] * n,
            "event_at": pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC")),
        })  # fmt: skip

    lake.append("silver", "stg_bronze__feedback", silver_rows(0, docs))
    start = time.perf_counter()
    full = redact_new_feedback(settings, "bench-full")
    full_s = time.perf_counter() - start
    lake.append("silver", "stg_bronze__feedback", silver_rows(docs, docs + docs // 100))
    start = time.perf_counter()
    incr = redact_new_feedback(settings, "bench-incr")
    incr_s = time.perf_counter() - start
    start = time.perf_counter()
    noop = redact_new_feedback(settings, "bench-noop")
    noop_s = time.perf_counter() - start
    print(f"\n== incremental silver stage ({docs:,} docs, then +1%) ==")
    print(f"first run: {full.docs_redacted:,} docs in {full_s:.1f}s = {full.docs_redacted / full_s:,.0f} docs/s "
          f"(vault rows {full.vault_rows:,}, docs with PII {full.docs_with_pii:,})")  # fmt: skip
    print(f"rerun with 1% new: {incr.docs_redacted:,} docs redacted in {incr_s:.1f}s "
          f"({incr_s / full_s:.1%} of the first run)")  # fmt: skip
    print(f"rerun with nothing new: {noop.docs_redacted} docs redacted in {noop_s:.2f}s")
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--baseline-texts", type=int, default=400)
    parser.add_argument("--lake-docs", type=int, default=50_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "redaction")
    args = parser.parse_args()
    settings = Settings()
    items = build_testset(settings.datasets_dir)
    texts = corpus(items, args.texts)
    words = statistics.mean(len(t.split()) for t in texts)
    print(f"corpus: {len(texts):,} texts, {words:.0f} words on average; load average {os.getloadavg()[0]:.1f}")

    one = Redactor(ner_processes=1)
    two = Redactor(ner_processes=2, min_parallel_texts=1)
    time_batch(one, texts[:500], repeats=1)  # warm-up: model caches, regex compilation
    t1 = time_batch(one, texts)
    t2 = time_batch(two, texts)
    # Presidio's URL recognizer asks tldextract for the public suffix list online; offline it falls
    # back to the bundled copy after logging a traceback per URL, which would drown this report.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    analyzer, anonymizer = plain_presidio()
    sample = texts[: args.baseline_texts]
    time_plain(analyzer, anonymizer, sample[:20])  # warm-up
    tp = time_plain(analyzer, anonymizer, sample)
    plain_rate = len(sample) / tp
    print("\n== throughput (median of 3 for the batch redactor) ==")
    print(f"plain Presidio, per text, full pipeline:  {plain_rate:8,.0f} texts/s  ({len(sample)} texts, {tp:.1f}s)")
    print(f"batch redactor, 1 NER process:            {len(texts) / t1:8,.0f} texts/s  "
          f"({t1:.1f}s, {len(texts) / t1 / plain_rate:.1f}x plain)")  # fmt: skip
    print(f"batch redactor, 2 NER processes:          {len(texts) / t2:8,.0f} texts/s  "
          f"({t2:.1f}s, {len(texts) / t2 / plain_rate:.1f}x plain)")  # fmt: skip
    batch_minutes = 1e6 / (len(texts) / t2) / 60
    print(f"1M-text backfill: plain {1e6 / plain_rate / 3600:.1f} h, batch (2 processes) {batch_minutes:.0f} min")

    print_accuracy("batch redactor", evaluate(one, items))
    print_accuracy("plain Presidio (score >= 0.5)", evaluate(PlainPresidioAsRedactor(analyzer), items))  # type: ignore[arg-type]
    incremental(args.work, args.lake_docs, items)


if __name__ == "__main__":
    main()
