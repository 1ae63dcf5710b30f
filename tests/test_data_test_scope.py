"""Data tests check only the rows that changed since they last passed, and still catch every failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from feedbackloop.governance.purge import delete_keys, erase_rows
from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.silver.enrich import enrich_new_feedback
from feedbackloop.transform import test_scope
from feedbackloop.transform.dbt import DbtError
from feedbackloop.warehouse import connect, ensure_source_tables
from flows.transform import transform
from tests.samples import app_store_row, write_app_store

CHILD = ("silver", "child")
PARENT = ("silver", "parent")


def rows(**columns: list) -> pa.Table:
    return pa.table(columns)


def scope(kind: str, column: str = "key", parent_field: str = "") -> str:
    parent = ".".join(PARENT) if parent_field else ""
    return test_scope.scope("test.x", kind, "silver.child", ".".join(CHILD), column, parent, parent_field)


def passed(settings: Settings, kind: str, column: str = "key", parent_field: str = "") -> None:
    """As if the test ran (scoped or not) and passed."""
    scope(kind, column, parent_field)
    test_scope.record_passed(settings, ["test.x"])


def checked(settings: Settings, sql: str) -> list[tuple]:
    """The rows a scope's SQL selects, read as the test would read them."""
    return sorted(connect(settings).sql(sql).fetchall(), key=repr)


@pytest.fixture(autouse=True)
def in_a_feedbackloop_build() -> Iterator[None]:
    with test_scope.scoped_tests():
        yield


def test_a_test_that_never_passed_checks_every_row(settings: Settings) -> None:
    Lake(settings).append(*CHILD, rows(key=["a"]))
    assert scope("not_null") == ""


def test_not_null_checks_only_the_rows_added_since_it_passed(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a", "b"]))
    passed(settings, "not_null")
    lake.append(*CHILD, rows(key=[None, "c"]))
    assert checked(settings, scope("not_null")) == [("c",), (None,)]


def test_a_test_of_several_columns_checks_only_the_rows_added_since_it_passed(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a"], note=["x"]))
    passed(settings, "not_null_columns", column="key,note")
    lake.append(*CHILD, rows(key=["b"], note=pa.array([None], pa.string())))
    assert checked(settings, scope("not_null_columns", column="key,note")) == [("b", None)]


def test_nothing_added_checks_no_row(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a"]))
    passed(settings, "accepted_values")
    assert checked(settings, scope("accepted_values")) == []


def test_unique_checks_every_row_that_shares_a_value_with_an_added_row(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a", "b"]))
    passed(settings, "unique")
    lake.append(*CHILD, rows(key=["a"]))
    assert checked(settings, scope("unique")) == [("a",), ("a",)]


def test_relationships_checks_rows_whose_parent_key_was_removed(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*PARENT, rows(id=["k1", "k2", "k3"]))
    lake.append(*CHILD, rows(key=["k1", "k2"]))
    passed(settings, "relationships", parent_field="id")
    parent = lake.table(*PARENT)
    assert parent is not None and delete_keys(parent, "id", ["k2", "k3"]) == 2
    assert checked(settings, scope("relationships", parent_field="id")) == [("k2",)]


def test_relationships_skips_added_rows_whose_parent_was_added_too(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*PARENT, rows(id=["k1"]))
    lake.append(*CHILD, rows(key=["k1"]))
    passed(settings, "relationships", parent_field="id")
    lake.append(*PARENT, rows(id=["k2", None]))
    lake.append(*CHILD, rows(key=["k2", "k1", "k9"]))
    # k2's parent is among the parent's new rows; k1's is older, k9 has none: both are checked
    assert checked(settings, scope("relationships", parent_field="id")) == [("k1",), ("k9",)]


def test_a_new_child_row_whose_parent_key_left_is_checked_once(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*PARENT, rows(id=["k1", "k2"]))
    lake.append(*CHILD, rows(key=["k1"]))
    passed(settings, "relationships", parent_field="id")
    lake.append(*CHILD, rows(key=["k2"]))
    parent = lake.table(*PARENT)
    assert parent is not None and delete_keys(parent, "id", ["k2"]) == 1
    assert checked(settings, scope("relationships", parent_field="id")) == [("k2",)]


def test_a_purged_history_means_every_row_is_checked(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a", "b"]))
    passed(settings, "not_null")
    child = lake.table(*CHILD)
    assert child is not None
    erase_rows(child, "key", ["a"])
    assert scope("not_null") == ""


def test_a_build_feedbackloop_does_not_run_checks_every_row(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a"]))
    passed(settings, "not_null")
    lake.append(*CHILD, rows(key=["b"]))
    with test_scope.scoped_tests(enabled=False):
        assert scope("not_null") == ""


def test_forgetting_makes_every_test_check_every_row_again(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a"]))
    passed(settings, "not_null")
    test_scope.forget(settings)
    assert scope("not_null") == ""


def test_a_layer_rebuilt_from_scratch_forgets_only_the_tests_it_runs(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a"]))
    passed(settings, "not_null")  # a test of a silver model
    lake.append(*CHILD, rows(key=["b"]))
    test_scope.forget(settings, "gold")
    assert checked(settings, scope("not_null")) == [("b",)]
    test_scope.forget(settings, "silver")
    assert scope("not_null") == ""


def test_a_failed_test_is_not_recorded(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a"]))
    scope("not_null")
    test_scope.record_passed(settings, [])  # the test ran, and failed
    lake.append(*CHILD, rows(key=["b"]))
    assert scope("not_null") == ""


@pytest.mark.dbt
@pytest.mark.slow
def test_a_scoped_build_still_fails_on_a_duplicate_of_an_old_row(settings: Settings) -> None:
    def new_review(record_id: str, body: str) -> None:
        write_app_store(settings.inbox_dir / "app_store" / f"{record_id}.csv", [app_store_row(record_id, body=body)])
        ingest_inbox(settings, f"run-{record_id}")
        transform(select="silver")
        enrich_new_feedback(settings, f"run-{record_id}")

    ensure_source_tables(settings)
    new_review("a1", "Checkout keeps failing")
    transform(select="gold")
    new_review("a2", "Search is slow")
    assert transform(select="gold")["tests_scoped"] > 0

    # a row written behind dbt's back that repeats a doc gold had from the first build
    lake = Lake(settings)
    old = lake.read("gold", "fct_feedback")
    lake.append("gold", "fct_feedback", old.filter(pc.equal(old.column("source_record_id"), "a1")))
    new_review("a3", "Dark mode please")
    with pytest.raises(DbtError, match="unique_fct_feedback_doc_id"):
        transform(select="gold")


def test_changes_too_large_to_read_cheaply_mean_every_row_is_checked(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a"]))
    passed(settings, "not_null")
    lake.overwrite(*CHILD, rows(key=[f"k{i}" for i in range(1000)]))
    monkeypatch.setattr(test_scope, "MAX_CHANGED_BYTES", 1024)
    assert scope("not_null") == ""


def test_a_scope_that_cannot_be_worked_out_checks_every_row(settings: Settings) -> None:
    lake = Lake(settings)
    lake.append(*CHILD, rows(key=["a"]))
    passed(settings, "not_null")
    lake.append(*CHILD, rows(key=["b"]))
    added, _ = lake.data_files_changed_since(*CHILD, 0) or ([], [])
    Path(added[0]).write_bytes(b"not parquet")  # the test itself then reports the broken file
    assert scope("not_null") == ""
