"""Operator console speed on the demo data: page render and search round-trip over real HTTP, vs baselines.

    .venv/bin/python bench/bench_console.py [--work bench/out/console] [--repeats 15]

1. If ``<work>/lake`` has no gold yet, ``feedbackloop demo`` builds it (the real pipeline; minutes).
2. Issue 5's incident, action, drift and run-metric tables are not on this branch yet: when they are
   missing, small stand-ins with the contract's columns are written from the demo's own negative
   feedback (``--no-stand-ins`` skips that), so the incident page is measured with realistic members.
3. The console runs on uvicorn in this process; every figure is a full HTTP round-trip (median, p95).
4. Baselines measured in the same run: the raw index query (a precomputed vector straight into the
   index), embed + index (the search API without HTTP), and each page's queries on a fresh
   ``warehouse.connect()`` per request (what the console's cached connection avoids).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = ("payment screen freezes", "charged twice no refund", "cannot log in after update",
           "app crashes when uploading photos", "love the new design")  # fmt: skip


def env_for(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FEEDBACKLOOP_LAKE_URI=str(work / "lake"),
        FEEDBACKLOOP_INBOX_DIR=str(work / "lake" / "inbox"),
        FEEDBACKLOOP_WAREHOUSE_PATH=str(work / "lake" / "warehouse.duckdb"),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    return env


def ensure_demo(work: Path) -> None:
    if (work / "lake" / "gold" / "fct_feedback" / "_delta_log").is_dir():
        return
    print(f"building the demo lake in {work} (feedbackloop demo) ...", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(Path(sys.executable).parent / "feedbackloop"), "demo"], env=env_for(work), check=True)


def write_stand_ins(settings: Any) -> list[str]:
    """Contract-shaped incidents (one per top negative category of the last 14 days) and their actions."""
    import pyarrow as pa

    from feedbackloop.lake import Lake
    from feedbackloop.warehouse import connect

    lake = Lake(settings)
    if lake.exists("gold", "dim_incidents"):
        return []
    with connect(settings) as conn:
        last = conn.execute("select max(event_date) from gold.fct_feedback_labels").fetchone()[0]
        top = conn.execute(
            "select category, count(*) n from gold.fct_feedback_labels where sentiment_label = 'negative' "
            "and event_date > ? group by 1 order by 2 desc limit 3",
            [last - timedelta(days=14)],
        ).fetchall()
        incidents, members, actions = [], [], []
        for rank, (category, _) in enumerate(top):
            docs = conn.execute(
                "select doc_id, event_at from gold.fct_feedback_labels where category = ? and sentiment_label = "
                "'negative' and event_date > ? order by event_at limit 300",
                [category, last - __import__("datetime").timedelta(days=14)],
            ).fetchall()
            incident_id = f"standin-{category}"
            first, latest = docs[0][1], docs[-1][1]
            incidents.append({
                "incident_id": incident_id, "name": f"{category} complaints (stand-in)", "category": category,
                "product_area": "app", "product": "com.acme.shop", "status": "open",
                "severity": ("critical", "high", "medium")[rank], "is_escalated": rank == 0,
                "outcome": "product_behaviour", "first_seen_at": first, "last_seen_at": latest,
                "member_count": len(docs), "velocity_per_day": len(docs) / 14, "rule_ids": json.dumps(["stand_in"]),
                "evidence": json.dumps({"sample_complaints": [{"doc_id": d, "quote": ""} for d, _ in docs[:5]]}),
                "detected_at": latest, "detection_run_id": "bench", "updated_at": latest,
            })  # fmt: skip
            members += [{"incident_id": incident_id, "doc_id": d, "similarity": 0.8, "assigned_at": latest}
                        for d, _ in docs]  # fmt: skip
            actions.append({
                "action_id": f"{incident_id}:engineering_ticket", "source_kind": "incident", "source_id": incident_id,
                "kind": "engineering_ticket", "owner": "team", "sink": "jira", "status": "sent",
                "external_id": f"SHOP-{rank}", "external_url": f"https://jira.example/browse/SHOP-{rank}",
                "attempts": 1, "last_error": "", "created_at": latest, "updated_at": latest,
            })  # fmt: skip
    lake.overwrite("gold", "dim_incidents", pa.Table.from_pylist(incidents))
    lake.overwrite("gold", "fct_incident_members", pa.Table.from_pylist(members))
    lake.overwrite("gold", "fct_actions", pa.Table.from_pylist(actions))
    return [i["incident_id"] for i in incidents]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed_get(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return (time.perf_counter() - started) * 1000, status


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "console")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-stand-ins", action="store_true")
    args = parser.parse_args()
    ensure_demo(args.work)
    os.environ.update({k: v for k, v in env_for(args.work).items() if k.startswith("FEEDBACKLOOP_")})

    import uvicorn

    from feedbackloop.console import queries
    from feedbackloop.console.app import create_app
    from feedbackloop.embed.model import get_embedder
    from feedbackloop.index import open_index
    from feedbackloop.index.base import make_filters
    from feedbackloop.settings import get_settings

    settings = get_settings()
    incident_ids = [] if args.no_stand_ins else write_stand_ins(settings)
    with queries.Warehouse(settings).cursor() as r:
        size = {"feedback": queries.feedback_count(r), "review_queue": queries.review_queue_size(r)}
        if not incident_ids:
            incident_ids = [i["incident_id"] for i in queries.incidents(r, limit=1)]
    print(f"lake: {args.work / 'lake'}  {size}  incidents: {incident_ids}", flush=True)

    app = create_app(settings, warm=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    embedder, index = get_embedder(settings), open_index(settings)
    embedder.embed(["warm up"])
    index.info()
    timed_get(base + "/api/search?q=warm+up")  # the app's own index object loads its generation once

    pages = {"overview /": "/", "incidents": "/incidents", "actions": "/actions", "review queue": "/review",
             "search page (no query)": "/search", "drift": "/drift"}  # fmt: skip
    if incident_ids:
        pages["incident page"] = "/incidents/" + urllib.parse.quote(incident_ids[0])
    results: dict[str, Any] = {"lake": size, "repeats": args.repeats, "at": datetime.now(UTC).isoformat()}
    page_figures = {}
    for name, path in pages.items():
        timed_get(base + path)
        samples = []
        for _ in range(args.repeats):
            ms, status = timed_get(base + path)
            assert status == 200, f"{path}: HTTP {status}"
            samples.append(ms)
        page_figures[name] = stats(samples)
    results["pages"] = page_figures

    def fresh_overview() -> None:
        with queries.Warehouse(settings).cursor() as r:
            queries.overview(r)
            queries.top_themes(r)
            queries.incidents(r, limit=8)

    fresh = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        fresh_overview()
        fresh.append((time.perf_counter() - started) * 1000)
    results["baseline_overview_fresh_connect"] = stats(fresh)

    search_figures: dict[str, list[float]] = {"http /api/search": [], "http /api/search platform=ios": [],
                                              "http /search page": [], "embed + index (no http)": [],
                                              "raw index query (precomputed vector)": []}  # fmt: skip
    vectors = {q: embedder.embed([q])[0] for q in QUERIES}
    no_filter = make_filters()
    for _ in range(max(args.repeats // len(QUERIES), 3)):
        for q in QUERIES:
            quoted = urllib.parse.quote_plus(q)
            search_figures["http /api/search"].append(timed_get(f"{base}/api/search?q={quoted}&k=10")[0])
            search_figures["http /api/search platform=ios"].append(
                timed_get(f"{base}/api/search?q={quoted}&k=10&platform=ios")[0]
            )
            search_figures["http /search page"].append(timed_get(f"{base}/search?q={quoted}&k=10")[0])
            started = time.perf_counter()
            index.search(embedder.embed([q])[0], no_filter, 10)
            search_figures["embed + index (no http)"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            index.search(vectors[q], no_filter, 10)
            search_figures["raw index query (precomputed vector)"].append((time.perf_counter() - started) * 1000)
    results["search"] = {name: stats(samples) for name, samples in search_figures.items()}
    server.should_exit = True

    print("\n| page | median ms | p95 ms |\n|---|---:|---:|")
    for name, figure in page_figures.items():
        print(f"| {name} | {figure['median_ms']} | {figure['p95_ms']} |")
    b = results["baseline_overview_fresh_connect"]
    print(
        f"| baseline: overview queries on a fresh connect() per request (no HTTP) | {b['median_ms']} | {b['p95_ms']} |"
    )
    raw = results["search"]["raw index query (precomputed vector)"]["median_ms"]
    print("\n| search | median ms | p95 ms | vs raw index query |\n|---|---:|---:|---:|")
    for name, figure in results["search"].items():
        ratio = figure["median_ms"] / raw if raw else float("nan")
        print(f"| {name} | {figure['median_ms']} | {figure['p95_ms']} | {ratio:.1f}x |")
    worst_page = max(f["median_ms"] for f in page_figures.values())
    search_ms = results["search"]["http /api/search"]["median_ms"]
    print(f"\nslowest page median {worst_page} ms (target < 1000); search round-trip median {search_ms} ms (< 300)")
    out = ROOT / "bench" / "out" / "console.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"figures: {out}")


if __name__ == "__main__":
    main()
