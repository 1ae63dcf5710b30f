"""App Store reviews: the attributes of App Store Connect's ``customerReviews`` resource, one per column."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from feedbackloop.ingest.base import RawRow, RowError, blank_to_none, parse_timestamp, read_csv_rows

COLUMNS = ("id", "rating", "title", "body", "reviewerNickname", "createdDate", "territory")


@cache
def _alpha3_to_alpha2() -> dict[str, str]:
    from babel.core import get_global

    aliases = get_global("territory_aliases")
    return {k: v[0] for k, v in aliases.items() if len(k) == 3 and k.isalpha() and len(v) == 1}


def territory_to_country(territory: str | None) -> str | None:
    """App Store Connect reports storefronts as ISO 3166 alpha-3 (``USA``); the contract uses alpha-2."""
    if not territory:
        return None
    territory = territory.strip().upper()
    if len(territory) == 2:
        return territory
    return _alpha3_to_alpha2().get(territory)


def join_title_body(title: str | None, body: str | None) -> str:
    title, body = blank_to_none(title), blank_to_none(body)
    if title and body:
        return f"{title}. {body}" if title[-1] not in ".!?" else f"{title} {body}"
    return title or body or ""


def parse_rating(value: Any) -> int | None:
    value = blank_to_none(value)
    if value is None:
        return None
    try:
        rating = int(float(value))
    except (TypeError, ValueError):
        raise RowError(f"rating is not a number: {str(value)[:20]!r}") from None
    return rating


class AppStoreAdapter:
    source_system = "app_store"
    kind = "feedback"

    def read(self, path: Path) -> Iterator[RawRow]:
        return read_csv_rows(path, set(COLUMNS))

    def to_canonical(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "source_record_id": blank_to_none(payload["id"]),
            "event_at": parse_timestamp(payload["createdDate"], "createdDate"),
            "user_id": None,  # reviewerNickname is a public handle, not an account id
            "platform": "ios",
            "country": territory_to_country(payload["territory"]),
            "channel": "app_review",
            "rating": parse_rating(payload["rating"]),
            "customer_text": join_title_body(payload["title"], payload["body"]),
        }
