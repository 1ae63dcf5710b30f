"""Weekly export files in each source's own format, streamed row by row so any scale fits in memory.

Each sink is one export stream (a source, sometimes one product of it) cut into ISO-week files. A sink
can plant two kinds of realistic file-level dirt: an overlapping export (the first rows of a week's file
repeat the last rows of the previous file) and a truncated final line.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from pathlib import Path
from typing import IO, Any

from feedbackloop.ingest.app_store import COLUMNS as APP_STORE_COLUMNS
from feedbackloop.ingest.google_play import COLUMNS as GOOGLE_PLAY_COLUMNS

TelemetryRow = tuple[str, str, str | None, str | None, str | None, str, str, float | int | None, str | None, str | None]


class WeeklySink:
    """Base: opens ``<dir>/<stem>_<week>.<ext>`` on the first row of each week and closes the last one."""

    suffix = ""

    def __init__(self, inbox: Path, source: str, stem: str, overlap_weeks: set[str], overlap_rows: int = 3) -> None:
        self.dir = inbox / source
        self.source = source
        self.stem = stem
        self.overlap_weeks = overlap_weeks
        self.recent: deque[Any] = deque(maxlen=overlap_rows)
        self.week: str | None = None
        self.fh: IO[str] | None = None
        self.files: list[Path] = []
        self.rows = 0
        self.duplicate_rows = 0
        self.truncate_week: str | None = None
        self.truncated_lines = 0

    def write(self, week: str, payload: Any, clean: bool = True) -> None:
        if week != self.week:
            self._roll(week)
        self._write(payload)
        self.rows += 1
        if clean:  # planted bad rows must not be re-exported as "duplicates"
            self.recent.append(payload)

    def _roll(self, week: str) -> None:
        carry = list(self.recent) if week in self.overlap_weeks and self.fh is not None else []
        self.close()
        self.week = week
        path = self.dir / f"{self.stem}_{week}{self.suffix}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fh = self._open(path)
        self.files.append(path)
        for payload in carry:
            self._write(payload)
        self.rows += len(carry)
        self.duplicate_rows += len(carry)

    def close(self) -> None:
        if self.fh is not None:
            self._finish()
            self.fh.close()
            self.fh = None

    def _open(self, path: Path) -> IO[str]:
        raise NotImplementedError

    def _write(self, payload: Any) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Write whatever a format needs after its last row."""


class CsvSink(WeeklySink):
    suffix = ".csv"

    def __init__(self, *args: Any, header: tuple[str, ...], encoding: str, bom: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header, self.encoding, self.bom = header, encoding, bom
        self.writer: Any = None

    def _open(self, path: Path) -> IO[str]:
        fh = path.open("w", encoding=self.encoding, newline="")
        if self.bom:
            fh.write("\ufeff")
        self.writer = csv.writer(fh)
        self.writer.writerow(self.header)
        return fh

    def _write(self, payload: Any) -> None:
        self.writer.writerow(payload)


def app_store_sink(inbox: Path, product: str, overlap_weeks: set[str]) -> CsvSink:
    return CsvSink(
        # App Store Connect exports one app at a time, so its files go in a folder named for the product.
        inbox,
        f"app_store/{product}",
        "reviews",
        overlap_weeks,
        header=APP_STORE_COLUMNS,
        encoding="utf-8",
        bom=False,
    )


def google_play_sink(inbox: Path, product: str, overlap_weeks: set[str]) -> CsvSink:
    # Play Console writes review reports as UTF-16 little-endian with a BOM; pinning the byte order keeps
    # the files identical on every machine.
    return CsvSink(
        inbox,
        "google_play",
        f"reviews_{product}",
        overlap_weeks,
        header=GOOGLE_PLAY_COLUMNS,
        encoding="utf-16-le",
        bom=True,
    )


class TelemetrySink(WeeklySink):
    suffix = ".jsonl"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_line = ""

    def _open(self, path: Path) -> IO[str]:
        return path.open("w", encoding="utf-8", newline="\n")

    def _write(self, payload: TelemetryRow) -> None:
        event_id, at, user, session, version, platform, event_type, value, sha, product = payload
        # Hand-formatted for speed (telemetry is ~20 rows per review); every value is a generated ASCII
        # token or a number, so no JSON escaping is ever needed.
        line = (
            f'{{"event_id":"{event_id}","event_at":"{at}","user_id":{_s(user)},"session_id":{_s(session)},'
            f'"app_version":{_s(version)},"platform":"{platform}","event_type":"{event_type}",'
            f'"value":{"null" if value is None else value},"deploy_sha":{_s(sha)},"product":{_s(product)}}}\n'
        )
        self.last_line = line
        assert self.fh is not None
        self.fh.write(line)

    def _finish(self) -> None:
        if self.week == self.truncate_week and self.last_line:
            # An exporter killed mid-write leaves half a line and no newline.
            assert self.fh is not None
            self.fh.write(self.last_line[: len(self.last_line) // 2])
            self.rows += 1
            self.truncated_lines += 1


def _s(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


class ZendeskSink(WeeklySink):
    """``{"tickets": [...], "users": [...]}`` streamed ticket by ticket; users follow the tickets."""

    suffix = ".json"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.users: dict[int, dict[str, Any]] = {}
        self.first = True

    def _open(self, path: Path) -> IO[str]:
        fh = path.open("w", encoding="utf-8", newline="\n")
        fh.write('{"tickets": [\n')
        self.users, self.first = {}, True
        return fh

    def _write(self, payload: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
        ticket, users = payload
        assert self.fh is not None
        self.fh.write(("" if self.first else ",\n") + json.dumps(ticket, ensure_ascii=False))
        self.first = False
        for user in users:
            self.users[user["id"]] = user

    def _finish(self) -> None:
        assert self.fh is not None
        users = [self.users[k] for k in sorted(self.users)]
        self.fh.write('\n], "users": ' + json.dumps(users, ensure_ascii=False) + "}\n")
