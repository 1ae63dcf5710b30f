"""The landing zone: immutable JSON Lines files in the layout Databricks Auto Loader reads.

    <landing_uri>/<source_system>/received_date=YYYY-MM-DD/part-<received_ns>-<uuid>.jsonl

A file becomes visible only when complete: it is written under a hidden name (Auto Loader and Spark
skip names starting with ``.``), flushed to disk with fsync, then renamed, and the directory is
fsynced so the rename itself survives a power cut. On object stores a PUT is atomic and durable when
it returns, so the same layout is written directly. Either way, a file that is listed is whole.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pyarrow import fs as pafs

from feedbackloop.settings import Settings


@dataclass(frozen=True, slots=True)
class LandedFile:
    path: str
    source_system: str
    size: int
    mtime_ns: int

    @property
    def fingerprint(self) -> tuple[str, int, int]:
        return (self.path, self.size, self.mtime_ns)


def _relative_name(source_system: str, received_at: datetime) -> str:
    ns = int(received_at.timestamp() * 1e9)
    return f"{source_system}/received_date={received_at:%Y-%m-%d}/part-{ns:020d}-{uuid.uuid4().hex[:12]}.jsonl"


def _visible(name: str) -> bool:
    return not name.startswith((".", "_"))


class LandingZone(Protocol):
    uri: str

    def write(self, source_system: str, data: bytes, received_at: datetime) -> str:
        """Durably store one file; returns its path. Only returns once the bytes survive a crash."""
        ...

    def list_files(self) -> list[LandedFile]:
        """Every complete file, oldest first (names sort by receive time)."""
        ...

    def read_bytes(self, path: str) -> bytes: ...


class LocalLandingZone:
    """A directory on local disk; durability through fsync of the file and its directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.uri = str(self.root)

    def _fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ensure_dir(self, directory: Path) -> None:
        if directory.is_dir():
            return
        directory.mkdir(parents=True, exist_ok=True)
        # A new partition folder must itself be durable, or the file in it could vanish with it.
        for path in (directory.parent, directory.parent.parent):
            self._fsync_dir(path)

    def write(self, source_system: str, data: bytes, received_at: datetime) -> str:
        final = self.root / _relative_name(source_system, received_at)
        self._ensure_dir(final.parent)
        temp = final.with_name(f".{final.name}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, final)
        self._fsync_dir(final.parent)
        return str(final)

    def list_files(self) -> list[LandedFile]:
        if not self.root.is_dir():
            return []
        files = []
        for source_dir in sorted(p for p in self.root.iterdir() if p.is_dir() and _visible(p.name)):
            for path in source_dir.glob("*/*.jsonl"):
                if _visible(path.name) and _visible(path.parent.name):
                    stat = path.stat()
                    files.append(LandedFile(str(path), source_dir.name, stat.st_size, stat.st_mtime_ns))
        return sorted(files, key=lambda f: (Path(f.path).name, f.path))

    def read_bytes(self, path: str) -> bytes:
        return Path(path).read_bytes()


class ObjectStoreLandingZone:
    """s3://, gs://, abfs:// (or file://) through pyarrow's filesystems; a completed PUT is durable."""

    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self.fs, self.root = pafs.FileSystem.from_uri(self.uri)

    def write(self, source_system: str, data: bytes, received_at: datetime) -> str:
        path = f"{self.root}/{_relative_name(source_system, received_at)}"
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with self.fs.open_output_stream(path) as out:
            out.write(data)
        if isinstance(self.fs, pafs.LocalFileSystem):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return path

    def list_files(self) -> list[LandedFile]:
        selector = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        files = []
        for info in self.fs.get_file_info(selector):
            rel = info.path[len(self.root) :].lstrip("/").split("/")
            if info.type != pafs.FileType.File or len(rel) != 3 or not rel[2].endswith(".jsonl"):
                continue
            if all(_visible(part) for part in rel):
                mtime = info.mtime_ns if info.mtime_ns is not None else 0
                files.append(LandedFile(info.path, rel[0], int(info.size or 0), int(mtime)))
        return sorted(files, key=lambda f: (f.path.rsplit("/", 1)[1], f.path))

    def read_bytes(self, path: str) -> bytes:
        with self.fs.open_input_stream(path) as stream:
            return stream.read()


def landing_zone(settings: Settings) -> LandingZone:
    """A local directory by default (a mounted volume too); a URI with a scheme goes to the object store."""
    uri = settings.physical(settings.landing_uri)
    if "://" in uri:
        return ObjectStoreLandingZone(uri)
    return LocalLandingZone(uri)
