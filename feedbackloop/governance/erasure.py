"""Right to erasure: remove one person from every layer, the vault, and every registered index.

1. **Plan.** Resolve the person to doc_ids (feedback) and event_ids (telemetry): by user_id in
   bronze and silver, by email through the vault (value hash) and a scan of bronze text and raw
   payloads; an email the customer wrote themselves also brings in every doc of that user id. The plan is
   journaled in the vault (never in the lake) before anything is deleted.
2. **Delete** from every table and index in ``governance.registry``, derived data first, then
   bronze; each table is purged of old versions (``purge.py``). Each finished step is journaled.
3. **Audit.** One row in ``governance.erasure_audit``: request id, what kind of identifier, when,
   rows per table. No identifier, value or doc_id is written there.

A run interrupted anywhere is completed by running the same request again: the journal holds
the plan (bronze may already be gone) and which steps are done; every step is idempotent.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable

from feedbackloop.governance import registry
from feedbackloop.governance.purge import delete_keys, erase_rows, purge_history, rebuild_warehouse
from feedbackloop.governance.runs import code_version
from feedbackloop.governance.vault import Vault
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.silver.pii.engine import value_hash
from feedbackloop.silver.pii.patterns import EMAIL

AUDIT = pa.schema(
    [
        ("request_id", pa.string()),
        ("request_kind", pa.string()),  # erasure | retention
        ("subject_kind", pa.string()),  # user_id | email | user_id+email | source retention
        ("status", pa.string()),  # completed | not_found
        ("requested_at", pa.timestamp("us", tz="UTC")),
        ("completed_at", pa.timestamp("us", tz="UTC")),
        ("docs_erased", pa.int64()),
        ("events_erased", pa.int64()),
        ("rows_by_table", pa.string()),  # JSON {"bronze.feedback": 3, ...}
        ("code_version", pa.string()),
    ]
)
JOURNAL = pa.schema(
    [
        ("request_key", pa.string()),
        ("request_id", pa.string()),
        ("entry", pa.string()),  # plan | step
        ("step", pa.string()),
        ("rows", pa.int64()),
        ("doc_ids", pa.list_(pa.string())),
        ("event_ids", pa.list_(pa.string())),
        ("quarantine_ids", pa.list_(pa.string())),
        ("requested_at", pa.timestamp("us", tz="UTC")),
    ]
)
JOURNAL_TABLE = "erasure_journal"
REQUESTS = pa.schema(
    [
        ("request_key", pa.string()),
        ("user_id", pa.string()),
        ("email", pa.string()),
        ("source_system", pa.string()),
        ("submitted_at", pa.timestamp("us", tz="UTC")),
    ]
)
REQUESTS_TABLE = "erasure_requests"


class ErasureError(ValueError):
    """An erasure request that cannot be carried out as given."""


@dataclass(frozen=True)
class Subject:
    user_id: str | None = None
    email: str | None = None
    source_system: str | None = None

    def __post_init__(self) -> None:
        if not (self.user_id or self.email):
            raise ErasureError("an erasure request needs --user-id or --email")
        if self.email is not None and "@" not in self.email:
            raise ErasureError("--email does not look like an email address (no '@')")

    @property
    def kind(self) -> str:
        return "+".join(k for k, v in (("user_id", self.user_id), ("email", self.email)) if v)

    @property
    def key(self) -> str:
        """Stable, non-reversible id of the request, so a rerun finds its journal."""
        email = (self.email or "").strip().lower()
        raw = f"{self.user_id or ''}\x1f{email}\x1f{self.source_system or ''}"
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Plan:
    doc_ids: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    quarantine_ids: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.doc_ids or self.event_ids or self.quarantine_ids)

    def ids(self, kind: str) -> list[str]:
        return {"doc": self.doc_ids, "event": self.event_ids, "quarantine": self.quarantine_ids}[kind]


@dataclass
class ErasureResult:
    request_id: str
    status: str
    docs_erased: int = 0
    events_erased: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)
    resumed: bool = False
    files_purged: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


Progress = Callable[[str, int], None]


def _scan_ids(lake: Lake, layer: str, name: str, key: str, flt: ds.Expression, columns: list[str]) -> pa.Table:
    dt = lake.table(layer, name)
    if dt is None:
        return pa.table({c: pa.array([], pa.string()) for c in [key, *columns]})
    dataset = dt.to_pyarrow_dataset()
    wanted = [c for c in [key, *columns] if c in dataset.schema.names]
    return dataset.to_table(columns=wanted, filter=flt)


def _text_scan(
    settings: Settings, email: str, source_system: str | None
) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    """Bronze doc_ids whose text or raw payload mentions the email; the (source, user_id) of docs whose
    customer wrote it themselves (an agent quoting it in someone else's ticket does not make that
    requester this person); quarantined rows whose raw payload mentions it."""
    from feedbackloop.warehouse import connect

    needle = email.strip().lower()
    quarantined: set[str] = set()
    with connect(settings) as conn:
        tables = {r[0] for r in conn.execute("select table_name from information_schema.tables").fetchall()}
        if "quarantine" in tables:
            quarantined = {
                r[0]
                for r in conn.execute(
                    "select quarantine_id from bronze.quarantine where (? is null or source_system = ?)"
                    " and contains(lower(raw_payload), ?)",
                    [source_system, source_system, needle],
                ).fetchall()
            }
        if "feedback" not in tables:
            return set(), set(), quarantined
        rows = conn.execute(
            """
            select doc_id, source_system, user_id, contains(lower(customer_text), ?) as is_own_text
            from bronze.feedback
            where (? is null or source_system = ?)
              and (contains(lower(raw_payload), ?) or contains(lower(customer_text), ?)
                   or contains(lower(coalesce(agent_text, '')), ?) or contains(lower(coalesce(system_notes, '')), ?))
            """,
            [needle, source_system, source_system, needle, needle, needle, needle],
        ).fetchall()
    return {r[0] for r in rows}, {(r[1], r[2]) for r in rows if r[2] and r[3]}, quarantined


def resolve(settings: Settings, subject: Subject) -> Plan:
    """Every doc_id and event_id that belongs to the person, across bronze, silver and the vault."""
    lake = Lake(settings)
    docs: set[str] = set()
    events: set[str] = set()
    quarantined: set[str] = set()
    users: set[tuple[str | None, str]] = set()
    if subject.user_id:
        users.add((subject.source_system, subject.user_id))
    if subject.email:
        found, pairs, quarantined = _text_scan(settings, subject.email, subject.source_system)
        docs |= found
        users |= {(source, user) for source, user in pairs}
        # Docs whose text is already gone from bronze (an earlier, partial request) are still in the vault.
        docs |= Vault(settings).docs_with_value(EMAIL, [value_hash(EMAIL, subject.email)])
    for source, user in users:
        flt = ds.field("user_id") == user
        if source:
            flt = flt & (ds.field("source_system") == source)
        for layer, name in (("bronze", "feedback"), ("silver", "stg_bronze__feedback")):
            docs |= set(_scan_ids(lake, layer, name, "doc_id", flt, []).column("doc_id").to_pylist())
        vault = Vault(settings).table()
        if vault is not None:
            docs |= set(
                vault.to_pyarrow_dataset().to_table(columns=["doc_id"], filter=flt).column("doc_id").to_pylist()
            )
    if subject.user_id and subject.source_system in (None, "telemetry"):
        # Telemetry carries app user ids; an id given explicitly erases that user's events too.
        flt = ds.field("user_id") == subject.user_id
        for layer, name in (("bronze", "telemetry_events"), ("silver", "stg_bronze__telemetry_events")):
            events |= set(_scan_ids(lake, layer, name, "event_id", flt, []).column("event_id").to_pylist())
    return Plan(sorted(docs), sorted(events), sorted(quarantined))


class Journal:
    """The erasure journal in the vault: plans and finished steps of requests not yet complete."""

    def __init__(self, settings: Settings) -> None:
        self.vault = Vault(settings)

    def _rows(self, request_key: str) -> list[dict]:
        dt = self.vault.table(JOURNAL_TABLE)
        if dt is None:
            return []
        return dt.to_pyarrow_dataset().to_table(filter=ds.field("request_key") == request_key).to_pylist()

    def load(self, request_key: str) -> tuple[str, datetime, Plan, dict[str, int]] | None:
        rows = self._rows(request_key)
        plan = next((r for r in rows if r["entry"] == "plan"), None)
        if plan is None:
            return None
        steps = {r["step"]: r["rows"] for r in rows if r["entry"] == "step"}
        ids = Plan(plan["doc_ids"], plan["event_ids"], plan["quarantine_ids"] or [])
        return plan["request_id"], plan["requested_at"], ids, steps

    def _append(self, row: dict) -> None:
        full = {"step": None, "rows": None, "doc_ids": None, "event_ids": None, "quarantine_ids": None, **row}
        self.vault.append(pa.Table.from_pylist([full], schema=JOURNAL), JOURNAL_TABLE)

    def start(self, request_key: str, request_id: str, requested_at: datetime, plan: Plan) -> None:
        self._append({"request_key": request_key, "request_id": request_id, "entry": "plan",
                      "doc_ids": plan.doc_ids, "event_ids": plan.event_ids, "quarantine_ids": plan.quarantine_ids,
                      "requested_at": requested_at})  # fmt: skip

    def step_done(self, request_key: str, request_id: str, requested_at: datetime, step: str, rows: int) -> None:
        self._append({"request_key": request_key, "request_id": request_id, "entry": "step", "step": step,
                      "rows": rows, "requested_at": requested_at})  # fmt: skip

    def close(self, request_key: str) -> None:
        """Drop the request's journal rows, and every old version that still lists its doc_ids."""
        dt = self.vault.table(JOURNAL_TABLE)
        if dt is not None:
            delete_keys(dt, "request_key", [request_key])
            purge_history(dt)
            self.vault.lock_down()


