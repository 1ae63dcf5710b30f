"""Build only what changed: compare each input table's Delta version with the layer's last successful build.

Delta versions are cheap to read (the transaction log only), so comparing them is how a rerun
with nothing new finishes in seconds instead of rebuilding and retesting a million rows, and how
a rerun with a few new files rebuilds and tests only the models downstream of the tables that
changed (``build_selection``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from feedbackloop.lake import Lake
from feedbackloop.lake_maintenance import data_changed_since
from feedbackloop.settings import Settings
from feedbackloop.warehouse import lake_tables

LAYER_INPUTS = {"silver": ("bronze",), "gold": ("bronze", "silver")}
# Files whose change can change what a build produces or checks; a change means a whole-layer build.
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models/**/*", "macros/**/*", "tests/**/*")


def _state_path(settings: Settings) -> Path:
    return Path(settings.warehouse_path).parent / "_state" / "dbt_inputs.json"


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
    layer_args = ["--select", *select.split()]
    if force or recorded is None:
        return layer_args
    if state.get(f"{select}#project") != fingerprint:
        return [*layer_args, "--full-refresh"]
    current = input_versions(settings, select)
    changed = changed_inputs(settings, recorded, current)
    if not changed:
        return None
    selectors = []
    for key in changed:
        layer, name = key.split(".", 1)
        for part in select.split():
            selectors.append(f"source:{layer}.{name}+,{part}")  # a table a Python stage writes
            if layer != "bronze":
                selectors.append(f"{name}+,{part}")  # a table dbt builds in an upstream layer
    return ["--select", *selectors, "--exclude-resource-type", "unit_test"]


def record_success(settings: Settings, select: str, fingerprint: str | None = None) -> None:
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = _load(settings)
    state[select] = input_versions(settings, select)
    if fingerprint is not None:
        state[f"{select}#project"] = fingerprint
    path.write_text(json.dumps(state, indent=2, sort_keys=True))
