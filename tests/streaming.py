"""Helpers for the streaming tests: a real receiver on a free loopback port, signed payloads, and a
private PostgreSQL cluster (initdb from the installed binaries) that a test may restart at will."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx
import uvicorn

from feedbackloop.settings import Settings
from feedbackloop.stream.receiver import create_app
from feedbackloop.stream.signatures import IntercomScheme, StandardWebhooksScheme, ZendeskScheme

SECRETS = {"zendesk": "zendesk-secret", "intercom": "intercom-secret", "telemetry": "telemetry-secret"}
SCHEMES = {"zendesk": ZendeskScheme(), "intercom": IntercomScheme()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_receiver(settings: Settings) -> Iterator[str]:
    """The real ASGI app under uvicorn in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("receiver did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def signed_headers(source: str, body: bytes, *, at: float | None = None, delivery_id: str = "d-1",
                   secret: str | None = None) -> dict[str, str]:  # fmt: skip
    scheme = SCHEMES.get(source, StandardWebhooksScheme())
    key = (secret if secret is not None else SECRETS.get(source, "x")).encode()
    headers = scheme.sign(body, key, time.time() if at is None else at, delivery_id)
    return {**headers, "content-type": "application/json"}


def post(base: str, source: str, payload: Any, **sign: Any) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(f"{base}/webhooks/{source}", content=body, headers=signed_headers(source, body, **sign))


def zendesk_event(ticket_id: int, kind: str = "created", *, updated_at: str = "2026-11-01T10:00:00Z",
                  status: str = "OPEN", text: str = "I was charged twice") -> dict:  # fmt: skip
    return {
        "type": f"zen:event-type:ticket.{kind}",
        "id": f"evt-{ticket_id}-{kind}-{updated_at}",
        "time": updated_at,
        "account_id": 1,
        "detail": {"id": str(ticket_id), "created_at": "2026-11-01T09:00:00Z", "updated_at": updated_at,
                   "status": status, "subject": "Billing", "description": text, "requester_id": "501"},
    }  # fmt: skip


def intercom_notification(conversation_id: str, topic: str = "conversation.user.created", *,
                          created_at: float | None = None, body: str = "<p>Search is slow</p>") -> dict:  # fmt: skip
    now = int(time.time() if created_at is None else created_at)
    return {
        "type": "notification_event",
        "id": f"notif-{conversation_id}-{topic}-{now}",
        "topic": topic,
        "created_at": now,
        "data": {"item": {"type": "conversation", "id": conversation_id, "created_at": now - 60, "updated_at": now,
                          "state": "open", "source": {"body": body, "author": {"type": "user", "id": "u1"}}}},
    }  # fmt: skip


def telemetry(event_id: str, event_at: str = "2026-11-01T10:00:00Z", event_type: str = "crash") -> dict:
    return {"event_id": event_id, "event_at": event_at, "event_type": event_type, "platform": "ios"}


class PrivateCluster:
    """A throwaway PostgreSQL with wal_level=logical on its own port: safe to restart mid-test."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bindir = os.path.dirname(bins[-1])
        self.root = tempfile.mkdtemp(prefix="feedbackloop-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c wal_level=logical "
                   "-c fsync=off -c max_wal_senders=4 -c max_replication_slots=4")  # fmt: skip
        self.options = options
        self.start()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [os.path.join(self.bindir, tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-o", self.options, "-l", os.path.join(self.root, "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop("immediate")  # like a crash: no clean shutdown, WAL replay on start
        self.start()

    def destroy(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
