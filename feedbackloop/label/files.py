"""Reading arbitrary CSV / JSONL files for ``feedbackloop label`` and ``feedbackloop eval``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

csv.field_size_limit(10_000_000)  # a 100 KB review is one field; the default limit is 128 KB


def read_records(path: Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        records = []
        for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{n}: not valid JSON ({error.msg})") from None
            if not isinstance(value, dict):
                raise ValueError(f"{path}:{n}: expected a JSON object per line")
            records.append(value)
        return records
    if suffix == ".json":
        value = json.loads(path.read_text(encoding="utf-8-sig"))
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ValueError(f"{path}: expected a JSON array of objects")
        return value
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))
