"""Decoder for PostgreSQL's built-in ``pgoutput`` logical replication messages (protocol version 1).

Only what change capture needs: transaction boundaries, relation descriptions, and row changes with
their column values in text form (the type's output function, as ``col::text`` would print it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
UNCHANGED_TOAST = object()  # an update that left a large (TOASTed) value alone does not resend it


def pg_time(micros: int) -> datetime:
    return PG_EPOCH + timedelta(microseconds=micros)


@dataclass(slots=True)
class Begin:
    final_lsn: int
    committed_at: datetime
    xid: int


@dataclass(slots=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    committed_at: datetime


@dataclass(slots=True)
class Relation:
    relid: int
    namespace: str
    name: str
    columns: list[str]
    key_columns: list[str] = field(default_factory=list)

    @property
    def qualified_name(self) -> str:
        return f"{self.namespace}.{self.name}"


@dataclass(slots=True)
class RowChange:
    kind: str  # "insert" | "update" | "delete"
    relid: int
    new: dict[str, object] | None
    old: dict[str, object] | None


@dataclass(slots=True)
class Truncate:
    relids: list[int]


@dataclass(slots=True)
class Ignored:
    tag: str


Message = Begin | Commit | Relation | RowChange | Truncate | Ignored


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def byte(self) -> str:
        value = chr(self.data[self.pos])
        self.pos += 1
        return value

    def string(self) -> str:
        end = self.data.index(b"\x00", self.pos)
        value = self.data[self.pos : end].decode()
        self.pos = end + 1
        return value

    def tuple_data(self, columns: list[str]) -> dict[str, object]:
        count = self.take("!h")
        values: dict[str, object] = {}
        for index in range(count):
            kind = self.byte()
            name = columns[index] if index < len(columns) else f"col{index}"
            if kind == "n":
                values[name] = None
            elif kind == "u":
                values[name] = UNCHANGED_TOAST
            elif kind in ("t", "b"):
                length = self.take("!i")
                raw = self.data[self.pos : self.pos + length]
                self.pos += length
                values[name] = raw.decode() if kind == "t" else raw
            else:
                raise ValueError(f"unknown tuple value kind {kind!r}")
        return values


class Decoder:
    """Stateful: remembers relations, since row messages only carry the relation's id."""

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}

    def decode(self, payload: bytes) -> Message:
        reader = _Reader(payload)
        tag = reader.byte()
        if tag == "B":
            final_lsn, ts, xid = reader.take("!Q"), reader.take("!q"), reader.take("!I")
            return Begin(final_lsn, pg_time(ts), xid)
        if tag == "C":
            reader.take("!b")  # flags, unused
            commit_lsn, end_lsn, ts = reader.take("!Q"), reader.take("!Q"), reader.take("!q")
            return Commit(commit_lsn, end_lsn, pg_time(ts))
        if tag == "R":
            relid, namespace, name = reader.take("!I"), reader.string(), reader.string()
            reader.byte()  # replica identity setting
            columns, keys = [], []
            for _ in range(reader.take("!h")):
                flags, column = reader.take("!b"), reader.string()
                reader.take("!I")  # type oid
                reader.take("!i")  # type modifier
                columns.append(column)
                if flags & 1:
                    keys.append(column)
            relation = Relation(relid, namespace or "pg_catalog", name, columns, keys)
            self.relations[relid] = relation
            return relation
        if tag in ("I", "U", "D"):
            relid = reader.take("!I")
            columns = self.relations[relid].columns
            old = new = None
            marker = reader.byte()
            if tag == "I":
                new = reader.tuple_data(columns)
            elif tag == "D":
                old = reader.tuple_data(columns)
            else:
                if marker in ("K", "O"):
                    old = reader.tuple_data(columns)
                    marker = reader.byte()
                new = reader.tuple_data(columns)
            kind = {"I": "insert", "U": "update", "D": "delete"}[tag]
            return RowChange(kind, relid, new, old)
        if tag == "T":
            count = reader.take("!I")
            reader.take("!b")  # options (cascade, restart identity)
            return Truncate([reader.take("!I") for _ in range(count)])
        return Ignored(tag)  # Origin, Type, logical Message: nothing to capture
