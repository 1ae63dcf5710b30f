"""CDC: changes/s captured from the PostgreSQL log into bronze, and the lag from commit to bronze.

Baseline in the same run: decoding the same WAL with no bronze at all (pg_logical_slot_get_binary_changes
on a second slot), i.e. what PostgreSQL's own decoding costs.

    .venv/bin/python -m bench.cdc_throughput --changes 20000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import psycopg2
import psycopg2.extras

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

DSN = os.environ.get("FEEDBACKLOOP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


FOLLOW = "from feedbackloop.cdc.postgres import capture; from feedbackloop.settings import Settings; " \
         "capture(Settings(), 'steady', follow=True)"  # fmt: skip


def steady_lags(settings: Settings, cur: object, table: str, rate: int, seconds: float) -> list[float]:
    """Capture follows while the source commits at a steady rate; lag = bronze write time - commit time."""
    follower = subprocess.Popen([sys.executable, "-c", FOLLOW], env=os.environ.copy())
    time.sleep(3)
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < seconds:
        if sent < rate * (time.monotonic() - start):
            cur.execute(f"insert into {table} (customer_id, subject, body, status) values ('u2', 'Steady', %s, 'new')",
                        (f"steady {sent}",))  # fmt: skip
            sent += 1
        else:
            time.sleep(0.001)
    time.sleep(3)
    follower.send_signal(signal.SIGKILL)
    follower.wait()
    changes = Lake(settings).read("bronze", "feedback_changes", columns=["changed_at", "ingested_at", "ingest_run_id"])
    rows = [r for r in changes.to_pylist() if r["ingest_run_id"] == "steady"]
    return sorted((r["ingested_at"] - r["changed_at"]).total_seconds() for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--per-txn", type=int, default=50)
    parser.add_argument("--rate", type=int, default=200, help="changes/s in the steady-state lag phase")
    parser.add_argument("--steady-seconds", type=float, default=20)
    args = parser.parse_args()
    name = f"flbench_{uuid.uuid4().hex[:8]}"
    table = f"{name}.support_tickets"
    conn = psycopg2.connect(DSN)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"create schema {name}; create table {table} (ticket_id bigserial primary key, customer_id text, "
                "subject text, body text not null, status text, product_area text, platform text, "
                "created_at timestamptz not null default now())")  # fmt: skip
    root = tempfile.mkdtemp(prefix="fl-cdc-")
    os.environ.update({"FEEDBACKLOOP_LAKE_URI": f"{root}/lake", "FEEDBACKLOOP_CDC_DSN": DSN,
                       "FEEDBACKLOOP_CDC_TABLES": json.dumps({table: "support_db"}),
                       "FEEDBACKLOOP_CDC_SLOT_NAME": name, "FEEDBACKLOOP_CDC_PUBLICATION": name,
                       "FEEDBACKLOOP_CDC_IDLE_SECONDS": "1"})  # fmt: skip
    from feedbackloop.cdc.postgres import capture

    settings = Settings()
    try:
        capture(settings, "setup")  # creates publication + slot
        cur.execute("select pg_create_logical_replication_slot(%s, 'pgoutput')", (name + "_raw",))
        # Three kinds of change, like a ticket's life: created, updated, sometimes deleted.
        start = time.perf_counter()
        inserted = 0
        while inserted < args.changes * 0.7:
            rows = [("u1", "Help", f"ticket body {inserted + i}", "open") for i in range(args.per_txn)]
            cur.execute("begin")
            psycopg2.extras.execute_values(
                cur, f"insert into {table} (customer_id, subject, body, status) values %s", rows
            )
            cur.execute("commit")
            inserted += args.per_txn
        cur.execute(f"update {table} set status = 'solved' where ticket_id %% 5 <> 0 and ticket_id <= %s",
                    (int(args.changes * 0.25),))  # fmt: skip
        cur.execute(f"delete from {table} where ticket_id % 10 = 0")
        write_seconds = time.perf_counter() - start
        cur.execute("select count(*) from pg_logical_slot_peek_binary_changes(%s, null, null, "
                    "'proto_version', '1', 'publication_names', %s)", (name + "_raw", name))  # fmt: skip
        start = time.perf_counter()
        cur.execute("select count(*) from pg_logical_slot_get_binary_changes(%s, null, null, "
                    "'proto_version', '1', 'publication_names', %s)", (name + "_raw", name))  # fmt: skip
        (messages,) = cur.fetchone()
        decode_seconds = time.perf_counter() - start
        start = time.perf_counter()
        stats = capture(settings, "bench")
        capture_seconds = time.perf_counter() - start - settings.cdc_idle_seconds
        lags = steady_lags(settings, cur, table, args.rate, args.steady_seconds)
    finally:
        cur.execute("select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name like %s",
                    (name + "%",))  # fmt: skip
        cur.execute(f"drop publication if exists {name}; drop schema {name} cascade")
    n = stats.changes_written
    print(f"cdc: {n} changes ({stats.transactions} transactions) written by the source in {write_seconds:.1f}s")
    print(f"  captured into bronze in {capture_seconds:.1f}s: {n / capture_seconds:.0f} changes/s, "
          f"{stats.bronze_commits} bronze commits, {stats.changes_duplicate} duplicates")  # fmt: skip
    print(
        f"  baseline: PostgreSQL decoding alone {messages} pgoutput messages in {decode_seconds:.2f}s "
        f"({messages / decode_seconds:.0f}/s) -> capture into bronze is "
        f"x{(messages / decode_seconds) / (n / capture_seconds):.1f} slower"
    )
    print(
        f"  steady {args.rate} changes/s for {args.steady_seconds:.0f}s with capture following: commit-to-bronze lag "
        f"p50 {percentile(lags, 0.5):.2f}s p99 {percentile(lags, 0.99):.2f}s max {lags[-1]:.2f}s ({len(lags)} changes)"
    )


if __name__ == "__main__":
    main()
