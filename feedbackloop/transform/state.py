"""Skip a dbt build when none of its input tables changed since its last successful build.

Delta versions are cheap to read (the transaction log only), so comparing them is how a rerun
with nothing new finishes in seconds instead of rebuilding and retesting a million rows.
"""

from __future__ import annotations

import json
from pathlib import Path

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import lake_tables

LAYER_INPUTS = {"silver": ("bronze",), "gold": ("bronze", "silver")}


def _state_path(settings: Settings) -> Path:
    return Path(settings.warehouse_path).parent / "_state" / "dbt_inputs.json"


def input_versions(settings: Settings, select: str) -> dict[str, int]:
    """Delta version of every table the selected layers read (sources and upstream layers)."""
    layers = {layer for part in select.split() for layer in LAYER_INPUTS.get(part, ("bronze", "silver"))}
    lake = Lake(settings)
    versions = {}
    for layer, name in lake_tables(settings):
        if layer in layers:
            table = lake.table(layer, name)
            if table is not None:
                versions[f"{layer}.{name}"] = table.version()
    return versions


def is_up_to_date(settings: Settings, select: str) -> bool:
    path = _state_path(settings)
    if not path.exists():
        return False
    recorded = json.loads(path.read_text()).get(select)
    return recorded == input_versions(settings, select)


def record_success(settings: Settings, select: str) -> None:
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = json.loads(path.read_text()) if path.exists() else {}
    state[select] = input_versions(settings, select)
    path.write_text(json.dumps(state, indent=2, sort_keys=True))
