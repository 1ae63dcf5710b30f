"""When the monitor looks: one pass per cadence boundary since its last pass, then one at the newest data.

A pipeline that ran every day would have evaluated the rules at every day boundary. A lake that gets
weeks of history at once (the demo, a first import, a pipeline that was down) has not, and a single
pass at the newest data would see incidents that began and ended weeks ago as quiet. So a run catches
up: it replays the boundaries it missed, in data time, exactly as those runs would have gone, and
records each pass in ``gold.fct_monitor_runs``. Steady state (a run per cadence) is one or two passes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from feedbackloop.incidents.signals import US_PER_DAY, US_PER_HOUR
from feedbackloop.incidents.tables import MONITOR_RUNS
from feedbackloop.incidents.telemetry import has_tables

MONITOR_RUNS_TABLE = ("gold", "fct_monitor_runs")


def plan_passes(
    first_us: int, newest_us: int, last_us: int | None, cadence_hours: float, warmup_days: float, max_passes: int
) -> list[int]:
    """As-of times (epoch us) still to evaluate: missed boundaries after ``last_us``, then ``newest_us``.

    Boundaries are multiples of the cadence since the epoch (midnight UTC for a daily cadence). With no
    earlier pass they start ``warmup_days`` after the first item's boundary, so the rules have some
    history to compare with. The newest data is always evaluated (a rerun is idempotent, and late items
    may have arrived). Only the newest ``max_passes`` are kept: older history is baseline, not news.
    """
    step = int(cadence_hours * US_PER_HOUR)
    if last_us is None:  # the warm-up counts from the boundary at or before the first item
        last_us = (first_us // step) * step + int(warmup_days * US_PER_DAY) - 1
    boundary = (last_us // step + 1) * step
    passes = []
    while boundary < newest_us:
        passes.append(boundary)
        boundary += step
    passes.append(newest_us)  # after the loop: never a duplicate of a boundary
    return passes[-max_passes:]


def last_pass_us(conn: Any) -> int | None:
    """The data time of the newest recorded pass, or None before the first one."""
    if not has_tables(conn, "gold.fct_monitor_runs"):
        return None
    row = conn.execute("select epoch_us(max(as_of)) from gold.fct_monitor_runs").fetchone()
    return None if row[0] is None else int(row[0])


def run_row(run_id: str, as_of_us: int, is_catch_up: bool, stats: dict[str, Any]) -> pa.Table:
    """One ``gold.fct_monitor_runs`` row from a pass's figures."""
    counts = {
        name: int(stats.get(name, 0)) for name in MONITOR_RUNS.names if MONITOR_RUNS.field(name).type == pa.int64()
    }
    row = {
        "run_id": run_id,
        "as_of": datetime.fromtimestamp(as_of_us / 1e6, UTC),
        "is_catch_up": is_catch_up,
        **counts,
        "evaluated_at": datetime.now(UTC),
    }
    return pa.Table.from_pylist([row], schema=MONITOR_RUNS)