def _open(settings: Settings, table: registry.DocTable) -> DeltaTable | None:
    if table.root == "vault":
        return Vault(settings).table(table.name)
    return Lake(settings).table(table.layer, table.name)


def execute(
    settings: Settings,
    request_key: str,
    request_kind: str,
    subject_kind: str,
    plan: Plan,
    progress: Progress | None = None,
    request_id: str | None = None,
) -> ErasureResult:
    """Delete a plan's docs and events everywhere, journaled so a rerun resumes; then audit."""
    journal = Journal(settings)
    existing = journal.load(request_key)
    if existing is not None:
        request_id, requested_at, plan, done = existing
        resumed = True
    else:
        request_id = request_id or str(uuid.uuid4())
        requested_at, done, resumed = datetime.now(UTC), {}, False
        journal.start(request_key, request_id, requested_at, plan)
    result = ErasureResult(request_id, "completed", len(plan.doc_ids), len(plan.event_ids), resumed=resumed)
    steps: list[tuple[str, Callable[[], int]]] = []
    for name, deleter in registry.indexes().items():
        steps.append((f"index.{name}", partial(_erase_from_index, settings, deleter, plan.doc_ids)))
    for table in [*registry.doc_tables("doc"), *registry.doc_tables("event"), *registry.doc_tables("quarantine")]:
        steps.append((table.label, partial(_erase_from, settings, table, plan.ids(table.kind), result)))
    # The embedded warehouse file keeps rows of dropped dbt staging tables; rebuilt with views only.
    steps.append(("warehouse", partial(rebuild_warehouse, Path(settings.warehouse_path))))
    for step, run in steps:
        if step in done:
            result.rows_by_table[step] = done[step]
            continue
        rows = run()
        journal.step_done(request_key, request_id, requested_at, step, rows)
        result.rows_by_table[step] = rows
        if progress:
            progress(step, rows)
    _audit(settings, result, request_kind, subject_kind, requested_at)
    journal.close(request_key)
    return result


