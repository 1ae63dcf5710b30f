"""Data tests that check only the rows that changed since they last passed.

A ``not_null`` (or ``not_null_columns``), ``accepted_values``, ``unique`` or ``relationships``
test passed over a table at some Delta version. Every row still in a file that was live then has
been checked, so a rerun needs to look only at the rows added since (the files the log added),
and for the two tests that compare rows with other rows, at the rows those can clash with:
  - ``unique``: every row whose value one of the added rows has;
  - ``relationships``: the added rows whose key the parent's added rows do not hold (those
    parents are live), and every row whose parent key has been removed from the parent table since
    (in a removed file, and in no added one).
That is exact: a row the scope leaves out passed before, and nothing it depends on has moved.

dbt asks for the scope through ``get_where_subquery`` (``macros/get_where_subquery.sql``), which
hands the test's arguments to the delta plugin (``delta_plugin.py``), and the plugin calls ``scope``.
Only a build that feedbackloop runs (``scoped_tests``) is scoped, and a test's versions are recorded
only once it has passed. Whenever the versions cannot be followed (no record, a table made again,
a file vacuumed away, a remote lake), the test checks the whole table.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from feedbackloop.lake import Lake
from feedbackloop.settings import Settings, get_settings
from feedbackloop.transform.state import SOURCES_TESTED_BY
from feedbackloop.warehouse import files_have_columns, parquet_files, source_tables

KINDS = ("not_null", "not_null_columns", "accepted_values", "unique", "relationships")
# Past this many bytes of changed files (a rebuilt table, say), checking every row costs no more.
MAX_CHANGED_BYTES = 64 * 2**20

_active = False
# Versions each test was checked against in the running build: recorded once it has passed.
_pending: dict[str, dict[str, list[Any]]] = {}
_scoped: set[str] = set()  # the tests of the running build that check only changed rows


def _state_path(settings: Settings) -> Path:
    return settings.state_dir / "data_tests.json"


def _load(settings: Settings) -> dict[str, dict[str, list[Any]]]:
    path = _state_path(settings)
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def scoped_tests(enabled: bool = True) -> Iterator[set[str]]:
    """Scope the data tests of the builds run inside (when ``enabled``); yields the ids of the tests
    that were, once the build is done."""
    global _active
    _pending.clear()
    _scoped.clear()
    _active = enabled
    scoped: set[str] = set()
    try:
        yield scoped
    finally:
        _active = False
        scoped.update(_scoped)


def forget(settings: Settings, select: str | None = None) -> None:
    """Drop the records of the tests a build of the ``select`` layers runs (every record without
    one), so each of them checks its whole table next time: the tests themselves may have changed.

    A layer runs the tests of its own models and of the sources it tests (``SOURCES_TESTED_BY``);
    a test belongs to it when it checked one of those tables. Another layer's records stay: gold's
    rebuild must not make silver's next build recheck every bronze and silver row.
    """
    if select is None:
        _state_path(settings).unlink(missing_ok=True)
        return
    written_elsewhere = {f"{layer}.{name}" for layer, name in source_tables()}
    layers = select.split()

    def run_by_build(table: str) -> bool:
        layer = table.split(".", 1)[0]
        if table in written_elsewhere:
            return any(SOURCES_TESTED_BY.get(part) == layer for part in layers)
        return layer in layers

    state = _load(settings)
    kept = {test_id: tables for test_id, tables in state.items() if not any(map(run_by_build, tables))}
    if len(kept) != len(state):
        _state_path(settings).write_text(json.dumps(kept, indent=1, sort_keys=True))


def record_passed(settings: Settings, test_ids: Iterable[str]) -> None:
    """Record, for each test that passed, the versions it was checked against."""
    passed = {test_id: _pending[test_id] for test_id in test_ids if test_id in _pending}
    if not passed:
        return
    state = _load(settings)
    state.update(passed)
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=1, sort_keys=True))


def scope(test_id: str, kind: str, relation: str, table: str, column: str, parent: str, parent_field: str) -> str:
    """SQL for the rows test ``test_id`` must check in ``relation`` (the Delta table ``table``, as
    ``layer.name``); '' for every row. ``column`` is the tested column (comma-separated for
    ``not_null_columns``); ``parent`` and ``parent_field`` name a relationships test's parent table
    and key ('' otherwise)."""
    try:
        sql = _scope(test_id, kind, relation, table, column, parent, parent_field)
    except Exception:
        # A scope only saves time: failing to work one out (an unreadable file, say) must not fail the test.
        _pending.pop(test_id, None)
        return ""
    if sql:
        _scoped.add(test_id)
    return sql


def _scope(test_id: str, kind: str, relation: str, table: str, column: str, parent: str, parent_field: str) -> str:
    settings = get_settings()
    lake = Lake(settings)
    tables = [table, parent] if parent else [table]
    now: dict[str, list[Any]] = {}
    for key in tables:
        layer, _, name = key.partition(".")
        version = lake.version(layer, name)
        if version is None:
            return ""
        now[key] = lake.stamped(layer, name, version)
    _pending[test_id] = now
    recorded = _load(settings).get(test_id)
    if not _active or kind not in KINDS or not recorded or (kind == "relationships" and not parent):
        return ""
    changed = {}
    for key in tables:
        layer, _, name = key.partition(".")
        if not lake.same_commit(layer, name, recorded.get(key)):
            return ""  # not followed, or the table was made again since
        files = lake.data_files_changed_since(layer, name, recorded[key][0], MAX_CHANGED_BYTES)
        if files is None:
            return ""
        changed[key] = files
    added, _ = changed[table]
    if added and not files_have_columns(added, column.split(",")):
        return ""  # a column the files do not hold (a partition column, say)
    if kind in ("not_null", "not_null_columns", "accepted_values"):
        return f"select * from {parquet_files(added)}" if added else f"select * from {relation} where false"
    if kind == "relationships":
        return _relationships_scope(relation, column, parent_field, added, *changed[parent])
    if not added:
        return f"select * from {relation} where false"
    return f"select * from {relation} where {column} in (select {column} from {parquet_files(added)})"


def _relationships_scope(
    relation: str, column: str, field: str, added: list[str], parent_added: list[str], parent_removed: list[str]
) -> str:
    """The child rows a relationships test must check: the added ones, but not those whose key the
    parent's added rows hold (those rows are live, so the key exists), and every row whose parent
    key has left the parent. A new child row usually arrives with its parent, so the test then
    checks next to nothing, instead of joining every child key with every parent key."""
    new = f"select {column} from {parquet_files(added)}" if added else ""
    if new and parent_added and files_have_columns(parent_added, [field]):
        parents = f"select {field} from {parquet_files(parent_added)} where {field} is not null"
        new += f" where {column} not in ({parents})"
    if not parent_removed:
        return new or f"select * from {relation} where false"
    # Rows whose parent key went are found in the whole table, each once, together with the new ones.
    gone = f"select {field} from {parquet_files(parent_removed)}"
    if parent_added:
        gone += f" except select {field} from {parquet_files(parent_added)}"
    keys = f"({new}) union ({gone})" if new else gone
    return f"select * from {relation} where {column} in ({keys})"
