"""Which code made which rows: every flow run is recorded once with the code version it ran.

Stages already stamp their rows with a run id (``ingest_run_id``, ``redact_run_id`` ...);
``governance.runs`` maps each run id to its flow, start time and code version, so lineage can
say "this label came from commit abc1234 of feedbackloop 0.1.0".
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from functools import cache

import pyarrow as pa

from feedbackloop.lake import Lake
from feedbackloop.settings import PROJECT_ROOT, Settings

RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("flow_name", pa.string()),
        ("code_version", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
    ]
)


@cache
def code_version() -> str:
    """``<package version>+g<commit>[.dirty]``; FEEDBACKLOOP_CODE_VERSION wins (set by a deploy)."""
    explicit = os.environ.get("FEEDBACKLOOP_CODE_VERSION")
    if explicit:
        return explicit
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("feedbackloop")
    except PackageNotFoundError:
        package = "0+unknown"
    try:
        sha = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return package
    return f"{package}+g{sha}{'.dirty' if dirty else ''}"


_recorded: set[str] = set()


def record_run(settings: Settings, run_id: str, flow_name: str) -> None:
    """Append (run_id, flow, code version) to ``governance.runs`` once per run and process."""
    if run_id in _recorded:
        return
    row = {"run_id": run_id, "flow_name": flow_name, "code_version": code_version(), "started_at": datetime.now(UTC)}
    Lake(settings).append("governance", "runs", pa.Table.from_pylist([row], schema=RUNS))
    _recorded.add(run_id)