def _erase_from_index(settings: Settings, deleter: registry.IndexDeleter, doc_ids: list[str]) -> int:
    return deleter(settings, doc_ids) if doc_ids else 0


def _erase_from(settings: Settings, table: registry.DocTable, ids: list[str], result: ErasureResult) -> int:
    dt = _open(settings, table)
    if dt is None or not ids:
        return 0
    rows, files = erase_rows(dt, table.key, ids, table.key_is_list)
    result.files_purged += files
    if rows and table.root == "vault":
        Vault(settings).lock_down()
    return rows


def _audit(settings: Settings, result: ErasureResult, request_kind: str, subject_kind: str, at: datetime) -> None:
    row = {
        "request_id": result.request_id,
        "request_kind": request_kind,
        "subject_kind": subject_kind,
        "status": result.status,
        "requested_at": at,
        "completed_at": datetime.now(UTC),
        "docs_erased": result.docs_erased,
        "events_erased": result.events_erased,
        "rows_by_table": json.dumps({k: v for k, v in result.rows_by_table.items() if v}, sort_keys=True),
        "code_version": code_version(),
    }
    Lake(settings).append("governance", "erasure_audit", pa.Table.from_pylist([row], schema=AUDIT))


def submit(settings: Settings, subject: Subject) -> str:
    """Park the identifiers in the vault and return the request key, so a flow run's parameters
    (stored by Prefect, shown in its UI) never hold them."""
    vault = Vault(settings)
    dt = vault.table(REQUESTS_TABLE)
    if dt is None or not dt.to_pyarrow_dataset().count_rows(filter=ds.field("request_key") == subject.key):
        row = {**asdict(subject), "request_key": subject.key, "submitted_at": datetime.now(UTC)}
        vault.append(pa.Table.from_pylist([row], schema=REQUESTS), REQUESTS_TABLE)
    return subject.key


def submitted(settings: Settings, request_key: str) -> Subject:
    dt = Vault(settings).table(REQUESTS_TABLE)
    rows = (
        []
        if dt is None
        else dt.to_pyarrow_dataset().to_table(filter=ds.field("request_key") == request_key).to_pylist()
    )
    if not rows:
        raise ErasureError(
            f"no submitted erasure request {request_key[:12]}... (already completed, or never submitted)"
        )
    return Subject(user_id=rows[0]["user_id"], email=rows[0]["email"], source_system=rows[0]["source_system"])


def _withdraw(settings: Settings, request_key: str) -> None:
    dt = Vault(settings).table(REQUESTS_TABLE)
    if dt is not None and erase_rows(dt, "request_key", [request_key])[0]:
        Vault(settings).lock_down()


def forget(settings: Settings, subject: Subject, progress: Progress | None = None) -> ErasureResult:
    """Erase one person everywhere; an unknown person is audited as ``not_found`` and nothing changes."""
    journal = Journal(settings)
    pending = journal.load(subject.key)
    plan = pending[2] if pending else resolve(settings, subject)
    if plan.empty and pending is None:
        result = ErasureResult(str(uuid.uuid4()), "not_found")
        _audit(settings, result, "erasure", subject.kind, datetime.now(UTC))
    else:
        result = execute(settings, subject.key, "erasure", subject.kind, plan, progress)
    _withdraw(settings, subject.key)
    return result
