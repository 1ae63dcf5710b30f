"""Run dbt in-process (dbtRunner) against the configured target; a failed node fails the call."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import pickle
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from contextvars import copy_context
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
    passed_tests: list[str] = field(default_factory=list)  # unique ids of the data tests that passed

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

_ENV_VAR_CALL = re.compile(r"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
_MANIFEST_CACHE = "feedbackloop_manifest.{key}.pickle"


def _dbt_versions() -> list[tuple[str, str | None]]:
    """dbt and its adapters: their macros are part of every manifest."""
    versions: list[tuple[str, str | None]] = []
    for dist in ("dbt-core", "dbt-adapters", "dbt-duckdb", "dbt-databricks", "dbt-spark"):
        try:
            versions.append((dist, importlib.metadata.version(dist)))
        except importlib.metadata.PackageNotFoundError:
            versions.append((dist, None))
    return versions


def _manifest_key(settings: Settings, options: list[str], dbt_vars: dict[str, Any]) -> str:
    """A digest of everything a parse depends on: the project's files and vars, the options, dbt's
    version, and the value of every environment variable the project reads through ``env_var()``."""
    from feedbackloop.transform.state import PROJECT_FILES, project_fingerprint

    root = Path(settings.dbt_project_dir)
    names = set()
    for pattern in PROJECT_FILES:
        for path in root.glob(pattern):
            if path.is_file() and path.suffix in {".yml", ".yaml", ".sql"}:
                names.update(_ENV_VAR_CALL.findall(path.read_text(encoding="utf-8", errors="replace")))
    parts = [options, sorted(dbt_env(settings).items()), project_fingerprint(settings, dbt_vars), _dbt_versions(),
             sys.version, sorted((name, os.environ.get(name)) for name in names)]  # fmt: skip
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _rebuild_manifest(state: dict[str, Any]) -> Any:
    from dbt.contracts.graph.manifest import Manifest

    return Manifest(**state)


class _ManifestPickler(pickle.Pickler):
    """Pickles a dbt Manifest by its data fields; its lookups and locks are rebuilt on first use.

    dbt's own ``Manifest.__reduce_ex__`` passes its fields by position and misses ``fixtures``, so
    every lookup after it lands one field off (dbt 1.11); by name, nothing can shift.
    """

    def reducer_override(self, obj: Any) -> Any:
        from dbt.contracts.graph.manifest import Manifest

        if type(obj) is not Manifest:
            return NotImplemented
        state = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init and not f.name.startswith("_")}
        return _rebuild_manifest, (state,)


def _load_cached_manifest(target: Path, key: str) -> Any | None:
    """The manifest a parse with the same inputs saved here, or None (none saved, or unreadable)."""
    path = target / _MANIFEST_CACHE.format(key=key)
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception:  # written by another dbt release, or cut short: parse again
        path.unlink(missing_ok=True)
        return None


def _save_manifest(target: Path, key: str, manifest: Any) -> None:
    """Keep this parse for the next process; earlier parses' files go (their inputs are gone)."""
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob(_MANIFEST_CACHE.format(key="*")):
        stale.unlink(missing_ok=True)
    partial = target / f".{_MANIFEST_CACHE.format(key=key)}.{os.getpid()}"
    with partial.open("wb") as fh:
        _ManifestPickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(manifest)
    partial.replace(target / _MANIFEST_CACHE.format(key=key))  # atomic: a reader never sees half a file


def _invoke(runner: Any, args: Sequence[str]) -> Any:
    """``runner.invoke(args)`` on a thread of its own, in the caller's context.

    Each command makes a new adapter, whose behavior flags look up their source with
    ``inspect.stack()``: twice per command, about 1 ms per frame of the calling thread. Under
    Prefect's task engine that was 0.09 s a command; on a new thread only dbt's own frames are walked.
    """
    outcome: list[Any] = []
    failure: list[BaseException] = []
    context = copy_context()

    def command() -> None:
        try:
            outcome.append(context.run(runner.invoke, list(args)))
        except BaseException as exc:  # raised again on the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=command, name="dbt")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _manifest(settings: Settings, options: list[str], dbt_vars: dict[str, Any]) -> Any | None:
    """The project's parsed manifest: from this process, else from the last parse with the same
    inputs (a pickle in dbt's target dir), else parsed now.

    dbt's own partial parsing still costs about a second per process (it rebuilds the manifest from
    its msgpack and rechecks every file); loading the pickle takes about 10 ms. The key covers what
    partial parsing checks, so any change to the project, vars, target or dbt parses afresh.
    """
    from dbt.cli.main import dbtRunner

    key = _manifest_key(settings, options, dbt_vars)
    if key not in _parsed:
        target = Path(settings.dbt_project_dir) / "target"
        manifest = _load_cached_manifest(target, key)
        if manifest is None:
            outcome = _invoke(dbtRunner(), ["parse", "--no-write-json", *options])
            if not outcome.success or outcome.result is None:
                return None  # the build itself parses and reports the problem
            manifest = outcome.result
            _save_manifest(target, key, manifest)
        _parsed.clear()
        _parsed[key] = manifest
    return _parsed[key]


