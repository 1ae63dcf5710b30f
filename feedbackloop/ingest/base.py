"""What every source adapter produces: rows read from a file, each with its position and raw text."""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

csv.field_size_limit(64 * 1024 * 1024)  # oversize text must reach validation to be counted, not crash csv


class RowError(ValueError):
    """A row that cannot become a canonical record; the message is the quarantine reason."""


@dataclass(slots=True)
class RawRow:
    """One record as read from a source file.

    ``offset`` is the 1-based line (CSV/JSONL) or record index (JSON documents), so an operator can
    open the file at that place. ``error`` is set when the row could not even be parsed.
    """

    offset: int
    payload: dict[str, Any] | None
    raw: str
    error: str | None = None


class SourceAdapter(Protocol):
    """Reads one export format and maps its rows onto the canonical contract."""

    source_system: str
    kind: str  # "feedback" or "telemetry"

    def read(self, path: Path) -> Iterator[RawRow]: ...

    def to_canonical(self, payload: dict[str, Any]) -> dict[str, Any]: ...


def _has_surrogates(values: list[str]) -> bool:
    try:
        "".join(values).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _sniff_encoding(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Google Play Console writes its review reports as UTF-16
    return "utf-8-sig"


def read_csv_rows(path: Path, required_columns: set[str]) -> Iterator[RawRow]:
    """Stream a CSV file as dict rows; invalid UTF-8 and ragged rows become error rows, not crashes."""
    encoding = _sniff_encoding(path)
    with path.open("r", encoding=encoding, errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return
        header = [h.strip() for h in header]
        missing = required_columns - set(header)
        if missing:
            yield RawRow(
                offset=1,
                payload=None,
                raw=",".join(header),
                error=f"wrong column layout: missing columns {sorted(missing)}; found {header}",
            )
            # The whole file is unusable, but every data row is still kept in quarantine.
            for values in reader:
                yield RawRow(
                    offset=reader.line_num,
                    payload=None,
                    raw=_raw_csv(values),
                    error="wrong column layout for this source",
                )
            return
        width = len(header)
        for values in reader:
            line = reader.line_num
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # blank line: nothing was written there
            raw = _raw_csv(values)
            if _has_surrogates(values):
                yield RawRow(line, None, raw, "invalid UTF-8 in row")
            elif len(values) != width:
                yield RawRow(line, None, raw, f"row has {len(values)} fields, header has {width}")
            else:
                yield RawRow(line, dict(zip(header, values, strict=True)), raw)


def _raw_csv(values: list[str]) -> str:
    # Kept as JSON so the verbatim field values survive.
    return dumps_payload(values)


def dumps_payload(value: Any) -> str:
    """A parsed payload as JSON text for ``raw_payload``: orjson, several times faster than the
    standard library, unless it refuses; lone surrogates (invalid UTF-8 in the file) are then
    escaped rather than lost."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")


def read_jsonl_rows(path: Path) -> Iterator[RawRow]:
    """Stream a JSON Lines file; a truncated or non-object line becomes an error row."""
    with path.open("rb") as fh:
        for line_no, line_bytes in enumerate(fh, start=1):
            if not line_bytes.strip():
                continue
            try:
                # orjson parses 2-3x faster; what it refuses (invalid UTF-8 or JSON, and what only the
                # standard library accepts, such as NaN) takes the standard path, which words the error.
                obj = orjson.loads(line_bytes)
            except orjson.JSONDecodeError:
                pass
            else:
                if isinstance(obj, dict):
                    yield RawRow(line_no, obj, line_bytes.decode("utf-8").rstrip("\r\n"))
                    continue
            try:
                line = line_bytes.decode("utf-8")
            except UnicodeDecodeError as exc:
                raw = line_bytes.decode("utf-8", "backslashreplace").rstrip("\n")
                yield RawRow(line_no, None, raw, f"invalid UTF-8 at byte {exc.start}")
                continue
            line = line.rstrip("\r\n")
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield RawRow(line_no, None, line, f"invalid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(obj, dict):
                yield RawRow(line_no, None, line, f"expected a JSON object, got {type(obj).__name__}")
                continue
            yield RawRow(line_no, obj, line)


_TS_FORMATS = ("%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%b %d, %Y")


def _parse_text_timestamp(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in _TS_FORMATS:
        try:
            return datetime.strptime(text.replace("UTC", "").strip(), fmt)
        except ValueError:
            continue
    return None


def parse_timestamp(value: Any, field: str) -> datetime:
    """Parse ISO-8601, epoch seconds/milliseconds and the few layouts exports use; always UTC."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowError(f"missing {field}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10_000_000_000 else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    text = str(value).strip()
    if text.isdigit():
        return parse_timestamp(int(text), field)
    parsed = _parse_text_timestamp(text)
    if parsed is None:
        raise RowError(f"unparseable timestamp in {field}: {text[:60]!r}")
    if parsed.year < 2000 or parsed.year > 2100:
        raise RowError(f"implausible timestamp in {field}: {text[:60]!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def mapping_or_empty(value: Any) -> dict[str, Any]:
    """A nested JSON object, or ``{}`` when the field is missing or not an object."""
    return value if isinstance(value, dict) else {}


def blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value
