"""Right to erasure on a 1M-record lake, index included, against naive deletes in the same run.

    .venv/bin/python bench/bench_erasure.py --records 1000000 --index-docs 100000

The lake is written directly with the project's table schemas (bronze feedback with raw payloads,
silver, enrichment, redaction, gold, labels, 384-d embeddings, telemetry, the vault), in 50k-row
files as ingest writes them. One person (user id + email) has 8 feedback records spread over the
lake, one of which quotes their email, and 8 telemetry events. The search index is a real
Elasticsearch-compatible server (noida-db) holding ``--index-docs`` docs (it scans linearly, so
it is kept smaller than 1M).

Measured: ``forget`` end to end (resolve, journal, every table + purge of old versions,
the index, audit). Baselines on copies of bronze.feedback: deltalake's own ``DELETE`` + vacuum,
and a naive full rewrite (read everything, filter, overwrite).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedbackloop.bronze.tables import FEEDBACK, TELEMETRY_EVENTS  # noqa: E402
from feedbackloop.governance import registry  # noqa: E402
from feedbackloop.governance.erasure import Subject, forget, resolve  # noqa: E402
from feedbackloop.governance.indexes import elasticsearch_deleter  # noqa: E402
from feedbackloop.governance.vault import VAULT, Vault  # noqa: E402
from feedbackloop.lake import Lake  # noqa: E402
from feedbackloop.settings import Settings  # noqa: E402
from feedbackloop.silver.enrich import ENRICHMENT  # noqa: E402
from feedbackloop.silver.pii.engine import value_hash  # noqa: E402
from feedbackloop.silver.redact import REDACTED  # noqa: E402

BATCH = 50_000
TS = pa.timestamp("us", tz="UTC")
PERSON_USERS = 125_000  # 8 records per user id on 1M
TARGET_USER = "u-4242"
TARGET_EMAIL = "jane.roe@example.org"
WORDS = [
    "checkout", "fails", "again", "after", "the", "update", "and", "support", "never", "answered", "my", "refund",
    "request", "for", "order", "search", "is", "slow", "login", "loops", "app", "crashes", "on", "start", "payment",
    "declined", "twice", "please", "fix",
]  # fmt: skip


def doc_id(i: int) -> str:
    # Real doc_ids are hashes: min/max file statistics cannot narrow a delete down to a few files.
    return hashlib.sha256(str(i).encode()).hexdigest()[:32]


def texts(rng: np.random.Generator, n: int) -> list[str]:
    picks = rng.integers(0, len(WORDS), size=(n, 40))
    return [" ".join(WORDS[j] for j in row) for row in picks]


def build(lake: Lake, settings: Settings, records: int, dim: int) -> None:
    rng = np.random.default_rng(7)
    now = datetime.now(UTC)
    vault = Vault(settings)
    for start in range(0, records, BATCH):
        n = min(BATCH, records - start)
        ids = [doc_id(i) for i in range(start, start + n)]
        users = [f"u-{i % PERSON_USERS}" for i in range(start, start + n)]
        body = texts(rng, n)
        if start <= 4242 < start + n:
            body[4242 - start] += f" reach me at {TARGET_EMAIL}"
        when = [now - timedelta(minutes=int(m)) for m in rng.integers(0, 60 * 24 * 365, n)]

        def col(value: object, n: int = n) -> list:
            return [value] * n

        bronze = {f.name: pa.nulls(n, f.type) for f in FEEDBACK}
        bronze.update(
            doc_id=pa.array(ids), source_system=pa.array(col("zendesk")), source_record_id=pa.array(ids),
            text_hash=pa.array(ids), event_at=pa.array(when, TS), ingested_at=pa.array(col(now), TS),
            user_id=pa.array(users), channel=pa.array(col("support_ticket")), platform=pa.array(col("web")),
            customer_text=pa.array(body),
            raw_payload=pa.array([f'{{"id": "{d}", "body": "{b}"}}' for d, b in zip(ids, body, strict=True)]),
            source_file=pa.array(col(f"inbox/zendesk/export-{start // BATCH}.json")),
            source_offset=pa.array(range(n), pa.int64()), ingest_run_id=pa.array(col("ingest-1")),
        )  # fmt: skip
        lake.append("bronze", "feedback", pa.table(bronze, schema=FEEDBACK))
        silver = pa.table({
            "doc_id": ids, "source_system": col("zendesk"), "user_id": users, "event_at": pa.array(when, TS),
            "clean_text": body, "source_file": col("f"), "source_offset": pa.array(range(n), pa.int64()),
        })  # fmt: skip
        lake.append("silver", "stg_bronze__feedback", silver)
        lake.append(
            "silver", "int_feedback__deduplicated", pa.table({"doc_id": ids, "kept_doc_id": ids, "is_kept": col(True)})
        )
        lake.append("silver", "feedback_enrichment", pa.table({
            "doc_id": ids, "text_hash": ids, "language": col("en"), "language_score": pa.array(col(0.9), pa.float32()),
            "enriched_at": pa.array(col(now), TS), "enrich_run_id": col("enrich-1"),
        }, schema=ENRICHMENT))  # fmt: skip
        lake.append("silver", "feedback_redacted", pa.table({
            "doc_id": ids, "text_hash": ids, "redacted_text": body, "redacted_agent_text": pa.nulls(n, pa.string()),
            "redacted_system_notes": pa.nulls(n, pa.string()), "pii_entity_count": pa.array(col(0), pa.int32()),
            "pii_types": pa.nulls(n, pa.string()), "redaction_version": col("pii-1"),
            "redacted_at": pa.array(col(now), TS), "redact_run_id": col("redact-1"),
        }, schema=REDACTED))  # fmt: skip
        lake.append("gold", "fct_feedback", pa.table({
            "doc_id": ids, "source_system": col("zendesk"), "user_id": users, "redacted_text": body,
            "event_at": pa.array(when, TS),
        }))  # fmt: skip
        lake.append("silver", "feedback_labels", pa.table({
            "doc_id": ids, "category": col("billing"), "prompt_version": col("p1"), "model_id": col("m1"),
            "label_run_id": col("label-1"),
        }))  # fmt: skip
        vectors = rng.random((n, dim), dtype=np.float32)
        lake.append("silver", "feedback_embeddings", pa.table({
            "doc_id": ids, "text_kind": col("text"), "embedding_version": col("minilm@1"),
            "dim": pa.array(col(dim), pa.int32()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
            "input_hash": ids, "embedded_at": pa.array(col(now), TS), "embed_run_id": col("embed-1"),
        }))  # fmt: skip
        telemetry = {f.name: pa.nulls(n, f.type) for f in TELEMETRY_EVENTS}
        telemetry.update(
            event_id=pa.array([f"e{i}" for i in range(start, start + n)]), event_at=pa.array(when, TS),
            ingested_at=pa.array(col(now), TS), user_id=pa.array(users), event_type=pa.array(col("latency")),
            raw_payload=pa.array(col("{}")), source_file=pa.array(col("t.jsonl")),
            source_offset=pa.array(range(n), pa.int64()), ingest_run_id=pa.array(col("ingest-1")),
        )  # fmt: skip
        lake.append("bronze", "telemetry_events", pa.table(telemetry, schema=TELEMETRY_EVENTS))
        every = slice(0, n, 3)  # a third of docs had PII: one vault row each
        vault.append(pa.table({
            "doc_id": ids[every], "placeholder": col("PERSON_1")[every], "entity_type": col("PERSON")[every],
            "value": col("Some Name")[every], "value_hash": col(value_hash("PERSON", "Some Name"))[every],
            "user_id": users[every], "source_system": col("zendesk")[every],
            "redacted_at": pa.array(col(now)[every], TS), "redact_run_id": col("redact-1")[every],
        }, schema=VAULT))  # fmt: skip
        print(f"  wrote {start + n:,} records", flush=True)
    target_doc = doc_id(4242)
    vault.append(pa.table({
        "doc_id": [target_doc], "placeholder": ["EMAIL_1"], "entity_type": ["EMAIL_ADDRESS"], "value": [TARGET_EMAIL],
        "value_hash": [value_hash("EMAIL_ADDRESS", TARGET_EMAIL)], "user_id": [TARGET_USER],
        "source_system": ["zendesk"], "redacted_at": pa.array([now], TS), "redact_run_id": ["redact-1"],
    }, schema=VAULT))  # fmt: skip


def start_index(work: Path, docs: int, person_docs: list[str]):  # type: ignore[no-untyped-def]
    from elasticsearch import Elasticsearch, helpers

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = shutil.which("noida-db") or str(Path(sys.executable).parent / "noida-db")
    command = [
        binary,
        "start",
        "--only",
        "elasticsearch",
        "--elasticsearch-port",
        str(port),
        "--data-dir",
        str(work / "noida"),
    ]
    # Its own session: the launcher starts the server as a child, and both must stop at the end.
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    client = Elasticsearch(f"http://127.0.0.1:{port}", request_timeout=600)
    for _ in range(200):
        try:
            if client.ping():
                break
        except Exception:
            pass
        time.sleep(0.3)
    client.indices.create(
        index="feedback", mappings={"properties": {"doc_id": {"type": "keyword"}, "source_system": {"type": "keyword"}}}
    )
    ids = person_docs + [doc_id(i) for i in range(docs - len(person_docs))]
    helpers.bulk(
        client,
        ({"_index": "feedback", "_id": d, "doc_id": d, "source_system": "zendesk"} for d in ids),
        chunk_size=5000,
    )
    client.indices.refresh(index="feedback")
    return proc, client


def copy_bronze(work: Path, lake: Lake) -> None:
    """Copies of bronze.feedback taken before the erasure, for the baselines to delete from."""
    source = Path(lake.uri("bronze", "feedback"))
    for target in (work / "baseline_native", work / "baseline_naive"):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


def baseline(work: Path, doc_ids: list[str]) -> tuple[float, float, int]:
    from deltalake import DeltaTable, write_deltalake

    native, naive = work / "baseline_native", work / "baseline_naive"
    listed = ", ".join(f"'{d}'" for d in doc_ids)
    start = time.perf_counter()
    dt = DeltaTable(str(native))
    deleted = int(dt.delete(f"doc_id IN ({listed})")["num_deleted_rows"])
    dt.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
    native_s = time.perf_counter() - start
    start = time.perf_counter()
    import pyarrow.compute as pc

    table = DeltaTable(str(naive)).to_pyarrow_table()
    kept = table.filter(pc.invert(pc.is_in(table.column("doc_id"), value_set=pa.array(doc_ids))))
    write_deltalake(str(naive), kept, mode="overwrite")
    DeltaTable(str(naive)).vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
    naive_s = time.perf_counter() - start
    return native_s, naive_s, deleted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--index-docs", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "erasure")
    args = parser.parse_args()
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    settings = Settings(lake_uri=str(work / "lake"), warehouse_path=work / "lake" / "warehouse.duckdb")
    lake = Lake(settings)
    start = time.perf_counter()
    build(lake, settings, args.records, args.dim)
    print(f"built {args.records:,} records in {time.perf_counter() - start:.0f}s")
    size = sum(p.stat().st_size for p in (work / "lake").rglob("*") if p.is_file())
    print(f"lake on disk: {size / 1e9:.2f} GB")
    person_docs = [doc_id(i) for i in range(int(TARGET_USER[2:]), args.records, PERSON_USERS)]
    proc, client = start_index(work, args.index_docs, person_docs)
    registry.register_index("elasticsearch", elasticsearch_deleter(client, "feedback"))
    try:
        steps: list[tuple[str, float, int]] = []
        last = [time.perf_counter()]

        def tick(step: str, rows: int) -> None:
            now = time.perf_counter()
            steps.append((step, now - last[0], rows))
            last[0] = now

        copy_bronze(work, lake)
        subject = Subject(user_id=TARGET_USER, email=TARGET_EMAIL)
        start = time.perf_counter()
        planned = resolve(settings, subject)
        resolve_s = time.perf_counter() - start
        start = last[0] = time.perf_counter()
        result = forget(settings, subject, progress=tick)
        total = time.perf_counter() - start
        native_s, naive_s, native_rows = baseline(work, person_docs)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    print(f"\n== forget(email) on {args.records:,} records, index of {args.index_docs:,} docs ==")
    print(f"status {result.status}: {result.docs_erased} docs, {result.events_erased} events, "
          f"{result.files_purged} old data files purged")  # fmt: skip
    print(f"total {total:.1f}s (target < 60 s); of which resolving the person ~{resolve_s:.1f}s "
          f"({len(planned.doc_ids)} docs, {len(planned.event_ids)} events; timed separately)")  # fmt: skip
    print("per step (the first includes resolve + journal):")
    for step, seconds, rows in steps:
        print(f"  {step:<40} {rows:>6} rows {seconds:6.2f}s")
    print("\n== baselines: bronze.feedback alone, same person's docs ==")
    print(f"deltalake DELETE + vacuum:         {native_s:6.1f}s ({native_rows} rows; leaves string_view files, "
          "old log entries and their statistics)")  # fmt: skip
    print(f"naive full rewrite + vacuum:       {naive_s:6.1f}s")
    bronze_s = next((s for name, s, _ in steps if name == "bronze.feedback"), float("nan"))
    print(f"this erasure's bronze.feedback step (delete + purge of history): {bronze_s:.1f}s")


if __name__ == "__main__":
    main()
