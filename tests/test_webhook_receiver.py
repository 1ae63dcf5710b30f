"""The webhook receiver over real HTTP: a 2xx only once the delivery is durably landed, and every bad
request gets a 4xx that names the reason, with nothing landed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from feedbackloop.settings import Settings, get_settings
from feedbackloop.stream.landing import landing_zone
from tests.streaming import (
    SECRETS,
    intercom_notification,
    post,
    running_receiver,
    signed_headers,
    telemetry,
    zendesk_event,
)

pytestmark = [pytest.mark.http]


@pytest.fixture
def webhook_settings(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("FEEDBACKLOOP_LANDING_URI", str(tmp_path / "landing"))
    monkeypatch.setenv("FEEDBACKLOOP_WEBHOOK_SECRETS", json.dumps(SECRETS))
    monkeypatch.setenv("FEEDBACKLOOP_WEBHOOK_MAX_BODY_BYTES", "65536")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def receiver(webhook_settings: Settings) -> Iterator[str]:
    with running_receiver(webhook_settings) as base:
        yield base


def landed_lines(settings: Settings) -> list[dict]:
    zone = landing_zone(settings)
    return [json.loads(line) for f in zone.list_files() for line in zone.read_bytes(f.path).splitlines()]


@pytest.mark.parametrize(
    ("source", "payload", "records"),
    [
        pytest.param("zendesk", zendesk_event(35), 1, id="zendesk-ticket-event"),
        # Intercom signs its created_at: build it when the test runs, not when the module is collected.
        pytest.param("intercom", lambda: intercom_notification("c9"), 1, id="intercom-conversation"),
        pytest.param("telemetry", [telemetry("e1"), telemetry("e2")], 2, id="telemetry-batch"),
        pytest.param("telemetry", telemetry("e3"), 1, id="telemetry-single"),
    ],
)
def test_signed_delivery_is_landed_before_the_200(
    receiver: str, webhook_settings: Settings, source: str, payload: object, records: int
) -> None:
    response = post(receiver, source, payload() if callable(payload) else payload)
    assert response.status_code == 200, response.text
    assert response.json()["records"] == records
    landed = Path(response.json()["file"])
    assert landed.is_file()  # the 200 names a file that is already complete on disk
    assert f"/{source}/received_date=" in str(landed)
    assert [line["source_system"] for line in landed_lines(webhook_settings)] == [source] * records


def test_landed_files_use_the_auto_loader_layout_and_hide_partial_files(
    receiver: str, webhook_settings: Settings
) -> None:
    post(receiver, "telemetry", telemetry("e1"))
    (path,) = [f.path for f in landing_zone(webhook_settings).list_files()]
    relative = Path(path).relative_to(webhook_settings.landing_uri)
    assert relative.parts[0] == "telemetry"
    assert relative.parts[1].startswith("received_date=")
    assert relative.name.startswith("part-") and relative.suffix == ".jsonl"
    assert not [p for p in Path(webhook_settings.landing_uri).rglob(".*")]  # no temp file left behind


@pytest.mark.parametrize(
    ("source", "sign", "reason"),
    [
        pytest.param("zendesk", {"secret": "wrong"}, "bad signature", id="zendesk-wrong-secret"),
        pytest.param("telemetry", {"secret": "wrong"}, "bad signature", id="standard-wrong-secret"),
        pytest.param("zendesk", {"at": time.time() - 3600}, "s old, tolerance is 300s", id="zendesk-stale"),
        pytest.param("telemetry", {"at": time.time() + 3600}, "in the future", id="standard-from-the-future"),
    ],
)
def test_bad_signature_or_stale_timestamp_is_401(
    receiver: str, webhook_settings: Settings, source: str, sign: dict, reason: str
) -> None:
    payload = zendesk_event(1) if source == "zendesk" else telemetry("e1")
    response = post(receiver, source, payload, **sign)
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert landed_lines(webhook_settings) == []


def test_intercom_replay_of_an_old_notification_is_rejected(receiver: str) -> None:
    response = post(receiver, "intercom", intercom_notification("c1", created_at=time.time() - 3600))
    assert response.status_code == 401
    assert "stale timestamp" in response.json()["error"]


def test_tampered_body_fails_the_signature(receiver: str) -> None:
    body = json.dumps(telemetry("e1")).encode()
    headers = signed_headers("telemetry", body)
    response = httpx.post(f"{receiver}/webhooks/telemetry", content=body.replace(b"e1", b"e2"), headers=headers)
    assert response.status_code == 401


def test_missing_signature_header_is_named(receiver: str) -> None:
    response = httpx.post(f"{receiver}/webhooks/zendesk", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"] == "missing x-zendesk-webhook-signature header"


def test_identical_replay_within_tolerance_is_answered_without_a_second_write(
    receiver: str, webhook_settings: Settings
) -> None:
    body = json.dumps(telemetry("e1")).encode()
    headers = signed_headers("telemetry", body)
    first = httpx.post(f"{receiver}/webhooks/telemetry", content=body, headers=headers)
    second = httpx.post(f"{receiver}/webhooks/telemetry", content=body, headers=headers)
    assert (first.json()["status"], second.json()["status"]) == ("landed", "duplicate")
    assert len(landed_lines(webhook_settings)) == 1


def test_oversized_body_is_413_before_it_is_read(receiver: str, webhook_settings: Settings) -> None:
    huge = [telemetry(f"e{i}") for i in range(2000)]  # ~180 KB > the 64 KB limit
    response = post(receiver, "telemetry", huge)
    assert response.status_code == 413
    assert response.json()["error"].endswith("exceeds the limit of 65536 bytes")
    assert landed_lines(webhook_settings) == []


def test_oversized_chunked_body_without_length_is_413(receiver: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    headers = {"content-type": "application/json", **signed_headers("telemetry", b"")}
    response = httpx.post(f"{receiver}/webhooks/telemetry", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["error"] == "body exceeds the limit of 65536 bytes"


def test_non_json_body_is_400(receiver: str) -> None:
    body = b"ticket=35&status=open"
    response = httpx.post(f"{receiver}/webhooks/telemetry", content=body, headers=signed_headers("telemetry", body))
    assert response.status_code == 400
    assert response.json()["error"].startswith("body is not valid JSON")


def test_wrong_content_type_is_415(receiver: str) -> None:
    body = json.dumps(telemetry("e1")).encode()
    headers = {**signed_headers("telemetry", body), "content-type": "text/plain"}
    response = httpx.post(f"{receiver}/webhooks/telemetry", content=body, headers=headers)
    assert response.status_code == 415
    assert response.json()["error"] == "content type must be application/json, got 'text/plain'"


def test_unknown_source_is_404_naming_the_known_ones(receiver: str) -> None:
    response = post(receiver, "salesforce", telemetry("e1"))
    assert response.status_code == 404
    assert response.json()["error"].startswith("unknown source 'salesforce'; webhooks are accepted for [")


def test_source_without_a_secret_accepts_nothing(receiver: str) -> None:
    response = post(receiver, "maalej_app_reviews", {"review_id": "1"})
    assert response.status_code == 403
    assert "no secret configured" in response.json()["error"]


@pytest.mark.parametrize(
    ("source", "payload", "reason"),
    [
        pytest.param("telemetry", [telemetry("e1"), telemetry("e2", event_type="meltdown")],
                     "record 1: invalid record: event_type", id="telemetry-unknown-event-type"),
        pytest.param("telemetry", [telemetry("e1"), 7], "record 1: expected a JSON object, got int",
                     id="telemetry-not-an-object"),
        pytest.param("telemetry", [], "empty array", id="telemetry-empty"),
        pytest.param("zendesk", {"type": "zen:event-type:ticket.created", "id": "x", "time": "t"},
                     "invalid Zendesk event: detail: Field required", id="zendesk-no-detail"),
        pytest.param("zendesk", zendesk_event(5, text="   ") | {"detail": {"id": "5", "created_at": "2026-11-01"}},
                     "ticket 5: empty customer_text", id="zendesk-no-text"),
        pytest.param("intercom", lambda: intercom_notification("c1") | {"topic": "contact.created"},
                     "invalid Intercom notification: topic", id="intercom-wrong-topic"),
    ],
)  # fmt: skip
def test_invalid_payload_is_422_with_the_reason(
    receiver: str, webhook_settings: Settings, source: str, payload: object, reason: str
) -> None:
    response = post(receiver, source, payload() if callable(payload) else payload)
    assert response.status_code == 422
    assert reason in response.json()["error"]
    assert landed_lines(webhook_settings) == []


def test_health_reports_the_landing_zone_and_sources(receiver: str, webhook_settings: Settings) -> None:
    health = httpx.get(f"{receiver}/health").json()
    assert health["status"] == "ok"
    assert health["landing_uri"] == str(Path(webhook_settings.landing_uri).resolve())
    assert health["sources_with_secret"] == ["intercom", "telemetry", "zendesk"]


def test_metrics_count_requests_by_status_and_rejections_by_reason(receiver: str) -> None:
    post(receiver, "telemetry", telemetry("e1"))
    post(receiver, "telemetry", telemetry("e2"), secret="wrong")
    post(receiver, "nope", telemetry("e3"))
    text = httpx.get(f"{receiver}/metrics").text
    assert 'feedbackloop_webhook_requests_total{source="telemetry",status="200"} 1.0' in text
    assert 'feedbackloop_webhook_rejected_total{reason="bad_signature",source="telemetry"} 1.0' in text
    assert 'feedbackloop_webhook_rejected_total{reason="unknown_source",source="unknown"} 1.0' in text
    assert 'feedbackloop_webhook_records_landed_total{source="telemetry"} 1.0' in text
    assert "feedbackloop_landing_write_seconds_count 1.0" in text
