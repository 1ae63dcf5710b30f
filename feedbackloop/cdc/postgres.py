"""Change capture from PostgreSQL through a logical replication slot (``pgoutput``).

Exactly once, by construction:
* changes are buffered per transaction and only whole committed transactions are written;
* bronze is committed first, then a ``bronze.cdc_checkpoint`` row, and only then is the LSN confirmed
  to the slot, so the slot never runs ahead of bronze. A crash in between re-streams from the slot's
  confirmed LSN and the writer's change_id check turns the re-read into counted duplicates;
* a lost connection (PostgreSQL restarting mid-stream) drops the unconfirmed buffer and resumes from
  the slot once the server is back;
* a missing slot, or one whose confirmed LSN is ahead of our last checkpoint (dropped and re-created
  by someone else), is re-created with an exported snapshot; the snapshot is reconciled against the
  latest state bronze knows, so rows changed or deleted while no slot existed land as ``snapshot`` and
  ``delete`` changes, and unchanged rows land as nothing.
"""

from __future__ import annotations

import json
import logging
import select
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from feedbackloop.bronze.tables import TABLES
from feedbackloop.cdc.pgoutput import UNCHANGED_TOAST, Begin, Commit, Decoder, Relation, RowChange, Truncate
from feedbackloop.ingest.base import RowError
from feedbackloop.ingest.changes import ChangeApplier, ChangeEvent, ChangeOp, format_lsn, parse_lsn
from feedbackloop.ingest.mapped import MappedAdapter
from feedbackloop.ingest.runner import BronzeWriter, FileIngester, _validation_reason
from feedbackloop.ingest.sources import adapters_for
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

log = logging.getLogger("feedbackloop.cdc")
# Both the walsender and the snapshot session print values identically, so a streamed row and the
# same row read from a snapshot compare equal.
SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=1"
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)
# When the server dies mid-COPY, libpq sometimes reports a bare DatabaseError with no message.
LOST_IN_COPY = "PGRES_COPY_BOTH and no message from the libpq"
UNCHANGED_TOAST_MARK = "__unchanged_toast__"


class CaptureError(RuntimeError):
    """Capture cannot proceed; the message says what to fix."""


@dataclass
class CaptureStats:
    transactions: int = 0
    changes_read: int = 0
    changes_written: int = 0
    changes_duplicate: int = 0
    changes_quarantined: int = 0
    versions_written: int = 0
    truncates_ignored: int = 0
    snapshots: int = 0
    snapshot_changes: int = 0
    snapshot_deletes: int = 0
    reconnects: int = 0
    bronze_commits: int = 0
    confirmed_lsn: str = ""
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Table:
    name: str
    adapter: MappedAdapter
    key_column: str

    @property
    def source_file(self) -> str:
        return f"postgresql:{self.name}"


def _dsn(settings: Settings) -> str:
    dsn = settings.cdc_dsn.get_secret_value()
    if not dsn:
        raise CaptureError("no database to capture: set FEEDBACKLOOP_CDC_DSN")
    return psycopg2.extensions.make_dsn(dsn, options=SESSION_OPTIONS, application_name="feedbackloop-cdc")


def _tables(settings: Settings) -> dict[str, _Table]:
    if not settings.cdc_tables:
        raise CaptureError('no table to capture: set FEEDBACKLOOP_CDC_TABLES, e.g. {"public.tickets": "support_db"}')
    adapters = adapters_for(settings)
    tables = {}
    for name, source in settings.cdc_tables.items():
        if "." not in name:
            raise CaptureError(f"cdc table {name!r} must be schema-qualified, e.g. public.{name}")
        factory = adapters.get(source)
        adapter = factory() if factory else None
        if not isinstance(adapter, MappedAdapter):
            raise CaptureError(f"cdc table {name!r} maps to {source!r}, which is no column mapping in config/sources")
        key = adapter.mapping.columns["source_record_id"]
        if not isinstance(key, str):
            raise CaptureError(f"mapping {source!r} needs a single source_record_id column for change capture")
        tables[name] = _Table(name, adapter, key)
    return tables


