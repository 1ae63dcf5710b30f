"""``feedbackloop serve``: the ASGI webhook receiver.

``POST /webhooks/{source}`` checks, in order: the source exists and has a secret (404/403), the content
type is JSON (415), the body fits the limit (413), the signature matches (401), the body parses
(400), the signed timestamp is within tolerance (401), the payload is valid for its source (422).
Only then is it written to the landing zone, and the 200 goes out only after that write is durable.

Concurrent requests share one fsync: a single writer task takes everything queued while the previous
write was on disk and lands it as one file per source (group commit), so throughput does not stop at
one fsync per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from feedbackloop.settings import Settings
from feedbackloop.stream.landing import LandingZone, landing_zone
from feedbackloop.stream.signatures import SignatureError, check_fresh
from feedbackloop.stream.webhooks import PayloadError, WebhookSource, webhook_sources

log = logging.getLogger("feedbackloop.receiver")
# The headers that carry a signature or its timestamp: an identical set plus body is a replay.
_SIGNATURE_HEADERS = ("x-zendesk-webhook-", "x-hub-signature", "webhook-")


class Rejected(Exception):
    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("feedbackloop_webhook_requests", "Webhook requests by source and status",
                                ["source", "status"], registry=r)  # fmt: skip
        self.rejected = Counter("feedbackloop_webhook_rejected", "Rejected webhook requests by reason",
                                ["source", "reason"], registry=r)  # fmt: skip
        self.records = Counter("feedbackloop_webhook_records_landed", "Records durably landed", ["source"], registry=r)
        self.duplicates = Counter("feedbackloop_webhook_duplicates", "Replayed deliveries answered without a write",
                                  ["source"], registry=r)  # fmt: skip
        self.latency = Histogram("feedbackloop_webhook_request_seconds", "Request latency until the response",
                                 ["source"], registry=r,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))  # fmt: skip
        self.write_seconds = Histogram("feedbackloop_landing_write_seconds", "One durable landing-zone write",
                                       registry=r, buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.5))  # fmt: skip
        self.group_size = Histogram("feedbackloop_landing_group_requests", "Requests sharing one write",
                                    registry=r, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))  # fmt: skip
        self.queued = Gauge("feedbackloop_landing_queued_requests", "Requests waiting for a write", registry=r)


class GroupCommitter:
    """Lands queued deliveries in as few durable writes as possible; each caller waits for its own."""

    def __init__(self, zone: LandingZone, metrics: Metrics) -> None:
        self.zone = zone
        self.metrics = metrics
        self.pending: list[tuple[str, bytes, asyncio.Future[str]]] = []
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.closing = False

    async def land(self, source_system: str, data: bytes) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.pending.append((source_system, data, future))
        self.metrics.queued.set(len(self.pending))
        self.wakeup.set()
        return await future

    async def run(self) -> None:
        while not (self.closing and not self.pending):
            await self.wakeup.wait()
            self.wakeup.clear()
            batch, self.pending = self.pending, []
            self.metrics.queued.set(0)
            if batch:
                await self._write(batch)

    async def _write(self, batch: list[tuple[str, bytes, asyncio.Future[str]]]) -> None:
        by_source: dict[str, list[tuple[bytes, asyncio.Future[str]]]] = defaultdict(list)
        for source_system, data, future in batch:
            by_source[source_system].append((data, future))
        received_at = datetime.now(UTC)

        async def one(source_system: str, items: list[tuple[bytes, asyncio.Future[str]]]) -> None:
            start = time.perf_counter()
            try:
                path = await asyncio.to_thread(
                    self.zone.write, source_system, b"".join(d for d, _ in items), received_at
                )
            except Exception as exc:  # nothing is acknowledged when the write fails
                log.exception("landing zone write failed for %s", source_system)
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                return
            self.metrics.write_seconds.observe(time.perf_counter() - start)
            self.metrics.group_size.observe(len(items))
            for _, future in items:
                if not future.done():
                    future.set_result(path)

        await asyncio.gather(*(one(s, items) for s, items in by_source.items()))

    async def close(self) -> None:
        self.closing = True
        self.wakeup.set()
        if self.task is not None:
            await self.task


class ReplayCache:
    """Signatures already landed within the tolerance window: a replay is answered, not written again."""

    def __init__(self, ttl: float, limit: int = 200_000) -> None:
        self.ttl, self.limit = ttl, limit
        self.seen: dict[str, float] = {}

    def contains(self, key: str, now: float) -> bool:
        expiry = self.seen.get(key)
        return expiry is not None and expiry > now

    def add(self, key: str, now: float) -> None:
        if len(self.seen) >= self.limit:
            self.seen = {k: v for k, v in self.seen.items() if v > now}
        self.seen[key] = now + self.ttl


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Rejected(413, "too_large", f"body of {int(declared)} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a chunked body declares no length: stop reading as soon as it is too big
            raise Rejected(413, "too_large", f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: Settings) -> FastAPI:
    """The receiver for one configuration; sources and secrets are read once, at start-up."""
    sources = webhook_sources(settings)
    secrets = {name: secret.get_secret_value().encode() for name, secret in settings.webhook_secrets.items()}
    zone = landing_zone(settings)
    metrics = Metrics()
    replays = ReplayCache(float(settings.webhook_tolerance_seconds))
    committer: dict[str, GroupCommitter] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        group = GroupCommitter(zone, metrics)
        group.task = asyncio.create_task(group.run())
        committer["landing"] = group
        yield
        await group.close()  # drain: every accepted request gets its write before shutdown

    app = FastAPI(title="feedbackloop webhook receiver", lifespan=lifespan)

    async def accept(source: str, request: Request) -> dict[str, Any]:
        spec: WebhookSource | None = sources.get(source)
        if spec is None:
            raise Rejected(
                404, "unknown_source", f"unknown source {source!r}; webhooks are accepted for {sorted(sources)}"
            )
        secret = secrets.get(source)
        if not secret:
            raise Rejected(403, "no_secret", f"webhooks from {source!r} are disabled: no secret configured for it")
        if _content_type(request) != "application/json":
            got = request.headers.get("content-type") or "none"
            raise Rejected(415, "content_type", f"content type must be application/json, got {got!r}")
        body = await _read_body(request, settings.webhook_max_body_bytes)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            spec.scheme.verify(headers, body, secret)
        except SignatureError as exc:
            raise Rejected(401, "bad_signature", str(exc)) from None
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Rejected(400, "not_json", f"body is not valid JSON: {exc}") from None
        now = time.time()
        try:
            check_fresh(spec.scheme.signed_at(headers, payload), now, settings.webhook_tolerance_seconds)
        except SignatureError as exc:
            raise Rejected(401, "stale_timestamp", str(exc)) from None
        delivery_id = spec.delivery_id(headers, payload) or hashlib.sha256(body).hexdigest()[:32]
        try:
            records = spec.records(payload)
        except PayloadError as exc:
            raise Rejected(422, "invalid_payload", f"delivery {delivery_id}: {exc}") from None
        signed = sorted((k, v) for k, v in headers.items() if k.startswith(_SIGNATURE_HEADERS))
        replay_key = hashlib.sha256(source.encode() + b"\x1f" + body + repr(signed).encode()).hexdigest()
        if replays.contains(replay_key, now):
            metrics.duplicates.labels(source).inc()
            return {"status": "duplicate", "delivery_id": delivery_id, "records": len(records)}
        received_at = datetime.now(UTC)
        data = b"".join(r.envelope(source, delivery_id, i, received_at) for i, r in enumerate(records))
        try:
            path = await committer["landing"].land(source, data)
        except Exception as exc:
            raise Rejected(503, "landing_failed", f"could not write to the landing zone: {exc}") from None
        replays.add(replay_key, now)
        metrics.records.labels(source).inc(len(records))
        return {"status": "landed", "delivery_id": delivery_id, "records": len(records), "file": path}

    @app.post("/webhooks/{source}")
    async def webhook(source: str, request: Request) -> JSONResponse:
        start = time.perf_counter()
        label = source if source in sources else "unknown"
        try:
            result = await accept(source, request)
            status = 200
        except Rejected as exc:
            status, result = exc.status, {"error": exc.reason, "source": source}
            metrics.rejected.labels(label, exc.kind).inc()
            log.warning("rejected webhook for %s: %s %s", source, status, exc.reason)
        metrics.requests.labels(label, str(status)).inc()
        metrics.latency.labels(label).observe(time.perf_counter() - start)
        return JSONResponse(result, status_code=status)

    @app.get("/health")
    async def health() -> JSONResponse:
        group = committer.get("landing")
        alive = group is not None and group.task is not None and not group.task.done()
        body = {"status": "ok" if alive else "down", "landing_uri": zone.uri, "sources": sorted(sources),
                "sources_with_secret": sorted(set(sources) & set(secrets))}  # fmt: skip
        return JSONResponse(body, status_code=200 if alive else 503)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from the environment."""
    return create_app(Settings())


def serve(settings: Settings, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run(
        "feedbackloop.stream.receiver:app_from_env",
        factory=True,
        host=settings.serve_host,
        port=settings.serve_port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
