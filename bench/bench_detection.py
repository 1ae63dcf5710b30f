"""Time to detection of the demo's planted incidents, and the control run's incident count.

    # generate the demo, run the pipeline (all stages up to index), then the monitor daily:
    .venv/bin/python bench/bench_detection.py --workdir /tmp/detect --days 28 --reviews-per-day 80
    # or reuse lakes the pipeline already built (<workdir>/<scenario>/lake + demo_manifest.json):
    .venv/bin/python bench/bench_detection.py --workdir /tmp/detect --reuse

For each scenario, the monitor stage catches up from an empty monitor state: a pass as of every day
at 00:00 UTC (``--cadence-hours``) from the third day on, then one at the newest data. Prints, per
planted incident: detection time, time-to-detection, how many runs after the first run past the onset
it took, category/product match, telemetry evidence rows and deploy SHAs; and the control scenario's
incident count. The baseline is the naive detector the rules replace: "a category's complaints up 30%
week over week" with no floor, significance or quorum, counted over the same runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

MONITOR_TABLES = ("dim_feedback_clusters", "fct_feedback_cluster_members", "dim_incidents", "fct_incident_members",
                  "fct_incident_telemetry", "fct_rule_hits", "fct_monitor_runs")  # fmt: skip


def prepare(workdir: Path, scenario: str, args: argparse.Namespace) -> None:
    from feedbackloop.demo import DemoConfig, write_demo_inbox
    from feedbackloop.settings import get_settings
    from flows.pipeline import STAGES, feedback_pipeline

    config = DemoConfig(scenario=scenario, days=args.days, reviews_per_day=args.reviews_per_day,
                        end_date=date.fromisoformat(args.end_date))  # fmt: skip
    write_demo_inbox(config, workdir / scenario / "inbox")
    _point_at(workdir / scenario)
    get_settings.cache_clear()
    feedback_pipeline(only=[s for s in STAGES if s != "monitor"])


def _point_at(root: Path) -> None:
    os.environ["FEEDBACKLOOP_LAKE_URI"] = str(root / "lake")
    os.environ["FEEDBACKLOOP_INBOX_DIR"] = str(root / "inbox")
    os.environ["FEEDBACKLOOP_WAREHOUSE_PATH"] = str(root / "lake" / "warehouse.duckdb")


def replay(root: Path, cadence_hours: float) -> tuple[dict, list[datetime], list[dict], int]:
    from feedbackloop.incidents.report import list_incidents
    from feedbackloop.incidents.stage import run_monitor_catching_up
    from feedbackloop.settings import get_settings
    from feedbackloop.warehouse import connect

    _point_at(root)
    os.environ["FEEDBACKLOOP_MONITOR_CADENCE_HOURS"] = str(cadence_hours)
    get_settings.cache_clear()
    settings = get_settings()
    for table in MONITOR_TABLES:
        shutil.rmtree(root / "lake" / "gold" / table, ignore_errors=True)
    manifest = json.loads((root / "demo_manifest.json").read_text())
    run_monitor_catching_up(settings, "detect")  # the monitor stage's own catch-up: a pass per boundary
    conn = connect(settings)
    runs = [r[0] for r in conn.execute("select as_of from gold.fct_monitor_runs order by as_of").fetchall()]
    naive = conn.execute(
        """
        with weekly as (
            select r.as_of, l.category,
                   count(*) filter (where l.event_at >= r.as_of - interval 7 day) as cur,
                   count(*) filter (where l.event_at < r.as_of - interval 7 day) as prev
            from (select unnest(?::timestamptz[]) as as_of) r
            join gold.fct_feedback_labels l
              on l.event_at < r.as_of and l.event_at >= r.as_of - interval 14 day
            where l.sentiment_label = 'negative' or l.rating <= 2
            group by all
        )
        select count(*) from weekly where prev > 0 and cur >= 1.3 * prev
        """,
        [runs],
    ).fetchone()[0]
    return manifest, runs, list_incidents(settings, status=None), int(naive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--reuse", action="store_true", help="lakes already built by the pipeline")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--reviews-per-day", type=int, default=80)
    parser.add_argument("--end-date", default="2026-11-20")
    parser.add_argument("--cadence-hours", type=float, default=24.0)
    args = parser.parse_args()
    for scenario in ("incidents", "control"):
        if not args.reuse:
            prepare(args.workdir, scenario, args)
        manifest, runs, incidents, naive = replay(args.workdir / scenario, args.cadence_hours)
        print(f"\n{scenario}: {len(runs)} monitor runs every {args.cadence_hours:g} h, {len(incidents)} incidents; "
              f"naive 30% week-over-week alarm (no floor/quorum): {naive} category alarms in those runs")  # fmt: skip
        for planted in manifest.get("incidents", []):
            onset = datetime.fromisoformat(planted["onset"].replace("Z", "+00:00"))
            first_run = min(r for r in runs if r > onset)
            found = sorted(
                (i for i in incidents if (i["category"], i["product"]) == (planted["category"], planted["product"])),
                key=lambda i: i["detected_at"],
            )
            if not found:
                print(f"  {planted['id']}: NOT DETECTED (onset {onset:%m-%d %H:%M})")
                continue
            i = found[0]
            delay = i["detected_at"] - onset
            late = round((i["detected_at"] - first_run) / timedelta(hours=args.cadence_hours))
            print(f"  {planted['id']}: onset {onset:%m-%d %H:%M}, detected {i['detected_at']:%m-%d %H:%M} "
                  f"(time to detection {delay.total_seconds() / 3600:.1f} h, {late} runs after the first run past "
                  f"the onset), {i['category']}/{i['product']}, {i['member_count']} members, "
                  f"{i['telemetry_rows']} telemetry rows, usual deploy {i['usual_deploy_sha']} "
                  f"(planted {planted['deploy_sha']}), rules {i['rule_ids']}")  # fmt: skip
        others = [i for i in incidents if (i["category"], i["product"]) not in
                  {(p["category"], p["product"]) for p in manifest.get("incidents", [])}]  # fmt: skip
        print(f"  other incidents: {len(others)} {[(i['category'], i['product']) for i in others]}")


if __name__ == "__main__":
    main()
