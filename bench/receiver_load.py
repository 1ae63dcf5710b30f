"""Receiver under load on loopback: sustained requests/s, p50/p99, and bronze count == acknowledged.

Baseline in the same run: the naive durable write, one fsynced file per event in a loop (what the
receiver would cost without group commit).

    .venv/bin/python bench/receiver_load.py --seconds 60 --connections 32
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime

from bench._receiver import bench_env, free_port, percentile, run_load, start_receiver, stop
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.stream.landing import LocalLandingZone
from feedbackloop.stream.microbatch import ingest_landed


def naive_fsync_rate(root: str, seconds: float) -> float:
    zone = LocalLandingZone(f"{root}/naive")
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        zone.write("telemetry", b'{"record": {}}\n', datetime.now(UTC))
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="fl-bench-")
    port = free_port()
    env = bench_env(root, port)
    proc = start_receiver(env, port)
    load = run_load(port, args.seconds, args.connections)
    stop(proc)  # graceful: in-flight requests finish their writes
    os.environ.update({k: v for k, v in env.items() if k.startswith("FEEDBACKLOOP_")})
    settings = Settings()
    start = time.perf_counter()
    stats = ingest_landed(settings, "bench")
    ingest_seconds = time.perf_counter() - start
    bronze = Lake(settings).count("bronze", "telemetry_events")
    naive = naive_fsync_rate(root, 10)
    rate = len(load.acked) / args.seconds
    print(f"receiver: {args.connections} connections x {args.seconds:.0f}s on loopback")
    print(f"  acknowledged {len(load.acked)}  rejected {load.rejected}  errors {load.errors}")
    print(f"  sustained {rate:.0f} req/s   p50 {percentile(load.latencies, .5) * 1e3:.1f} ms   "
          f"p99 {percentile(load.latencies, .99) * 1e3:.1f} ms")  # fmt: skip
    print(f"  landed files {stats.files_processed}; micro-batch {stats.rows_written} rows in {ingest_seconds:.1f}s")
    print(f"  bronze telemetry_events {bronze} == acknowledged {len(load.acked)}: {bronze == len(load.acked)}")
    print(f"baseline: naive one-fsynced-file-per-event loop {naive:.0f} writes/s -> receiver x{rate / naive:.1f}")


if __name__ == "__main__":
    main()
