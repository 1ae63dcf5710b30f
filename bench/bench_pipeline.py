"""Full and incremental pipeline runs over ~1M feedback records, against naive baselines in the same run.

    .venv/bin/python bench/bench_pipeline.py --records 1000000

Steps (each pipeline run is a fresh process running the real ``feedback-pipeline`` flow):
  1. generate the demo scenario at scale into a work dir (not timed as part of the pipeline);
  2. full run; 3. reruns with no new files; 4. reruns with ~1% new records each (--repeat of each,
     the median reported);
  5. baselines: a raw copy of the same export files into Delta (pyarrow csv/json -> write_deltalake,
     no validation, no dedupe) and a full-refresh silver build (what incremental silver avoids).
Peak memory is the max RSS of each run's process (os.wait4).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The foundation's stages: ingest into bronze, the dbt silver and gold builds, and language detection.
# Redaction, embeddings and the index have benchmarks of their own (bench/bench_redaction.py ...).
# Run as `feedbackloop run` runs it (flows/_runtime.py: run_pipeline).
RUN_PIPELINE = (
    "import json; from flows._runtime import run_pipeline; "
    "print('SUMMARY=' + json.dumps(run_pipeline(['ingest', 'silver', 'enrich', 'gold'])))"
)


def env_for(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FEEDBACKLOOP_LAKE_URI=str(work / "lake"),
        FEEDBACKLOOP_INBOX_DIR=str(work / "inbox"),
        FEEDBACKLOOP_WAREHOUSE_PATH=str(work / "lake" / "warehouse.duckdb"),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    return env


def run_measured(code: str, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of ``python -c code`` in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}):\n{out[-3000:]}")
    return wall, usage.ru_maxrss / 1024, out


def median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda run: run["wall"])[len(runs) // 2]


def pipeline_run(env: dict[str, str]) -> dict:
    wall, rss_mb, out = run_measured(RUN_PIPELINE, env)
    summary = json.loads(next(line for line in out.splitlines() if line.startswith("SUMMARY="))[8:])
    return {"wall": wall, "rss_mb": rss_mb, "summary": summary}


def generate(work: Path, records: int) -> dict:
    from feedbackloop.demo import DemoConfig, write_demo_inbox

    # tickets are a third of reviews by default; one telemetry event per review keeps the inbox small
    reviews_per_day = max(1, round(records / 60 / (1 + 1 / 3)))
    config = DemoConfig(days=60, reviews_per_day=reviews_per_day, telemetry_per_review=1)
    start = time.perf_counter()
    manifest = write_demo_inbox(config, work / "inbox")
    manifest["generate_seconds"] = time.perf_counter() - start
    return manifest


def add_new_records(work: Path, count: int, batch: int = 0) -> None:
    """A new App Store export with ``count`` reviews that are new records (fresh ids, real texts)."""
    source = sorted((work / "inbox" / "app_store").rglob("*.csv"))[0]
    with source.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    target = work / "inbox" / "app_store" / "com.acme.shop" / f"reviews_increment_{batch}.csv"
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for i in range(count):
            row = dict(rows[i % len(rows)])
            row["id"] = f"bench-increment-{batch}-{i}"
            row["body"] = f"{row['body']} (follow-up {batch}-{i})"
            writer.writerow(row)


def raw_copy_baseline(work: Path) -> tuple[float, int]:
    """Every export file into Delta with no parsing beyond the file format: the I/O floor for ingest."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    from deltalake import write_deltalake

    target = work / "raw_copy"
    shutil.rmtree(target, ignore_errors=True)
    rows = 0
    start = time.perf_counter()
    for path in sorted((work / "inbox").rglob("*")):
        if not path.is_file():
            continue
        try:
            if path.suffix == ".csv":
                encoding = "utf-16" if "google_play" in path.parts else "utf8"
                table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding=encoding))
            elif path.suffix == ".jsonl":
                table = pajson.read_json(path)
            else:
                table = pa.table({"raw": [path.read_text()]})
        except pa.ArrowInvalid:
            continue  # the demo plants a few broken files; a raw copy simply skips them
        table = table.cast(pa.schema([pa.field(f.name, pa.string()) for f in table.schema]))
        write_deltalake(str(target / path.parent.name), table, mode="append", schema_mode="merge")
        rows += table.num_rows
    return time.perf_counter() - start, rows


