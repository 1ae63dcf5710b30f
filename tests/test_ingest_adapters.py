"""Each batch source adapter maps its real export layout onto the canonical record."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.samples import (
    app_store_row,
    google_play_row,
    telemetry_event,
    write_app_store,
    write_google_play,
    write_jsonl,
    write_zendesk,
    zendesk_ticket,
)


def bronze_rows(settings: Settings, table: str = "feedback") -> list[dict]:
    return Lake(settings).read("bronze", table).to_pylist()


def test_app_store_review_maps_territory_rating_and_utc_time(settings: Settings) -> None:
    write_app_store(settings.inbox_dir / "app_store" / "r.csv", [app_store_row("a1")])
    ingest_inbox(settings, "run-1")
    (row,) = bronze_rows(settings)
    assert row["source_system"] == "app_store"
    assert row["country"] == "US"
    assert row["rating"] == 2
    assert row["platform"] == "ios"
    assert row["customer_text"] == "Annoying. Checkout keeps failing"
    assert row["event_at"].isoformat() == "2026-10-01T16:30:00+00:00"


def test_google_play_utf16_report_uses_review_id_from_link(settings: Settings) -> None:
    write_google_play(settings.inbox_dir / "google_play" / "reviews_com.acme.shop_202610.csv",
                      [google_play_row("gp:AOqp123", "Zahlung fehlgeschlagen ünd 💳")])  # fmt: skip
    ingest_inbox(settings, "run-1")
    (row,) = bronze_rows(settings)
    assert row["source_record_id"] == "gp:AOqp123"
    assert row["customer_text"] == "Zahlung fehlgeschlagen ünd 💳"
    assert (row["app_version"], row["device"], row["locale"], row["country"]) == (
        "5.4.0",
        "Pixel 8",
        "en_GB",
        "GB",
    )


def test_zendesk_comments_split_by_author_role_and_status_kept(settings: Settings) -> None:
    write_zendesk(settings.inbox_dir / "zendesk" / "export.json", [zendesk_ticket(35436)])
    ingest_inbox(settings, "run-1")
    (row,) = bronze_rows(settings)
    assert row["customer_text"] == "Charged twice\n\nI was charged twice for my order"
    assert row["agent_text"] == "Sorry! We are refunding the second charge."
    assert row["system_notes"] == "Linked to PAY-123 double capture bug"
    assert row["resolution_status"] == "open"
    assert (row["product_area"], row["platform"], row["locale"]) == ("billing", "android", "en-US")


def test_telemetry_deploy_event_keeps_its_sha(settings: Settings) -> None:
    write_jsonl(settings.inbox_dir / "telemetry" / "t.jsonl",
                [telemetry_event("e1", "deploy", deploy_sha="9fceb02d0ae598e95dc970b74767f19372d61af8")])  # fmt: skip
    ingest_inbox(settings, "run-1")
    (row,) = bronze_rows(settings, "telemetry_events")
    assert row["event_type"] == "deploy"
    assert row["deploy_sha"] == "9fceb02d0ae598e95dc970b74767f19372d61af8"


def test_raw_payload_is_kept_verbatim_with_file_and_line(settings: Settings) -> None:
    line = '{"event_id": "e9", "event_at": "2026-10-03T08:00:00Z", "event_type": "latency", "value": 812.5}'
    path = settings.inbox_dir / "telemetry" / "t.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n" + line + "\n")
    ingest_inbox(settings, "run-1")
    (row,) = bronze_rows(settings, "telemetry_events")
    assert row["raw_payload"] == line
    assert (row["source_file"], row["source_offset"]) == (str(path), 2)


def test_real_app_reviews_load_through_the_generic_mapping(settings: Settings) -> None:
    source = settings.datasets_dir / "app_reviews_maalej" / "app_reviews_maalej.csv"
    target = settings.inbox_dir / "maalej_app_reviews" / source.name
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    stats = ingest_inbox(settings, "run-1")
    assert stats.rows_read == 3734
    # The dataset lists a review once per label it carries: those copies are duplicates, not new rows.
    assert stats.rows_written + stats.rows_duplicate + stats.rows_quarantined == 3734
    assert stats.rows_written > 3200
    assert stats.quarantine_reasons == {"empty customer_text": stats.rows_quarantined}


def test_generic_mapping_rejects_unknown_canonical_field(tmp_path: Path) -> None:
    from feedbackloop.ingest.mapped import load_mapping

    bad = tmp_path / "bad.yaml"
    bad.write_text("source_system: x_src\nformat: csv\ncolumns: {source_record_id: id, customer_text: t, colour: c}\n")
    with pytest.raises(ValueError, match="unknown canonical fields \\['colour'\\]"):
        load_mapping(bad)


@pytest.mark.parametrize(
    "link",
    [
        "https://play.google.com/console/u/0/developers/1/app/2/user-feedback/review-details?reviewId=gp:AOqp_x&corpus=P",
        "https://x/review?reviewId=gp%3AAO+q",  # escaped, with a plus for a space
        "https://x/#fragment?reviewId=1",  # after the fragment mark: not the query
        "https://x/?a=1&reviewId=&reviewId=2",  # a blank value is skipped
        "https://x/?review%49d=3",  # an escaped name
        "https://x/p;params?reviewId=4#z",
        "https://x/?\treviewId=5",  # tabs and newlines are dropped
        "https://x/no-query",
        "https://x/?reviewId",
    ],
)
def test_google_play_review_id_reads_the_link_as_urllib_does(link: str) -> None:
    from urllib.parse import parse_qs, urlparse

    from feedbackloop.ingest.google_play import _query_value

    ids = parse_qs(urlparse(link).query).get("reviewId")
    assert _query_value(link, "reviewId") == (ids[0] if ids else None)
