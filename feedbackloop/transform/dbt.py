"""Run dbt in-process (dbtRunner) against the configured target; a failed node fails the call."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedbackloop.settings import Settings


class DbtError(RuntimeError):
    """dbt reported failures; the message lists the failing nodes."""


@dataclass
class DbtResult:
    command: list[str]
    nodes: int = 0
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"command": " ".join(self.command), "nodes": self.nodes, "passed": self.passed}


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment for dbt: absolute paths, so it does not matter where dbt is started from.

    DuckDB reads the lake where this process reaches it; Databricks registers tables at the
    configured location (its own /Volumes path, or the object-store URI).
    """
    if settings.dbt_target == "duckdb" and settings.is_local_lake:
        lake = str(Path(settings.lake_root).resolve())
    elif settings.dbt_target == "duckdb":
        lake = settings.lake_root
    else:
        lake = settings.lake_uri
    return {
        "FEEDBACKLOOP_LAKE_URI": lake,
        "FEEDBACKLOOP_WAREHOUSE_PATH": str(Path(settings.warehouse_path).resolve()),
        "FEEDBACKLOOP_DBT_TARGET": settings.dbt_target,
        "FEEDBACKLOOP_DBT_THREADS": str(settings.dbt_threads),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def access_vars(settings: Settings) -> dict[str, Any]:
    """dbt vars from config/access.yaml: grants and the row filter (applied on Databricks only)."""
    from feedbackloop.governance.access import AccessPolicy

    if not Path(settings.access_policy_path).exists():
        return {}
    return AccessPolicy.load(settings.access_policy_path).dbt_vars()


# The last parsed manifest, by everything parsing depends on: a pipeline run builds silver and then
# gold in one process, and the second build need not parse the project again.
_parsed: dict[str, Any] = {}


def _manifest(settings: Settings, options: list[str], dbt_vars: dict[str, Any]) -> Any | None:
    """The project's parsed manifest (parsed once per process while project, vars and env stay the same)."""
    from dbt.cli.main import dbtRunner

    from feedbackloop.transform.state import project_fingerprint

    key = json.dumps([options, sorted(dbt_env(settings).items()), project_fingerprint(settings, dbt_vars)])
    if key not in _parsed:
        # Partial parsing still saves its state for the next process; manifest.json is not needed.
        outcome = dbtRunner().invoke(["parse", "--no-write-json", *options])
        if not outcome.success or outcome.result is None:
            return None  # the build itself parses and reports the problem
        _parsed.clear()
        _parsed[key] = outcome.result
    return _parsed[key]


def _options(settings: Settings) -> tuple[list[str], dict[str, Any]]:
    """dbt's command-line options for this project and target, and the vars they pass."""
    os.environ.update(dbt_env(settings))
    Path(settings.warehouse_path).parent.mkdir(parents=True, exist_ok=True)
    project = str(Path(settings.dbt_project_dir).resolve())
    dbt_vars = access_vars(settings)
    options = ["--project-dir", project, "--profiles-dir", project, "--target", settings.dbt_target]
    return [*options, "--vars", json.dumps(dbt_vars)], dbt_vars


def parse_ahead(settings: Settings) -> None:
    """Import dbt and parse the project now, for the builds later in this process.

    For a caller that would otherwise sit idle, such as a pipeline run waiting for its Prefect API.
    """
    options, dbt_vars = _options(settings)
    _manifest(settings, options, dbt_vars)


def run_dbt(settings: Settings, args: list[str]) -> DbtResult:
    """``dbt <args>`` with the project's profile; raises DbtError when any node errors or fails."""
    from dbt.artifacts.schemas.run import RunExecutionResult
    from dbt.cli.main import dbtRunner

    options, dbt_vars = _options(settings)
    # Left to itself, dbt rewrites manifest.json (1 MB, unchanged since the parse) after every build,
    # about 0.3 s; run_results.json, the artifact people open, is written here instead.
    command = [*args, "--no-write-json", *options]
    outcome = dbtRunner(manifest=_manifest(settings, options, dbt_vars)).invoke(command)
    if isinstance(outcome.result, RunExecutionResult):
        target = Path(settings.dbt_project_dir) / "target"
        target.mkdir(parents=True, exist_ok=True)
        outcome.result.write(str(target / "run_results.json"))
    result = DbtResult(command=["dbt", *args])
    if outcome.exception is not None:
        raise DbtError(f"dbt {' '.join(args)} crashed: {outcome.exception}") from outcome.exception
    for node in getattr(outcome.result, "results", None) or []:
        result.nodes += 1
        status = str(getattr(node, "status", "")).lower()
        if status in {"error", "fail", "runtime error"}:
            result.failures.append(f"{node.node.unique_id}: {status}: {(node.message or '').strip()[:300]}")
        else:
            result.passed += 1
    if result.failures or not outcome.success:
        detail = "\n  ".join(result.failures) or "dbt reported failure"
        raise DbtError(f"dbt {' '.join(args)} failed:\n  {detail}")
    return result
