"""Build only what changed: compare each input table's Delta version with the layer's last successful build.

Delta versions are cheap to read (the transaction log only), so comparing them is how a rerun
with nothing new finishes in seconds instead of rebuilding and retesting a million rows, and how
a rerun with a few new files rebuilds and tests only the models downstream of the tables that
changed (``build_selection``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from feedbackloop.lake import Lake
from feedbackloop.lake_maintenance import data_changed_since
from feedbackloop.settings import Settings
from feedbackloop.warehouse import lake_tables, source_tables

LAYER_INPUTS = {"silver": ("bronze",), "gold": ("bronze", "silver")}
# A layer also runs the data tests of the tables it reads that dbt does not build (bronze for silver,
# the Python-written silver tables for gold): they are declared on those sources, outside its folder.
SOURCES_TESTED_BY = {"silver": "bronze", "gold": "silver"}
# Bronze column every stage stamps at write time; silver's staging models read bronze from a watermark on it.
WATERMARK_COLUMN = "ingested_at"
# Files whose change can change what a build produces or checks; a change means a whole-layer build.
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models/**/*", "macros/**/*", "tests/**/*")


def _state_path(settings: Settings) -> Path:
    return settings.state_dir / "dbt_inputs.json"


def _load(settings: Settings) -> dict:
    path = _state_path(settings)
    return json.loads(path.read_text()) if path.exists() else {}


def input_versions(settings: Settings, select: str) -> dict[str, int]:
    """Delta version of every table the selected layers read (sources and upstream layers)."""
    layers = {layer for part in select.split() for layer in LAYER_INPUTS.get(part, ("bronze", "silver"))}
    lake = Lake(settings)
    versions = {}
    for layer, name in lake_tables(settings):
        if layer in layers:
            version = lake.version(layer, name)
            if version is not None:
                versions[f"{layer}.{name}"] = version
    return versions


def project_fingerprint(settings: Settings, dbt_vars: dict | None = None) -> str:
    """A hash of the dbt project's models, macros, tests and configuration (and the vars passed in)."""
    root = Path(settings.dbt_project_dir)
    digest = hashlib.sha256(json.dumps(dbt_vars or {}, sort_keys=True).encode())
    files = sorted({p for pattern in PROJECT_FILES for p in root.glob(pattern) if p.is_file()})
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def changed_inputs(settings: Settings, recorded: dict[str, int], current: dict[str, int]) -> list[str]:
    """Input tables whose rows may differ from the recorded build's: a new or dropped table, or a
    commit since then that changed data. Compaction and vacuum (lake maintenance) change none."""
    lake = Lake(settings)
    changed = []
    for key in sorted(current.keys() | recorded.keys()):
        if current.get(key) == recorded.get(key):
            continue
        layer, name = key.split(".", 1)
        if key in current and key in recorded and not data_changed_since(lake, layer, name, recorded[key]):
            continue
        changed.append(key)
    return changed


def is_up_to_date(settings: Settings, select: str) -> bool:
    recorded = _load(settings).get(select)
    return recorded is not None and not changed_inputs(settings, recorded, input_versions(settings, select))


