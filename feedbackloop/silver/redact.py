"""Incremental PII redaction of silver feedback: only docs not yet redacted are processed.

A doc's text never changes under its doc_id (the id hashes the text), so "new or changed" is
"doc_id not yet in ``silver.feedback_redacted``". Each batch appends its vault rows first and its
redacted rows second: a crash in between leaves vault rows that the rerun recognises and skips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from feedbackloop.governance.vault import VAULT, Vault
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

if TYPE_CHECKING:
    from feedbackloop.silver.pii.engine import Redactor

REDACTED = pa.schema(
    [
        ("doc_id", pa.string()),
        ("text_hash", pa.string()),
        ("redacted_text", pa.string()),
        ("redacted_agent_text", pa.string()),
        ("redacted_system_notes", pa.string()),
        ("pii_entity_count", pa.int32()),
        ("pii_types", pa.string()),
        ("redaction_version", pa.string()),
        ("redacted_at", pa.timestamp("us", tz="UTC")),
        ("redact_run_id", pa.string()),
    ]
)
TEXT_FIELDS = ("clean_text", "clean_agent_text", "clean_system_notes")
SILVER_COLUMNS = ["doc_id", "text_hash", "user_id", "source_system", "country", "locale", *TEXT_FIELDS]


@dataclass
class RedactStats:
    docs_pending: int = 0
    docs_redacted: int = 0
    docs_with_pii: int = 0
    vault_rows: int = 0
    entities: dict[str, int] = field(default_factory=dict)


@cache
def _redactor(
    model: str, patterns: tuple[str, ...], region: str, processes: int, min_parallel: int, allow: tuple[str, ...]
) -> Redactor:
    # Presidio pulls in spaCy, transformers and torch (seconds of imports): only when there is text to redact.
    from feedbackloop.silver.pii.engine import Redactor

    return Redactor(model, patterns, region, processes, min_parallel, allow)


def get_redactor(settings: Settings) -> Redactor:
    """The configured redactor; the spaCy model is loaded once per process."""
    return _redactor(
        settings.pii_model,
        tuple(settings.pii_account_id_patterns),
        settings.pii_default_region,
        settings.pii_ner_processes,
        settings.pii_ner_min_parallel_texts,
        tuple(settings.pii_allow_words),
    )


def _pending(lake: Lake) -> pa.Table:
    done = lake.read("silver", "feedback_redacted", columns=["doc_id"]).column("doc_id")
    silver = lake.read("silver", "stg_bronze__feedback", columns=["doc_id"]).column("doc_id")
    todo = pc.filter(silver, pc.invert(pc.is_in(silver, value_set=done)))
    if len(todo) == 0:
        return pa.Table.from_pylist([], schema=pa.schema([(c, pa.string()) for c in SILVER_COLUMNS]))
    dataset = lake.table("silver", "stg_bronze__feedback").to_pyarrow_dataset()  # type: ignore[union-attr]
    rows = dataset.to_table(columns=SILVER_COLUMNS, filter=ds.field("doc_id").isin(todo))
    # Two silver rows of one doc (a writer race) would redact it twice; keep the first.
    if rows.num_rows != len(pc.unique(rows.column("doc_id"))):
        first = pc.index_in(rows.column("doc_id"), value_set=pc.unique(rows.column("doc_id")))
        rows = rows.filter(pc.equal(pa.array(range(rows.num_rows)), pc.take(_first_positions(first), first)))
    return rows


def _first_positions(groups: pa.Array) -> pa.Array:
    firsts: dict[int, int] = {}
    for position, group in enumerate(groups.to_pylist()):
        firsts.setdefault(group, position)
    return pa.array([firsts[g] for g in range(len(firsts))])


def _languages(lake: Lake, doc_ids: pa.Array) -> dict[str, str]:
    if not lake.exists("silver", "feedback_enrichment"):
        return {}
    dataset = lake.table("silver", "feedback_enrichment").to_pyarrow_dataset()  # type: ignore[union-attr]
    table = dataset.to_table(columns=["doc_id", "language"], filter=ds.field("doc_id").isin(doc_ids))
    return dict(zip(table.column("doc_id").to_pylist(), table.column("language").to_pylist(), strict=True))


def ensure_tables(lake: Lake) -> None:
    if not lake.exists("silver", "feedback_redacted"):
        lake.append("silver", "feedback_redacted", pa.Table.from_pylist([], schema=REDACTED))


def redact_new_feedback(
    settings: Settings, run_id: str, progress: Callable[[int, int], None] | None = None
) -> RedactStats:
    """Redact every silver doc not yet in ``silver.feedback_redacted``; vault rows go to the vault."""
    lake = Lake(settings)
    ensure_tables(lake)
    stats = RedactStats()
    if not lake.exists("silver", "stg_bronze__feedback"):
        return stats
    pending = _pending(lake)
    stats.docs_pending = pending.num_rows
    if pending.num_rows == 0:
        return stats
    vault = Vault(settings)
    in_vault = vault.doc_ids()
    redactor = get_redactor(settings)
    from feedbackloop.silver.pii.engine import REDACTOR_VERSION as redactor_version

    now = datetime.now(UTC)
    batch = settings.pii_batch_rows
    for start in range(0, pending.num_rows, batch):
        chunk = pending.slice(start, batch)
        languages = _languages(lake, chunk.column("doc_id"))
        doc_ids = chunk.column("doc_id").to_pylist()
        fields = list(zip(*(chunk.column(c).to_pylist() for c in TEXT_FIELDS), strict=True))
        redacted = redactor.redact(
            fields,
            countries=chunk.column("country").to_pylist(),
            locales=chunk.column("locale").to_pylist(),
            languages=[languages.get(d) for d in doc_ids],
        )
        users, sources = chunk.column("user_id").to_pylist(), chunk.column("source_system").to_pylist()
        vault_rows = [
            {
                "doc_id": doc_id,
                "placeholder": entry.placeholder,
                "entity_type": entry.entity_type,
                "value": entry.value,
                "value_hash": entry.value_hash,
                "user_id": user,
                "source_system": source,
                "redacted_at": now,
                "redact_run_id": run_id,
            }
            for doc_id, doc, user, source in zip(doc_ids, redacted, users, sources, strict=True)
            if doc_id not in in_vault
            for entry in doc.entries
        ]
        if vault_rows:
            vault.append(pa.Table.from_pylist(vault_rows, schema=VAULT))
        out_rows = []
        for doc_id, text_hash, doc in zip(doc_ids, chunk.column("text_hash").to_pylist(), redacted, strict=True):
            counts = doc.entity_counts
            for entity, n in counts.items():
                stats.entities[entity] = stats.entities.get(entity, 0) + n
            stats.docs_with_pii += bool(counts)
            out_rows.append(
                {
                    "doc_id": doc_id,
                    "text_hash": text_hash,
                    "redacted_text": doc.fields[0],
                    "redacted_agent_text": doc.fields[1],
                    "redacted_system_notes": doc.fields[2],
                    "pii_entity_count": sum(counts.values()),
                    "pii_types": ",".join(sorted(counts)) or None,
                    "redaction_version": redactor_version,
                    "redacted_at": now,
                    "redact_run_id": run_id,
                }
            )
        lake.append("silver", "feedback_redacted", pa.Table.from_pylist(out_rows, schema=REDACTED))
        stats.docs_redacted += chunk.num_rows
        stats.vault_rows += len(vault_rows)
        if progress:
            progress(stats.docs_redacted, stats.docs_pending)
    return stats