def full_refresh_silver(env: dict[str, str]) -> float:
    code = (
        "from feedbackloop.settings import get_settings; from feedbackloop.transform.dbt import run_dbt; "
        "run_dbt(get_settings(), ['build', '--select', 'silver', '--full-refresh', '--indirect-selection', 'cautious'])"
    )
    wall, _, _ = run_measured(code, env)
    return wall


def rate(rows: float, seconds: float) -> str:
    return f"{rows / seconds:,.0f}/s" if seconds else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "pipeline")
    parser.add_argument("--repeat", type=int, default=3, help="reruns of each kind (no-op, 1%% new); medians")
    args = parser.parse_args()
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = env_for(work)

    manifest = generate(work, args.records)
    totals = manifest["totals"]
    feedback_rows = sum(v["rows"] for k, v in totals.items() if k != "telemetry")
    print(f"generated {totals} in {manifest['generate_seconds']:.0f}s ({feedback_rows:,} feedback rows)")

    full = pipeline_run(env)
    # Reruns repeat (the machine is noisy): the median run by wall time stands for each kind.
    noop = median_run([pipeline_run(env) for _ in range(args.repeat)])
    increment = max(1, feedback_rows // 100)
    increments = []
    for batch in range(args.repeat):
        add_new_records(work, increment, batch)
        increments.append(pipeline_run(env))
    incr = median_run(increments)
    raw_seconds, raw_rows = raw_copy_baseline(work)
    refresh_seconds = full_refresh_silver(env)

    def stage_table(run: dict) -> dict[str, float]:
        return run["summary"]["seconds"]

    fs, ns, inc = stage_table(full), stage_table(noop), stage_table(incr)
    ingest = full["summary"]["ingest"]
    silver_rows = full["summary"]["layers"]["silver.stg_bronze__feedback"]
    print("\n== full run ==")
    print(f"wall {full['wall']:.1f}s, peak RSS {full['rss_mb']:.0f} MB, stage seconds {fs}")
    print(f"ingest   {ingest['rows_read']:,} rows in {fs['ingest']:.1f}s = {rate(ingest['rows_read'], fs['ingest'])}")
    print(f"  feedback rows {ingest['rows_written']:,} written; quarantined {ingest['rows_quarantined']}")
    print(f"silver   {silver_rows:,} feedback rows in {fs['silver']:.1f}s = {rate(silver_rows, fs['silver'])}")
    print(f"enrich   {full['summary']['enrich']['docs_enriched']:,} docs in {fs['enrich']:.1f}s")
    print(f"gold     {fs['gold']:.1f}s")
    orchestration = full["wall"] - sum(fs.values())
    print(f"process start + Prefect ephemeral API + summary: {orchestration:.1f}s")
    print("\n== rerun, no new files ==")
    print(f"wall {noop['wall']:.1f}s (stages {sum(ns.values()):.1f}s: {ns}); "
          f"bronze rows written {noop['summary']['ingest']['rows_written']}")  # fmt: skip
    print(f"\n== rerun, {increment:,} new records (1%) ==")
    print(f"wall {incr['wall']:.1f}s (stages {sum(inc.values()):.1f}s: {inc}); median of {len(increments)}: "
          f"walls {sorted(round(r['wall'], 1) for r in increments)}, "
          f"stages {sorted(round(sum(r['summary']['seconds'].values()), 1) for r in increments)}")  # fmt: skip
    print(
        f"cost vs full run: wall {incr['wall'] / full['wall']:.1%}, stages {sum(inc.values()) / sum(fs.values()):.1%}"
    )
    print("\n== baselines (same files, same run) ==")
    share = ingest["rows_read"] / fs["ingest"] / (raw_rows / raw_seconds)
    print(f"raw copy into Delta, no validation: {raw_rows:,} rows, {raw_seconds:.1f}s = {rate(raw_rows, raw_seconds)}")
    print(f"ingest (parse, validate, dedupe, quarantine) runs at {share:.0%} of the raw copy's rate")
    print(f"silver --full-refresh: {refresh_seconds:.1f}s wall vs incremental silver on 1% new: {inc['silver']:.1f}s")
    print(f"\npeak RSS: full {full['rss_mb']:.0f} MB, noop {noop['rss_mb']:.0f} MB, increment {incr['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