def build_selection(settings: Settings, select: str, fingerprint: str, force: bool = False) -> list[str] | None:
    """dbt selection arguments for building ``select`` (one or more layers); None when nothing changed.

    The whole layer, unit tests included, when forced or on a first build; also when the project
    itself changed since the last successful build, and then with ``--full-refresh``: incremental
    models keep rows the old SQL computed, in the old columns. Otherwise only the models and data
    tests of the layer that are downstream of an input table whose Delta version moved: a model none of whose inputs
    changed would be rebuilt to the same rows, and its data tests would check the same rows again.
    Unit tests check the SQL against fixed rows, so they run when the SQL changes, not on every run.
    """
    state = _load(settings)
    recorded = state.get(select)
    parts = select.split()
    layer_args = ["--select", *parts, *(f"source:{SOURCES_TESTED_BY[p]}" for p in parts if p in SOURCES_TESTED_BY)]
    if force or recorded is None:
        return layer_args
    if state.get(f"{select}#project") != fingerprint:
        return [*layer_args, "--full-refresh"]
    current = input_versions(settings, select)
    changed = changed_inputs(settings, recorded, current)
    if not changed:
        return None
    selectors = []
    written_elsewhere = set(source_tables())
    for key in changed:
        layer, name = key.split(".", 1)
        for part in parts:
            selectors.append(f"source:{layer}.{name}+,{part}")  # a table a Python stage writes
            if SOURCES_TESTED_BY.get(part) == layer and (layer, name) in written_elsewhere:
                selectors.append(f"source:{layer}.{name}")  # its own data tests
            if layer != "bronze":
                selectors.append(f"{name}+,{part}")  # a table dbt builds in an upstream layer
    return ["--select", *selectors, "--exclude-resource-type", "unit_test"]


def record_success(
    settings: Settings, select: str, fingerprint: str | None = None, before: dict[str, int] | None = None
) -> None:
    """Record the input versions this build covered.

    The tables the build itself wrote are recorded as they are now (a silver-and-gold build appends
    to silver, which its gold part then reads). Every table a stage outside dbt writes (a dbt
    source) is recorded as of ``before``, the versions read when the build started: rows a
    concurrent writer committed during the build may have been missed, so the next run must still
    see them as new.
    """
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = _load(settings)
    now = input_versions(settings, select)
    built = set(select.split())
    written_elsewhere = {f"{layer}.{name}" for layer, name in source_tables()}

    def covered(key: str, version: int) -> int:
        if before is None or key not in before:
            return version
        built_here = key.split(".", 1)[0] in built and key not in written_elsewhere
        return version if built_here else before[key]

    state[select] = {key: covered(key, version) for key, version in now.items()}
    if fingerprint is not None:
        state[f"{select}#project"] = fingerprint
    path.write_text(json.dumps(state, indent=2, sort_keys=True))


def watermarks_path(settings: Settings) -> Path:
    """Where a build finds its bronze watermarks (``macros/recently_ingested.sql`` reads it)."""
    return _state_path(settings).parent / "watermarks.json"


def bronze_watermarks(settings: Settings, select: str) -> dict[str, str]:
    """For each bronze table the layer read at its last build: the oldest ``ingested_at`` among the
    rows committed since, from the Delta log's file statistics.

    Every row silver lacks was committed after that build started, so a staging model may skip
    older rows, and DuckDB's Delta scan then skips older files by their statistics. A table whose
    new files cannot be bounded (a log entry gone, a file without statistics, a remote lake) gets no
    watermark: its model falls back to the time look-back.
    """
    recorded = _load(settings).get(select) or {}
    lake = Lake(settings)
    marks = {}
    for key, version in sorted(recorded.items()):
        layer, name = key.split(".", 1)
        if layer != "bronze":
            continue
        oldest = lake.oldest_added_since(layer, name, version, WATERMARK_COLUMN)
        if oldest is None:
            continue
        marks[key] = oldest.isoformat()
    return marks


@contextlib.contextmanager
def watermarks_for_build(settings: Settings, select: str) -> Iterator[dict[str, str]]:
    """The layer's bronze watermarks on disk for the length of one build, and never longer: a later
    ``dbt build`` run by hand must not read a stale one (it falls back to the time look-back)."""
    path = watermarks_path(settings)
    path.unlink(missing_ok=True)  # left by a build that was killed
    # Only silver's staging models read bronze this way.
    marks = bronze_watermarks(settings, select) if "silver" in select.split() else {}
    if marks:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([{"table": key, "ingested_from": value} for key, value in marks.items()]))
    try:
        yield marks
    finally:
        path.unlink(missing_ok=True)
