"""Writers for small source exports in each real layout, shared by the ingest tests."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from feedbackloop.ingest.app_store import COLUMNS as APP_STORE_COLUMNS
from feedbackloop.ingest.google_play import COLUMNS as GOOGLE_PLAY_COLUMNS


def app_store_row(review_id: str, body: str = "Checkout keeps failing", **overrides: Any) -> dict[str, Any]:
    row = {
        "id": review_id,
        "rating": "2",
        "title": "Annoying",
        "body": body,
        "reviewerNickname": "sam_k",
        "createdDate": "2026-10-01T09:30:00-07:00",
        "territory": "USA",
    }
    row.update(overrides)
    return row


def write_app_store(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...] = APP_STORE_COLUMNS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def google_play_row(review_id: str, text: str = "Payment failed twice", **overrides: Any) -> dict[str, Any]:
    row = {column: "" for column in GOOGLE_PLAY_COLUMNS}
    row.update(
        {
            "Package Name": "com.acme.shop",
            "App Version Code": "540",
            "App Version Name": "5.4.0",
            "Reviewer Language": "en_GB",
            "Device": "Pixel 8",
            "Review Submit Date and Time": "2026-10-02T10:00:00Z",
            "Review Submit Millis Since Epoch": "1790935200000",
            "Star Rating": "1",
            "Review Text": text,
            "Review Link": f"https://play.google.com/console/developers/1/app/2/user-feedback/review-details?reviewId={review_id}",
        }
    )
    row.update(overrides)
    return row


def write_google_play(path: Path, rows: list[dict[str, Any]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(GOOGLE_PLAY_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode("utf-16"))  # Play Console exports are UTF-16 with a BOM
    return path


def zendesk_ticket(ticket_id: int, **overrides: Any) -> dict[str, Any]:
    ticket = {
        "id": ticket_id,
        "created_at": "2026-10-03T08:00:00Z",
        "subject": "Charged twice",
        "description": "I was charged twice for my order",
        "status": "open",
        "requester_id": 501,
        "organization_id": 77,
        "via": {"channel": "web"},
        "custom_fields": [{"id": 900002, "value": "billing"}, {"id": 900004, "value": "android"}],
        "comments": [
            {"author_id": 501, "public": True, "body": "I was charged twice for my order",
             "created_at": "2026-10-03T08:00:00Z"},
            {"author_id": 9001, "public": True, "body": "Sorry! We are refunding the second charge.",
             "created_at": "2026-10-03T09:00:00Z"},
            {"author_id": 9001, "public": False, "body": "Linked to PAY-123 double capture bug",
             "created_at": "2026-10-03T09:01:00Z"},
        ],
    }  # fmt: skip
    ticket.update(overrides)
    return ticket


def write_zendesk(path: Path, tickets: list[dict[str, Any]], users: list[dict[str, Any]] | None = None) -> Path:
    users = users if users is not None else [
        {"id": 501, "role": "end-user", "locale": "en-US"},
        {"id": 9001, "role": "agent", "locale": "en-US"},
    ]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"tickets": tickets, "users": users}))
    return path


def telemetry_event(event_id: str, event_type: str = "crash", **overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": event_id,
        "event_at": "2026-10-03T08:00:00Z",
        "user_id": "501",
        "session_id": "s-1",
        "app_version": "5.4.0",
        "platform": "android",
        "event_type": event_type,
        "value": None,
        "deploy_sha": None,
    }
    event.update(overrides)
    return event


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
