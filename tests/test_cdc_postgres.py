"""Change capture from a real PostgreSQL through a logical replication slot: every committed change
lands in bronze exactly once, the slot never runs ahead of bronze, and a lost slot, a killed capture
or a restarting server costs a resumable recovery, never a loss or a duplicate."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from feedbackloop.cdc.postgres import CaptureError, capture
from feedbackloop.ingest.changes import parse_lsn
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings, get_settings
from tests.streaming import PrivateCluster

pytestmark = [pytest.mark.postgres]
SHARED_DSN = os.environ.get("FEEDBACKLOOP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TABLE_SQL = """
create table {t} (
    ticket_id bigserial primary key, customer_id text, subject text, body text not null, status text,
    product_area text, platform text, created_at timestamptz not null default now()
);
alter table {t} replica identity full;
"""


class Database:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.name = f"fl_{uuid.uuid4().hex[:10]}"
        self.table = f"{self.name}.support_tickets"
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        self.sql(f"create schema {self.name}; " + TABLE_SQL.format(t=self.table))

    def sql(self, statement: str, *args: object) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(statement, args or None)
            return cur.fetchall() if cur.description else []

    def insert(self, body: str, status: str = "open") -> int:
        return self.sql(f"insert into {self.table} (customer_id, subject, body, status) values ('u1', 'Help', %s, %s) "
                        "returning ticket_id", body, status)[0][0]  # fmt: skip

    def drop_slot(self) -> None:
        """Drop the slot once its walsender (of the capture that just returned) has exited."""
        deadline = time.monotonic() + 10
        while self.sql("select active from pg_replication_slots where slot_name = %s", self.name)[0][0]:
            assert time.monotonic() < deadline, "slot stayed active"
            time.sleep(0.05)
        self.sql("select pg_drop_replication_slot(%s)", self.name)

    def slot_lsn(self) -> int | None:
        rows = self.sql("select confirmed_flush_lsn::text from pg_replication_slots where slot_name = %s", self.name)
        return parse_lsn(rows[0][0]) if rows else None

    def drop(self) -> None:
        self.sql("select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = %s "
                 "and active_pid is not null", self.name)  # fmt: skip
        time.sleep(0.2)
        self.sql("select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = %s", self.name)
        self.sql(f"drop publication if exists {self.name}; drop schema if exists {self.name} cascade")
        self.conn.close()


def configure(monkeypatch: pytest.MonkeyPatch, db: Database) -> Settings:
    for key, value in {"CDC_DSN": db.dsn, "CDC_TABLES": json.dumps({db.table: "support_db"}),
                       "CDC_SLOT_NAME": db.name, "CDC_PUBLICATION": db.name, "CDC_IDLE_SECONDS": "0.5",
                       "CDC_FLUSH_SECONDS": "0.2", "CDC_RECONNECT_SECONDS": "60"}.items():  # fmt: skip
        monkeypatch.setenv(f"FEEDBACKLOOP_{key}", value)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(SHARED_DSN)
    if database.sql("show wal_level")[0][0] != "logical":
        database.drop()
        pytest.fail("PostgreSQL on 127.0.0.1:5432 needs wal_level=logical: run scripts/postgres_logical.sh")
    yield database
    database.drop()


@pytest.fixture
def cdc_settings(db: Database, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return configure(monkeypatch, db)


def changes(settings: Settings) -> list[dict]:
    if not Lake(settings).exists("bronze", "feedback_changes"):
        return []
    return sorted(Lake(settings).read("bronze", "feedback_changes").to_pylist(), key=lambda c: (c["lsn"], c["op"]))


def test_first_run_snapshots_existing_rows_then_streams_changes_with_op_lsn_and_commit_time(
    db: Database, cdc_settings: Settings
) -> None:
    existing = db.insert("Charged twice")
    first = capture(cdc_settings, "run-1")
    assert (first.snapshots, first.snapshot_changes) == (1, 1)
    added = db.insert("Cannot log in", "new")
    db.sql(f"update {db.table} set status = 'solved' where ticket_id = %s", existing)
    db.sql(f"delete from {db.table} where ticket_id = %s", added)
    second = capture(cdc_settings, "run-2")
    assert (second.transactions, second.changes_written, second.snapshots) == (3, 3, 0)
    ops = [(c["op"], c["source_record_id"]) for c in changes(cdc_settings)]
    assert ops == [("snapshot", str(existing)), ("insert", str(added)), ("update", str(existing)),
                   ("delete", str(added))]  # fmt: skip
    update = changes(cdc_settings)[2]
    assert update["resolution_status"] == "solved" and update["commit_lsn"] >= update["lsn"]
    assert abs(update["changed_at"].timestamp() - time.time()) < 60


def test_slot_is_confirmed_only_up_to_what_bronze_holds_and_a_rerun_reads_nothing_twice(
    db: Database, cdc_settings: Settings
) -> None:
    capture(cdc_settings, "run-1")
    for i in range(5):
        db.insert(f"ticket {i}")
    stats = capture(cdc_settings, "run-2")
    checkpoints = Lake(cdc_settings).read("bronze", "cdc_checkpoint").column("confirmed_lsn").to_pylist()
    assert db.slot_lsn() == max(checkpoints) == parse_lsn(stats.confirmed_lsn)
    rerun = capture(cdc_settings, "run-3")
    assert (rerun.changes_read, rerun.snapshots) == (0, 0)
    assert len(changes(cdc_settings)) == 5


def test_a_slot_that_disappeared_is_recreated_and_the_gap_resynchronised(db: Database, cdc_settings: Settings) -> None:
    kept, edited, removed = db.insert("stays the same"), db.insert("will change"), db.insert("will go")
    capture(cdc_settings, "run-1")
    db.drop_slot()
    db.sql(f"update {db.table} set body = 'changed while no slot existed' where ticket_id = %s", edited)
    db.sql(f"delete from {db.table} where ticket_id = %s", removed)
    added = db.insert("added while no slot existed")
    stats = capture(cdc_settings, "run-2")
    assert (stats.snapshots, stats.snapshot_changes, stats.snapshot_deletes) == (1, 2, 1)
    after_gap = [(c["op"], c["source_record_id"]) for c in changes(cdc_settings) if c["ingest_run_id"] == "run-2"]
    assert sorted(after_gap) == sorted([("snapshot", str(edited)), ("snapshot", str(added)), ("delete", str(removed))])
    assert str(kept) not in {rid for _, rid in after_gap}  # unchanged rows land as nothing
    assert db.slot_lsn() is not None


def test_a_slot_recreated_by_someone_else_is_not_trusted(db: Database, cdc_settings: Settings) -> None:
    db.insert("before")
    capture(cdc_settings, "run-1")
    db.drop_slot()
    db.insert("lost unless re-synchronised")
    db.sql("select pg_create_logical_replication_slot(%s, 'pgoutput')", db.name)
    stats = capture(cdc_settings, "run-2")
    assert stats.snapshot_changes == 1


def test_capture_without_logical_decoding_configured_says_what_to_fix(monkeypatch: pytest.MonkeyPatch,
                                                                      settings: Settings) -> None:  # fmt: skip
    monkeypatch.setenv("FEEDBACKLOOP_CDC_TABLES", json.dumps({"tickets": "support_db"}))
    monkeypatch.setenv("FEEDBACKLOOP_CDC_DSN", SHARED_DSN)
    get_settings.cache_clear()
    with pytest.raises(CaptureError, match=r"must be schema-qualified, e\.g\. public\.tickets"):
        capture(get_settings(), "run-1")


CAPTURE_FOREVER = "from feedbackloop.cdc.postgres import capture; from feedbackloop.settings import Settings; " \
                  "capture(Settings(), 'killed', follow=True)"  # fmt: skip


@pytest.mark.slow
def test_capture_killed_mid_stream_resumes_with_every_change_exactly_once(db: Database, cdc_settings: Settings) -> None:
    capture(cdc_settings, "run-0")
    proc = subprocess.Popen([sys.executable, "-c", CAPTURE_FOREVER], env=os.environ.copy())
    inserted = 0
    kill_at = random.uniform(1.0, 3.0)
    start = time.monotonic()
    while time.monotonic() - start < 4.0:
        db.insert(f"ticket {inserted}")
        inserted += 1
        if proc.poll() is None and time.monotonic() - start > kill_at:
            os.kill(proc.pid, signal.SIGKILL)  # between any two steps: mid-batch, mid-commit, before the confirm
        time.sleep(0.005)
    proc.wait()
    while capture(cdc_settings, "resume").changes_read:
        pass
    landed = [c["source_record_id"] for c in changes(cdc_settings) if c["op"] == "insert"]
    assert len(landed) == len(set(landed)) == inserted
    assert db.slot_lsn() <= max(Lake(cdc_settings).read("bronze", "cdc_checkpoint").column("confirmed_lsn").to_pylist())


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    yield cluster
    cluster.destroy()


@pytest.mark.slow
def test_postgres_restarting_mid_stream_costs_a_reconnect_not_a_change(
    private_cluster: PrivateCluster, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(private_cluster.dsn)
    settings = configure(monkeypatch, db)
    monkeypatch.setenv("FEEDBACKLOOP_CDC_IDLE_SECONDS", "3")
    get_settings.cache_clear()
    settings = get_settings()
    capture(settings, "run-0")
    for i in range(50):
        db.insert(f"before restart {i}")
    proc = subprocess.Popen([sys.executable, "-c", CAPTURE_FOREVER], env=os.environ.copy(), stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    time.sleep(1.5)
    db.conn.close()
    private_cluster.restart()  # immediate stop: the walsender and every client connection die
    db.conn = psycopg2.connect(private_cluster.dsn)
    db.conn.autocommit = True
    for i in range(50):
        db.insert(f"after restart {i}")
    time.sleep(4)
    proc.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate()
    assert "connection to PostgreSQL lost" in stderr
    while capture(settings, "resume").changes_read:
        pass
    landed = [c["source_record_id"] for c in changes(settings) if c["op"] == "insert"]
    assert len(landed) == len(set(landed)) == 100
    db.drop()
