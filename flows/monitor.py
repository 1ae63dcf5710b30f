"""Flow ``monitor``: cluster new complaints, evaluate monitors/rules.yaml, open or update incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from feedbackloop.incidents.report import incidents_markdown
from feedbackloop.incidents.rules import RuleSet, load_rules
from feedbackloop.incidents.stage import run_monitor, run_monitor_catching_up
from feedbackloop.settings import get_settings
from flows._runtime import current_run_id


@task
def check_rules() -> RuleSet:
    """Validate the rule file first: a typo fails the run naming the line, before anything is written."""
    return load_rules(get_settings().monitor_rules_path)


@task(retries=1, retry_delay_seconds=10)
def monitor_pass(run_id: str, rules: RuleSet, as_of: datetime | None) -> dict[str, Any]:
    """One pass: new complaints into clusters, rules over rolling windows, incidents with evidence."""
    if as_of is not None:  # a replay of one past moment (backtests): exactly that pass
        return {**run_monitor(get_settings(), run_id, as_of=as_of, rules=rules), "passes": 1}
    logger = get_run_logger()

    def progress(done: int, total: int) -> None:
        if total > 1 and (done == total or done % 10 == 0):
            logger.info("monitor pass %s/%s (replaying the boundaries since the last run)", done, total)

    return run_monitor_catching_up(get_settings(), run_id, rules=rules, on_pass=progress)


@task
def publish(stats: dict[str, Any]) -> None:
    """The open incidents as a markdown artifact, linked from the flow run."""
    create_markdown_artifact(markdown=incidents_markdown(get_settings(), stats), key="monitor-incidents")


@flow(name="monitor", log_prints=True)
def monitor(as_of: datetime | None = None) -> dict[str, Any]:
    """Detect incidents up to ``as_of``, or catch up to the newest labelled item, a pass per missed day."""
    rules = check_rules()
    stats = monitor_pass(current_run_id(), rules, as_of)
    publish(stats)
    get_run_logger().info(
        "monitor as of %s (%s passes): %s complaints (%s newly clustered, %s clusters), %s rule rows, %s fired; "
        "%s incidents open (%s opened, %s resolved, %s escalations), %s telemetry evidence rows",
        stats["as_of"], stats["passes"], stats["complaints"], stats["complaints_assigned"], stats["clusters"],
        stats["rule_rows"], stats["rules_fired"], stats["incidents_open"], stats["incidents_opened"],
        stats["incidents_resolved"], stats["escalations"], stats["telemetry_rows"],
    )  # fmt: skip
    return stats


if __name__ == "__main__":
    monitor()
