"""Shared by the receiver benchmarks: a receiver subprocess and a keep-alive HTTP/1.1 load generator."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import httpx

from feedbackloop.stream.signatures import StandardWebhooksScheme

SECRET = "bench-secret"
SCHEME = StandardWebhooksScheme()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(root: str, port: int) -> dict[str, str]:
    return {**os.environ, "FEEDBACKLOOP_LAKE_URI": f"{root}/lake", "FEEDBACKLOOP_LANDING_URI": f"{root}/lake/landing",
            "FEEDBACKLOOP_WEBHOOK_SECRETS": json.dumps({"telemetry": SECRET}), "FEEDBACKLOOP_SERVE_PORT": str(port),
            "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip


def start_receiver(env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "feedbackloop.stream.receiver:app_from_env", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "error", "--no-access-log"], env=env)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("receiver did not start")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        proc.wait(timeout=30)


def request_bytes(port: int, event_id: str) -> bytes:
    body = json.dumps({"event_id": event_id, "event_at": "2026-11-27T10:00:00Z", "event_type": "latency",
                       "platform": "ios", "value": 123.0}).encode()  # fmt: skip
    headers = SCHEME.sign(body, SECRET.encode(), time.time(), event_id)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"POST /webhooks/telemetry HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{head}\r\n").encode() + body  # fmt: skip


@dataclass
class Load:
    acked: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    rejected: int = 0
    errors: int = 0


async def _client(port: int, stop_at: float, load: Load) -> None:
    reader = writer = None
    while time.monotonic() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            event_id = uuid.uuid4().hex
            start = time.perf_counter()
            writer.write(request_bytes(port, event_id))
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if not status_line:
                raise ConnectionError("closed")
            if status_line.split()[1] == b"200":
                load.latencies.append(time.perf_counter() - start)
                load.acked.append(event_id)
            else:
                load.rejected += 1
        except (OSError, asyncio.IncompleteReadError, ConnectionError, IndexError):
            load.errors += 1  # not acknowledged: the sender would retry it
            writer = None
            await asyncio.sleep(0.05)


def run_load(port: int, seconds: float, connections: int) -> Load:
    load = Load()

    async def main() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*(_client(port, stop_at, load) for _ in range(connections)))

    asyncio.run(main())
    return load


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
