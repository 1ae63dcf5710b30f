"""The canonical records every source is mapped onto before it lands in bronze.

dbt mirrors these in ``dbt_project/models/bronze/_bronze__sources.yml`` (column types and tests);
``tests/test_contracts.py`` checks that the two stay in step.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SEP = "\x1f"  # unit separator: cannot occur in ids, so concatenations are unambiguous


class Channel(StrEnum):
    app_review = "app_review"
    support_ticket = "support_ticket"
    chat = "chat"
    survey = "survey"
    email = "email"
    social = "social"
    other = "other"


class Platform(StrEnum):
    ios = "ios"
    android = "android"
    web = "web"
    desktop = "desktop"
    unknown = "unknown"


class ResolutionStatus(StrEnum):
    new = "new"
    open = "open"
    pending = "pending"
    hold = "hold"
    solved = "solved"
    closed = "closed"


class TelemetryEventType(StrEnum):
    crash = "crash"
    api_error = "api_error"
    latency = "latency"
    checkout_failed = "checkout_failed"
    login_failed = "login_failed"
    deploy = "deploy"
    session_start = "session_start"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_hash(customer_text: str, agent_text: str | None = None, system_notes: str | None = None) -> str:
    """Hash of everything a person wrote, NFC-normalised so equivalent unicode hashes alike."""
    joined = SEP.join(unicodedata.normalize("NFC", t or "") for t in (customer_text, agent_text, system_notes))
    return sha256_hex(joined)


def make_doc_id(source_system: str, source_record_id: str, text_hash_: str) -> str:
    """Stable id: the same record with the same text always gets the same doc_id; edited text a new one."""
    return sha256_hex(SEP.join((source_system, source_record_id, text_hash_)))[:32]


def as_utc(value: datetime) -> datetime:
    # Naive timestamps in exports are UTC by convention (App Store, Play, Zendesk all export UTC).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class FeedbackRecord(BaseModel):
    """One piece of customer feedback from any source: a review, a ticket, a chat."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # ids
    doc_id: str = ""
    source_system: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    source_record_id: str = Field(min_length=1, max_length=256)
    text_hash: str = ""
    # timestamps
    event_at: datetime
    ingested_at: datetime
    # who
    account_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    # where
    product: str | None = None
    product_area: str | None = None
    app_version: str | None = None
    platform: Platform = Platform.unknown
    device: str | None = None
    locale: str | None = None
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    # what
    channel: Channel
    rating: int | None = Field(None, ge=1, le=5)
    customer_text: str = Field(min_length=1)
    agent_text: str | None = None
    system_notes: str | None = None
    resolution_status: ResolutionStatus | None = None
    is_text_truncated: bool = False
    is_event_at_inferred: bool = False
    # lineage: the verbatim source payload and where it was read from
    raw_payload: str
    source_file: str
    source_offset: int = Field(ge=0)

    @field_validator("event_at", "ingested_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @field_validator("customer_text", "agent_text", "system_notes")
    @classmethod
    def _nfc(cls, value: str | None) -> str | None:
        return None if value is None else unicodedata.normalize("NFC", value)

    @model_validator(mode="after")
    def _derive_ids(self) -> FeedbackRecord:
        self.text_hash = text_hash(self.customer_text, self.agent_text, self.system_notes)
        self.doc_id = make_doc_id(self.source_system, self.source_record_id, self.text_hash)
        return self


class TelemetryEvent(BaseModel):
    """One app telemetry event: a crash, an API error, a latency sample, a deploy."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: str = Field(min_length=1, max_length=256)
    event_at: datetime
    ingested_at: datetime
    user_id: str | None = None
    session_id: str | None = None
    product: str | None = None
    app_version: str | None = None
    platform: Platform = Platform.unknown
    event_type: TelemetryEventType
    value: float | None = None
    deploy_sha: str | None = Field(None, pattern=r"^[0-9a-f]{7,40}$")
    raw_payload: str
    source_file: str
    source_offset: int = Field(ge=0)

    @field_validator("event_at", "ingested_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @model_validator(mode="after")
    def _deploy_has_sha(self) -> TelemetryEvent:
        if self.event_type is TelemetryEventType.deploy and not self.deploy_sha:
            raise ValueError("a deploy event needs deploy_sha")
        return self


class QuarantinedRow(BaseModel):
    """A row that could not become a canonical record, kept verbatim with the reason."""

    quarantine_id: str
    source_system: str
    source_file: str
    source_offset: int
    reason: str
    raw_payload: str
    quarantined_at: datetime
    ingest_run_id: str


def model_fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def dump_row(record: BaseModel) -> dict[str, Any]:
    return record.model_dump(mode="python")
