"""Which records a silver build must look at: the keys of the bronze rows appended since its last build.

``int_feedback__deduplicated`` finds the rows a full rebuild would now compute differently by
comparing itself with its inputs: every silver doc against every stored row, plus checks for rows
an erasure took. When nothing but silver's own builds has written silver since the last one, and
bronze has only been appended to, the answer is known before the build starts: the records of the
new bronze feedback rows (new docs and new versions) and of the new change-log rows (a status
update, a delete, a comeback). The model's stale-row check then starts from those records
(``macros/changed_since_last_build.sql``: ``silver_changes``) instead of comparing everything.

Whenever that cannot be told (a first build, an erasure or a forget that rewrote silver or bronze,
a file vacuumed away, a remote lake, more than 64 MB of new files), no key file is left and the
model compares everything, as before.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.transform.changes import MAX_CHANGED_BYTES, RECORD_KEY, changed_keys, write_keys

LAYER = "silver"
# The bronze tables the deduplication depends on, with the columns that name a changed record.
BRONZE: dict[str, tuple[str, ...]] = {
    "bronze.feedback": ("doc_id", *RECORD_KEY),
    "bronze.feedback_changes": RECORD_KEY,
}
# The silver tables it reads or writes: nothing but a silver build may have changed their rows since.
SILVER = (
    "silver.stg_bronze__feedback",
    "silver.stg_bronze__feedback_changes",
    "silver.int_feedback__latest_changes",
    "silver.int_feedback__deduplicated",
)


def _state_path(settings: Settings) -> Path:
    return settings.state_dir / "silver_inputs.json"


def new_docs_path(settings: Settings) -> Path:
    """The doc ids (with their records) of the bronze feedback rows appended since silver's last build."""
    return settings.state_dir / "silver_new_docs.parquet"


def changed_records_path(settings: Settings) -> Path:
    """The records of the bronze change-log rows appended since silver's last build."""
    return settings.state_dir / "silver_changed_records.parquet"


def record_build(settings: Settings, select: str, before: dict[str, int]) -> None:
    """After a successful silver build: the silver tables as the build left them, and bronze as of
    ``before`` (the versions read when it started; rows appended during the build count as new)."""
    if select.split() != [LAYER]:
        return
    lake = Lake(settings)
    state = {}
    for key in (*SILVER, *BRONZE):
        layer, name = key.split(".", 1)
        version = lake.version(layer, name) if key in SILVER else before.get(key)
        if version is not None:
            state[key] = lake.stamped(layer, name, version)
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2, sort_keys=True))


def write_new_keys(settings: Settings) -> bool:
    """Write the keys of the bronze rows appended since silver's last build; False (and no files)
    when silver or bronze changed in any other way, or the record of that build is missing."""
    path = _state_path(settings)
    if not settings.is_local_lake or settings.dbt_target != "duckdb" or not path.exists():
        return False
    recorded = json.loads(path.read_text())
    lake = Lake(settings)
    keys: dict[str, pa.Table] = {}
    for key in (*SILVER, *BRONZE):
        if key not in recorded:
            return False
        layer, name = key.split(".", 1)
        if not lake.same_commit(layer, name, recorded[key]):
            return False  # made again since
        files = lake.data_files_changed_since(layer, name, recorded[key][0], MAX_CHANGED_BYTES)
        if files is None:
            return False
        added, removed = files
        if key in SILVER and (added or removed):
            return False  # written outside a silver build: an erasure, a forget, a build by hand
        if key in BRONZE:
            if removed:
                return False  # bronze is append-only but for erasures
            table = changed_keys(files, BRONZE[key])
            if table is None:
                return False
            keys[key] = table
    write_keys(new_docs_path(settings), [keys["bronze.feedback"]], ["doc_id", *RECORD_KEY])
    records = [keys["bronze.feedback_changes"], keys["bronze.feedback"].select(list(RECORD_KEY))]
    write_keys(changed_records_path(settings), records, list(RECORD_KEY))
    return True


@contextlib.contextmanager
def new_keys_for_build(settings: Settings, select: str, enabled: bool = True) -> Iterator[bool]:
    """The new bronze keys on disk for the length of one silver-only build, and never longer: a
    ``dbt build`` run by hand compares everything. Yields whether they are."""
    paths = (new_docs_path(settings), changed_records_path(settings))
    for path in paths:
        path.unlink(missing_ok=True)  # left by a build that was killed
    written = enabled and select.split() == [LAYER] and write_new_keys(settings)
    try:
        yield written
    finally:
        for path in paths:
            path.unlink(missing_ok=True)
