"""Outbox dispatch throughput against the local Jira fake, vs a naive one-request-per-action loop.

N open incidents -> ``plan_and_dispatch`` (plan, idempotency lookup + create per action over pooled
keep-alive connections, ``FEEDBACKLOOP_ACTION_MAX_IN_FLIGHT`` at a time, attempts and outbox written
to Delta). The baseline, in the same run against the same server: a loop that opens a new connection
per request and sends lookup + create for each action one after another, recording nothing. The fake
waits ``--latency-ms`` per request, like a remote API. A second run with nothing changed shows the
steady-state cost (no requests at all).

    .venv/bin/python bench/bench_outbox.py [--actions 300] [--latency-ms 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr

from feedbackloop.act.stage import plan_and_dispatch
from feedbackloop.settings import Settings
from tests.act_data import incident, write_incidents
from tests.fakes.ticketing import FakeJira


def naive_loop(jira: FakeJira, n: int) -> float:
    auth = "Basic " + base64.b64encode(f"{jira.email}:{jira.token}".encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "application/json", "Connection": "close"}
    start = time.perf_counter()
    for i in range(n):
        label = f"naive-{i}"
        search = {"jql": f'labels = "{label}"', "maxResults": 1}
        urllib.request.urlopen(
            urllib.request.Request(f"{jira.url}/rest/api/3/search/jql", json.dumps(search).encode(), headers),
            timeout=10,
        ).read()
        fields = {"project": {"key": "ENG"}, "issuetype": {"name": "Bug"}, "summary": f"naive {i}", "labels": [label],
                  "description": {"type": "doc", "version": 1, "content": []}}  # fmt: skip
        urllib.request.urlopen(
            urllib.request.Request(f"{jira.url}/rest/api/3/issue", json.dumps({"fields": fields}).encode(), headers),
            timeout=10,
        ).read()
    return time.perf_counter() - start


def outbox_run(jira: FakeJira, n: int, tmp: Path, prefix: str) -> tuple[float, float, int]:
    settings = Settings(
        lake_uri=str(tmp / "lake"), jira_url=jira.url, jira_user_email=jira.email,
        jira_api_token=SecretStr(jira.token),
    )  # fmt: skip
    write_incidents(settings, [incident(f"{prefix}-inc-{i}", product_area=f"area-{i}") for i in range(n)])
    before = len(jira.issues)
    start = time.perf_counter()
    stats = plan_and_dispatch(settings, "bench-1")
    first = time.perf_counter() - start
    assert stats["created"] == n, stats
    start = time.perf_counter()
    again = plan_and_dispatch(settings, "bench-2")
    steady = time.perf_counter() - start
    assert again["delivered_this_run"] == 0 and len(jira.issues) - before == n
    return first, steady, stats["requests"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    outbox, steady, naive, requests = [], [], [], 0
    with FakeJira() as jira:
        jira.delay = args.latency_ms / 1000
        for r in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
                first, idle, requests = outbox_run(jira, args.actions, Path(tmp), f"r{r}")
            outbox.append(first)
            steady.append(idle)
            naive.append(naive_loop(jira, args.actions))
            print(f"repeat {r + 1}: outbox {first:.2f}s, unchanged rerun {idle:.2f}s, naive loop {naive[-1]:.2f}s")
    n = args.actions
    med_outbox, med_naive = statistics.median(outbox), statistics.median(naive)
    print(f"\n{n} actions, {args.latency_ms:g} ms per request at the fake, median of {args.repeats}:")
    rate = n / med_outbox
    print(f"  outbox (plan, lookup + create, Delta): {med_outbox:.2f} s = {rate:.0f} actions/s, {requests} requests")
    print(f"  unchanged rerun (plan only, no requests): {statistics.median(steady):.2f} s")
    print(f"  naive loop (new connection per request): {med_naive:.2f} s = {n / med_naive:.0f} actions/s")
    print(f"  outbox / naive throughput: x{med_naive / med_outbox:.1f}")


if __name__ == "__main__":
    main()
