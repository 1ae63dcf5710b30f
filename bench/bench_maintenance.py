"""Lake maintenance: reads of a table that hourly appends left in small files, before and after `maintain`.

    .venv/bin/python -m bench.bench_maintenance --rows 1000000 --appends 240

A table of ``--rows`` rows written at once (a full run), then ``--appends`` small appends of
``--append-rows`` each (hourly micro-batches, 10 days at 240). The baseline is that same table before
maintenance, measured in the same run: DuckDB's delta_scan (how dbt and the console read the lake),
opening the table with deltalake (what every stage does), and a count through the log. Then
`maintain_table` compacts it, and the same reads are timed again (medians of --repeat).
A second table, rebuilt ``--rebuilds`` times (a `table` model), shows what vacuum gives back on disk.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from bench.timing import median_seconds
from feedbackloop.lake_maintenance import maintain_table
from feedbackloop.settings import Settings


def rows(start: int, count: int, rng: np.random.Generator) -> pa.Table:
    ids = np.arange(start, start + count)
    return pa.table({
        "doc_id": pa.array([f"doc-{i:012d}" for i in ids]),
        "product": pa.array(rng.choice(["shop", "pay", "maps", "chat"], count)),
        "rating": pa.array(rng.integers(1, 6, count), pa.int32()),
        "text": pa.array([f"review {i} about checkout and login, version {i % 97}" for i in ids]),
    })  # fmt: skip


def reads(path: str, repeat: int) -> dict[str, float]:
    conn = duckdb.connect()
    conn.execute("install delta; load delta")
    scan = f"delta_scan('{path}')"
    return {
        "duckdb: count distinct doc_id": median_seconds(
            lambda: conn.execute(f"select count(distinct doc_id) from {scan}").fetchall(), repeat
        ),
        "duckdb: filtered aggregate": median_seconds(
            lambda: conn.execute(
                f"select product, avg(rating) from {scan} where text like '%version 7%' group by 1"
            ).fetchall(),
            repeat,
        ),
        "deltalake: open table (log replay)": median_seconds(lambda: DeltaTable(path), repeat),
        "pyarrow: read doc_id column": median_seconds(
            lambda: DeltaTable(path).to_pyarrow_dataset().to_table(columns=["doc_id"]), repeat
        ),
    }


def disk_bytes(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=240)
    parser.add_argument("--append-rows", type=int, default=500)
    parser.add_argument("--rebuilds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    work = Path(tempfile.mkdtemp(prefix="bench-maintenance-"))
    try:
        table = str(work / "silver" / "stg_bronze__feedback")
        write_deltalake(table, rows(0, args.rows, rng))
        for i in range(args.appends):
            write_deltalake(table, rows(args.rows + i * args.append_rows, args.append_rows, rng), mode="append")
        files_before = len(DeltaTable(table).file_uris())
        before = reads(table, args.repeat)

        settings = Settings(lake_uri=str(work), lake_vacuum_retention_hours=0)
        start = time.perf_counter()
        outcome = maintain_table(DeltaTable(table), "silver.stg_bronze__feedback", settings)
        maintain_seconds = time.perf_counter() - start
        after = reads(table, args.repeat)

        print(f"{args.rows:,} rows + {args.appends} appends of {args.append_rows}: {files_before} files")
        print(
            f"maintain_table: {outcome.files_before} -> {outcome.files_after} files, {outcome.files_compacted} "
            f"compacted, {outcome.files_vacuumed} vacuumed, {maintain_seconds:.1f}s"
        )
        print(f"{'read (median of ' + str(args.repeat) + ')':40} {'small files':>12} {'compacted':>10} {'speed-up':>9}")
        for name, seconds in before.items():
            print(f"{name:40} {seconds:11.3f}s {after[name]:9.3f}s {seconds / after[name]:8.1f}x")

        rebuilt = str(work / "gold" / "fct_feedback_daily_volume")
        for i in range(args.rebuilds):
            write_deltalake(rebuilt, rows(i, 100_000, rng), mode="overwrite")
        grown = disk_bytes(rebuilt)
        vacuumed = maintain_table(DeltaTable(rebuilt), "gold.fct_feedback_daily_volume", settings)
        print(f"\n{args.rebuilds} rebuilds of a 100k-row table: {grown / 2**20:.1f} MB on disk; after vacuum "
              f"{disk_bytes(rebuilt) / 2**20:.1f} MB ({vacuumed.files_vacuumed} files removed)")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
