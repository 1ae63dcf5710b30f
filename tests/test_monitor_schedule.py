"""The monitor's pass plan: every missed cadence boundary since the last pass, then the newest data."""

from __future__ import annotations

from datetime import UTC, datetime

from feedbackloop.incidents.schedule import plan_passes


def us(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1_000_000)


def iso(values: list[int]) -> list[str]:
    return [datetime.fromtimestamp(v / 1e6, UTC).strftime("%m-%d %H:%M") for v in values]


def test_a_first_run_replays_each_midnight_after_the_warm_up_then_the_newest_data() -> None:
    passes = plan_passes(us("2026-11-01 09:30"), us("2026-11-07 18:00"), None, 24, 3, 100)
    assert iso(passes) == ["11-04 00:00", "11-05 00:00", "11-06 00:00", "11-07 00:00", "11-07 18:00"]


def test_a_later_run_replays_only_the_boundaries_since_the_last_pass() -> None:
    passes = plan_passes(us("2026-11-01 09:30"), us("2026-11-09 02:00"), us("2026-11-07 18:00"), 24, 3, 100)
    assert iso(passes) == ["11-08 00:00", "11-09 00:00", "11-09 02:00"]


def test_a_run_with_nothing_new_still_looks_at_the_newest_data() -> None:
    newest = us("2026-11-07 18:00")
    assert plan_passes(us("2026-11-01 09:30"), newest, newest, 24, 3, 100) == [newest]


def test_a_boundary_equal_to_the_newest_data_is_evaluated_once() -> None:
    passes = plan_passes(us("2026-11-01 09:30"), us("2026-11-06 00:00"), us("2026-11-05 12:00"), 24, 3, 100)
    assert iso(passes) == ["11-06 00:00"]


def test_the_cadence_sets_the_boundaries() -> None:
    passes = plan_passes(us("2026-11-01 09:30"), us("2026-11-04 13:00"), us("2026-11-04 01:00"), 6, 3, 100)
    assert iso(passes) == ["11-04 06:00", "11-04 12:00", "11-04 13:00"]


def test_a_long_gap_keeps_only_the_newest_passes() -> None:
    passes = plan_passes(us("2026-01-01 00:00"), us("2026-11-07 18:00"), None, 24, 3, 5)
    assert iso(passes) == ["11-04 00:00", "11-05 00:00", "11-06 00:00", "11-07 00:00", "11-07 18:00"]


def test_history_shorter_than_the_warm_up_gets_just_the_newest_pass() -> None:
    assert iso(plan_passes(us("2026-11-06 09:30"), us("2026-11-07 18:00"), None, 24, 3, 100)) == ["11-07 18:00"]