def _options(settings: Settings) -> tuple[list[str], dict[str, Any]]:
    """dbt's command-line options for this project and target, and the vars they pass."""
    os.environ.update(dbt_env(settings))
    Path(settings.warehouse_path).parent.mkdir(parents=True, exist_ok=True)
    project = str(Path(settings.dbt_project_dir).resolve())
    dbt_vars = access_vars(settings)
    options = ["--project-dir", project, "--profiles-dir", project, "--target", settings.dbt_target]
    return [*options, "--vars", json.dumps(dbt_vars)], dbt_vars


def parsed_manifest(settings: Settings) -> Any:
    """The project's parsed dbt manifest (``dbt.contracts.graph.manifest.Manifest``); None when it does not parse."""
    options, dbt_vars = _options(settings)
    return _manifest(settings, options, dbt_vars)


# A selector no node carries: a run of it does dbt's per-process setup and nothing else.
_NOTHING = "tag:feedbackloop_selects_nothing"


def parse_ahead(settings: Settings) -> None:
    """Import dbt, parse the project and do dbt's one-time setup now, for the builds later in this process.

    For a caller that would otherwise sit idle, such as a pipeline run waiting for its Prefect API.
    The setup (the adapter, and the JSON schemas dbt validates the profile and project with) takes
    the first command about 0.6 s; a ``dbt run`` that selects nothing does it without touching a table.
    """
    from dbt.cli.main import dbtRunner

    options, dbt_vars = _options(settings)
    manifest = _manifest(settings, options, dbt_vars)
    if manifest is not None:
        _invoke(dbtRunner(manifest=manifest), ["run", "--select", _NOTHING, "--no-write-json", "--quiet", *options])


@contextlib.contextmanager
def warehouse_kept_open(settings: Settings) -> Iterator[None]:
    """Keep the DuckDB warehouse open, Delta extension loaded, for the dbt commands run inside.

    dbt-duckdb opens the warehouse at each command and closes it after, and loading the Delta
    extension again costs each command about 0.1 s (the signature check of an 80 MB file). While
    this connection is open, DuckDB gives dbt the same database, extension loaded: it asks with the
    same path and configuration. No other process can write the warehouse meanwhile, so a pipeline
    run holds it for its own builds only. Other targets and runners are left alone.
    """
    if settings.dbt_target != "duckdb" or settings.dbt_runner != "local":
        yield
        return
    import duckdb

    path = Path(settings.warehouse_path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path), read_only=False, config={})  # as dbt-duckdb connects
    try:
        conn.install_extension("delta")
        conn.load_extension("delta")
        yield
    finally:
        conn.close()


def run_dbt(settings: Settings, args: list[str]) -> DbtResult:
    """``dbt <args>`` with the project's profile; raises DbtError when any node errors or fails."""
    from dbt.artifacts.schemas.run import RunExecutionResult
    from dbt.cli.main import dbtRunner

    options, dbt_vars = _options(settings)
    # Left to itself, dbt rewrites manifest.json (1 MB, unchanged since the parse) after every build,
    # about 0.3 s; run_results.json, the artifact people open, is written here instead.
    command = [*args, "--no-write-json", *options]
    outcome = _invoke(dbtRunner(manifest=_manifest(settings, options, dbt_vars)), command)
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
            if status == "pass" and str(getattr(node.node, "resource_type", "")) == "test":
                result.passed_tests.append(node.node.unique_id)
    if result.failures or not outcome.success:
        detail = "\n  ".join(result.failures) or "dbt reported failure"
        raise DbtError(f"dbt {' '.join(args)} failed:\n  {detail}")
    return result