class PostgresCapture:
    def __init__(self, settings: Settings, run_id: str) -> None:
        self.settings = settings
        self.run_id = run_id
        self.dsn = _dsn(settings)
        self.tables = _tables(settings)
        self.slot = settings.cdc_slot_name
        self.publication = settings.cdc_publication
        self.lake = Lake(settings)
        self.stats = CaptureStats()
        self._last_confirmed: int | None = None
        self._reset_buffers()

    # -- bronze side --------------------------------------------------------------------------
    def _reset_buffers(self) -> None:
        self.ready: list[ChangeEvent] = []
        self.txn: list[ChangeEvent] = []
        self.ready_end_lsn: int | None = None
        self.first_ready_at: float | None = None

    def _last_checkpoint(self) -> int | None:
        if not self.lake.exists("bronze", "cdc_checkpoint"):
            return None
        table = self.lake.read("bronze", "cdc_checkpoint", columns=["slot_name", "confirmed_lsn"])
        mine = table.filter(pc.equal(table.column("slot_name"), self.slot)).column("confirmed_lsn")
        return None if len(mine) == 0 else int(pc.max(mine).as_py())

    def _write(self, changes: list[ChangeEvent], confirmed_lsn: int, kind: str) -> None:
        """Commit the changes to bronze, then the checkpoint row naming the LSN about to be confirmed."""
        writer = BronzeWriter(self.lake, self.run_id, self.settings.ingest_batch_rows)
        by_table: dict[str, tuple[FileIngester, ChangeApplier]] = {}
        for change in changes:
            table = self.tables[change.source_file.removeprefix("postgresql:")]
            if table.name not in by_table:
                ingester = FileIngester(self.settings, writer, table.adapter, table.source_file)
                by_table[table.name] = (ingester, ChangeApplier(ingester.mapper, writer))
            ingester, applier = by_table[table.name]
            if change.row is not None and UNCHANGED_TOAST_MARK in change.row:
                # Without REPLICA IDENTITY FULL the server does not resend unchanged large values.
                missing = change.row[UNCHANGED_TOAST_MARK]
                self._quarantine(ingester, change, f"unchanged TOASTed columns {missing} were not sent; "
                                 f"set REPLICA IDENTITY FULL on {table.name}")  # fmt: skip
                continue
            try:
                if applier.add(change):
                    self.stats.changes_written += 1
                else:
                    self.stats.changes_duplicate += 1
            except RowError as exc:
                self._quarantine(ingester, change, str(exc))
            except ValidationError as exc:
                self._quarantine(ingester, change, _validation_reason(exc))
        writer.flush()
        self.stats.versions_written += sum(applier.versions_written for _, applier in by_table.values())
        schema, _ = TABLES["cdc_checkpoint"]
        row = {"slot_name": self.slot, "confirmed_lsn": confirmed_lsn, "kind": kind, "changes": len(changes),
               "recorded_at": datetime.now(UTC), "ingest_run_id": self.run_id}  # fmt: skip
        self.lake.append("bronze", "cdc_checkpoint", pa.Table.from_pylist([row], schema=schema))
        self.stats.bronze_commits += 1

    def _quarantine(self, ingester: FileIngester, change: ChangeEvent, reason: str) -> None:
        reason = f"{change.op.value} of {change.source_record_id} at LSN {format_lsn(change.lsn)}: {reason}"
        ingester.quarantine(change.source_offset, reason, change.raw_payload())
        self.stats.changes_quarantined += 1
        kind = reason.split(": ", 1)[1].split(":")[0][:60]
        self.stats.quarantine_reasons[kind] = self.stats.quarantine_reasons.get(kind, 0) + 1

    # -- database side ------------------------------------------------------------------------
    def _connect(self) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(self.dsn)
        conn.autocommit = True
        return conn

    def _ensure_publication(self, conn: psycopg2.extensions.connection) -> None:
        with conn.cursor() as cur:
            cur.execute("show wal_level")
            (level,) = cur.fetchone()
            if level != "logical":
                raise CaptureError(
                    f"wal_level is {level!r}; change capture needs 'logical' (scripts/postgres_logical.sh sets it)"
                )
            cur.execute("select 1 from pg_publication where pubname = %s", (self.publication,))
            if cur.fetchone() is None:
                names = ", ".join(self._quoted(t) for t in self.tables)
                cur.execute(f"create publication {self.publication} for table {names}")
                return
            cur.execute(
                "select schemaname || '.' || tablename from pg_publication_tables where pubname = %s",
                (self.publication,),
            )
            present = {name for (name,) in cur.fetchall()}
            for name in sorted(set(self.tables) - present):
                cur.execute(f"alter publication {self.publication} add table {self._quoted(name)}")

    @staticmethod
    def _quoted(name: str) -> str:
        schema, _, table = name.partition(".")
        return f'"{schema}"."{table}"'

    def _slot_position(self, conn: psycopg2.extensions.connection) -> int | None:
        """The slot's confirmed LSN, or None when there is no such slot."""
        with conn.cursor() as cur:
            cur.execute(
                "select confirmed_flush_lsn - '0/0'::pg_lsn from pg_replication_slots where slot_name = %s",
                (self.slot,),
            )
            row = cur.fetchone()
        return None if row is None else int(row[0] or 0)

    def _needs_resync(self, conn: psycopg2.extensions.connection) -> bool:
        position = self._slot_position(conn)
        if position is None:
            log.warning("replication slot %s does not exist: creating it and re-synchronising", self.slot)
            return True
        last = self._last_checkpoint()
        if last is None or position > last:
            log.warning(
                "replication slot %s is at %s but bronze last confirmed %s: it was not advanced by this "
                "capture (re-created?), so it is dropped and re-synchronised from a snapshot",
                self.slot, format_lsn(position), format_lsn(last),
            )  # fmt: skip
            with conn.cursor() as cur:
                cur.execute("select pg_drop_replication_slot(%s)", (self.slot,))
            return True
        return False

    def _resync(self) -> None:
        """Create the slot with an exported snapshot and land the difference between it and bronze."""
        repl = psycopg2.connect(self.dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection)
        # Stamped before the slot exists: every commit the snapshot misses is later than this.
        taken_at = datetime.now(UTC)
        try:
            with repl.cursor() as rcur:
                rcur.execute(f"CREATE_REPLICATION_SLOT {self.slot} LOGICAL pgoutput EXPORT_SNAPSHOT")
                _, consistent_point, snapshot_name, _ = rcur.fetchone()
                snapshot_lsn = parse_lsn(consistent_point)
                changes = self._snapshot_changes(snapshot_name, snapshot_lsn, taken_at)
            # The exported snapshot lives until the replication connection's next command; it is read.
        finally:
            repl.close()
        self._write(changes, snapshot_lsn, "snapshot")
        self.stats.snapshots += 1
        self.stats.snapshot_changes += sum(c.op is ChangeOp.snapshot for c in changes)
        self.stats.snapshot_deletes += sum(c.op is ChangeOp.delete for c in changes)
        log.warning(
            "re-synchronised slot %s at %s: %d rows changed and %d deleted since bronze last saw them",
            self.slot, format_lsn(snapshot_lsn), self.stats.snapshot_changes, self.stats.snapshot_deletes,
        )  # fmt: skip

    def _snapshot_changes(self, snapshot_name: str, snapshot_lsn: int, taken_at: datetime) -> list[ChangeEvent]:
        known = self._known_rows()
        # The snapshot is the state just before the consistent point; the first streamed change may
        # sit exactly at it, and must sort after the snapshot.
        before = snapshot_lsn - 1
        changes: list[ChangeEvent] = []
        snap = psycopg2.connect(self.dsn)
        try:
            with snap.cursor() as cur:
                cur.execute("begin isolation level repeatable read read only")
                cur.execute("set transaction snapshot %s", (snapshot_name,))
                for table in self.tables.values():
                    source = table.adapter.source_system
                    cur.execute(
                        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 "
                        "and not attisdropped order by attnum",
                        (self._quoted(table.name),),
                    )
                    columns = [c for (c,) in cur.fetchall()]
                    select_list = ", ".join(f'"{c}"::text' for c in columns)
                    cur.execute(f"select {select_list} from {self._quoted(table.name)}")
                    seen = set()
                    for values in cur:
                        row = dict(zip(columns, values, strict=True))
                        key = str(row[table.key_column])
                        seen.add(key)
                        if known.get((source, key)) != row:
                            changes.append(self._event(table, ChangeOp.snapshot, key, row, taken_at, before, None))
                    for (known_source, key), known_row in known.items():
                        if known_source == source and known_row is not None and key not in seen:
                            changes.append(self._event(table, ChangeOp.delete, key, None, taken_at, before, None))
                cur.execute("commit")
        finally:
            snap.close()
        return changes

    def _known_rows(self) -> dict[tuple[str, str], dict[str, Any] | None]:
        """The latest row image bronze holds for every captured record (None when deleted)."""
        if not self.lake.exists("bronze", "feedback_changes"):
            return {}
        sources = [t.adapter.source_system for t in self.tables.values()]
        table = self.lake.read(
            "bronze", "feedback_changes",
            columns=["source_system", "source_record_id", "op", "changed_at", "lsn", "raw_payload"],
            filter_=pc.field("source_system").isin(sources),
        )  # fmt: skip
        latest: dict[tuple[str, str], tuple[Any, ...]] = {}
        for row in table.to_pylist():
            key = (row["source_system"], row["source_record_id"])
            order = (row["changed_at"], row["lsn"] or 0)
            if key not in latest or order >= latest[key][0]:
                latest[key] = (order, row["op"], row["raw_payload"])
        known: dict[tuple[str, str], dict[str, Any] | None] = {}
        for key, (_, op, raw) in latest.items():
            image = json.loads(raw).get("row") if op != ChangeOp.delete.value else None
            known[key] = image if isinstance(image, dict) or image is None else None
        return known

    def _event(self, table: _Table, op: ChangeOp, key: str, row: dict[str, Any] | None, changed_at: datetime,
               lsn: int, txn: Begin | None) -> ChangeEvent:  # fmt: skip
        return ChangeEvent(
            source_system=table.adapter.source_system,
            source_record_id=key,
            op=op,
            changed_at=changed_at,
            row=row,
            source_file=table.source_file,
            source_offset=lsn,
            position=f"{op.value}:{lsn}" if txn is None else f"lsn:{lsn}:{txn.xid}",
            lsn=lsn,
            commit_lsn=None if txn is None else txn.final_lsn,
            txn_id=None if txn is None else txn.xid,
        )

    # -- streaming ----------------------------------------------------------------------------
    def _row_event(self, change: RowChange, relation: Relation, lsn: int, txn: Begin) -> ChangeEvent:
        table = self.tables[relation.qualified_name]
        new = change.new
        if new is not None and any(v is UNCHANGED_TOAST for v in new.values()):
            old = change.old or {}
            missing = [
                c for c, v in new.items() if v is UNCHANGED_TOAST and old.get(c, UNCHANGED_TOAST) is UNCHANGED_TOAST
            ]
            new = {c: (old.get(c) if v is UNCHANGED_TOAST else v) for c, v in new.items()}
            if missing:
                new = {c: v for c, v in new.items() if c not in missing} | {UNCHANGED_TOAST_MARK: missing}
        image = change.old if change.kind == "delete" else new
        key = (image or {}).get(table.key_column)
        op = ChangeOp(change.kind)
        return self._event(table, op, str(key), None if op is ChangeOp.delete else new, txn.committed_at, lsn, txn)

    def _flush(self, cursor: Any) -> None:
        if self.ready_end_lsn is None:
            return
        changes, end_lsn = self.ready, self.ready_end_lsn
        if changes:
            self._write(changes, end_lsn, "stream")
        elif self._last_confirmed is not None and end_lsn - self._last_confirmed < 16 * 1024 * 1024:
            # Transactions on other tables: confirm them rarely, so idle WAL does not mean a commit a second.
            self._reset_buffers()
            return
        else:
            self._write([], end_lsn, "stream")
        cursor.send_feedback(flush_lsn=end_lsn, force=True)
        self._last_confirmed = end_lsn
        self.stats.confirmed_lsn = format_lsn(end_lsn)
        self._reset_buffers()

    def _stream(self, deadline: float, follow: bool) -> None:
        repl = psycopg2.connect(self.dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection)
        decoder = Decoder()
        begin: Begin | None = None
        try:
            cursor = repl.cursor()
            cursor.start_replication(
                slot_name=self.slot, decode=False, status_interval=5,
                options={"proto_version": "1", "publication_names": self.publication},
            )  # fmt: skip
            idle_since = time.monotonic()
            while True:
                message = cursor.read_message()
                now = time.monotonic()
                if message is None:
                    if self.first_ready_at is not None and now - self.first_ready_at >= self.settings.cdc_flush_seconds:
                        self._flush(cursor)
                    if not follow and (now - idle_since >= self.settings.cdc_idle_seconds or now >= deadline):
                        if self.txn:
                            idle_since = now  # mid-transaction: wait for its commit
                        else:
                            self._flush_final(cursor)
                            return
                    select.select([cursor], [], [], 0.2)
                    continue
                idle_since = now
                decoded = decoder.decode(message.payload)
                if isinstance(decoded, Begin):
                    begin, self.txn = decoded, []
                elif isinstance(decoded, RowChange) and begin is not None:
                    relation = decoder.relations[decoded.relid]
                    if relation.qualified_name in self.tables:
                        self.txn.append(self._row_event(decoded, relation, message.data_start, begin))
                elif isinstance(decoded, Truncate):
                    names = [decoder.relations[r].qualified_name for r in decoded.relids if r in decoder.relations]
                    if any(n in self.tables for n in names):
                        self.stats.truncates_ignored += 1
                        log.error("TRUNCATE of %s at %s is not applied; run `feedbackloop cdc --resync`",
                                  names, format_lsn(message.data_start))  # fmt: skip
                elif isinstance(decoded, Commit):
                    self.stats.transactions += 1
                    self.stats.changes_read += len(self.txn)
                    self.ready.extend(self.txn)
                    self.txn, begin = [], None
                    self.ready_end_lsn = decoded.end_lsn
                    if self.first_ready_at is None:
                        self.first_ready_at = now
                    if len(self.ready) >= self.settings.cdc_batch_changes:
                        self._flush(cursor)
        finally:
            repl.close()

    def _flush_final(self, cursor: Any) -> None:
        end_lsn = self.ready_end_lsn
        if self.ready:
            self._flush(cursor)
        elif end_lsn is not None:
            self._write([], end_lsn, "stream")
            cursor.send_feedback(flush_lsn=end_lsn, force=True)
            self.stats.confirmed_lsn = format_lsn(end_lsn)
            self._reset_buffers()
        if end_lsn is not None:
            self._await_confirmed(end_lsn)

    def _await_confirmed(self, lsn: int, timeout: float = 5.0) -> None:
        """The walsender applies feedback asynchronously; closing at once could drop the last confirm."""
        conn = self._connect()
        try:
            stop = time.monotonic() + timeout
            while time.monotonic() < stop:
                position = self._slot_position(conn)
                if position is None or position >= lsn:
                    return
                time.sleep(0.05)
            log.warning("slot %s did not confirm %s in %.0fs; the next run re-reads (no loss)", self.slot,
                        format_lsn(lsn), timeout)  # fmt: skip
        finally:
            conn.close()

    def run(self, max_seconds: float | None = None, follow: bool = False, resync: bool = False) -> CaptureStats:
        """Capture until caught up (or ``max_seconds``); ``follow`` keeps going until interrupted."""
        deadline = time.monotonic() + (max_seconds if max_seconds is not None else self.settings.cdc_max_seconds)
        retry_until: float | None = None
        while True:
            try:
                # Not `with conn`: psycopg2 would open a transaction, and slot creation waits for it.
                conn = self._connect()
                try:
                    self._ensure_publication(conn)
                    if resync and self._slot_position(conn) is not None:
                        with conn.cursor() as cur:
                            cur.execute("select pg_drop_replication_slot(%s)", (self.slot,))
                    resync = False
                    if self._needs_resync(conn):
                        self._resync()
                    self._last_confirmed = self._slot_position(conn)
                finally:
                    conn.close()
                retry_until = None
                self._stream(deadline, follow)
                return self.stats
            except (*CONNECTION_ERRORS, psycopg2.DatabaseError) as exc:
                if not isinstance(exc, CONNECTION_ERRORS) and LOST_IN_COPY not in str(exc):
                    raise
                # PostgreSQL restarted or the network dropped: nothing unconfirmed is kept; the slot resumes.
                self._reset_buffers()
                retry_until = retry_until or time.monotonic() + self.settings.cdc_reconnect_seconds
                if time.monotonic() >= retry_until:
                    raise CaptureError(f"lost PostgreSQL and could not reconnect: {exc}".strip()) from exc
                self.stats.reconnects += 1
                log.warning("connection to PostgreSQL lost (%s); resuming from the slot", str(exc).strip())
                time.sleep(0.5)


def capture(settings: Settings, run_id: str, max_seconds: float | None = None, follow: bool = False,
            resync: bool = False) -> CaptureStats:  # fmt: skip
    """One capture run: until caught up, for at most ``max_seconds`` (default ``cdc_max_seconds``)."""
    return PostgresCapture(settings, run_id).run(max_seconds=max_seconds, follow=follow, resync=resync)
