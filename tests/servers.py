"""Real local servers for the index and embedding tests: noida-db (an ES-API server), a fault-injecting
HTTP proxy in front of it, and an OpenAI-compatible embeddings endpoint (the cloud one cannot run here)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from feedbackloop.index.elastic import wait_until_up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def noida_binary() -> str:
    found = shutil.which("noida-db") or str(Path(sys.executable).parent / "noida-db")
    if not Path(found).exists():
        raise FileNotFoundError("noida-db is not installed: `make setup` installs it with the dev extras")
    return found


@contextmanager
def noida_elasticsearch(data_dir: Path) -> Iterator[str]:
    """Start noida-db's Elasticsearch API on a free port; yields its URL and stops it afterwards."""
    port = free_port()
    command = [
        noida_binary(),
        "start",
        "--only",
        "elasticsearch",
        "--elasticsearch-port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    log = (data_dir.parent / f"noida-{port}.log").open("w")
    # The noida-db script starts the server binary as a child: give both their own process group and
    # stop the group, or the binary outlives the test session.
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, seconds=30)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@contextmanager
def elasticsearch_url(tmp_dir: Path) -> Iterator[str]:
    """ELASTICSEARCH_URL when set (a real cluster), else a noida-db started for the session."""
    if os.environ.get("ELASTICSEARCH_URL"):
        yield os.environ["ELASTICSEARCH_URL"]
        return
    with noida_elasticsearch(tmp_dir) as url:
        yield url


class FaultProxy:
    """Forwards HTTP to ``target``; the first ``failures`` requests whose path contains ``path_part``
    get ``status`` instead (-1 = every matching request, 0 = none). Counts what it refused."""

    def __init__(
        self, target: str, status: int = 429, failures: int = 1, path_part: str = "_bulk", delay: float = 0.0
    ) -> None:
        self.target, self.status, self.remaining, self.path_part = target.rstrip("/"), status, failures, path_part
        self.delay = delay  # seconds every forwarded request waits: a slow cluster
        self.refused = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    refuse = proxy.path_part in self.path and proxy.remaining != 0
                    if refuse:
                        proxy.remaining -= 1 if proxy.remaining > 0 else 0
                        proxy.refused += 1
                if refuse:
                    payload = json.dumps({"error": {"type": "es_rejected_execution_exception", "reason": "injected"},
                                          "status": proxy.status}).encode()  # fmt: skip
                    self._reply(proxy.status, payload, {"Content-Type": "application/json"})
                    return
                time.sleep(proxy.delay)
                request = urllib.request.Request(proxy.target + self.path, data=body or None, method=self.command)
                for name in ("Content-Type", "Accept", "Authorization"):
                    if self.headers.get(name):
                        request.add_header(name, self.headers[name])
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        self._reply(response.status, response.read(), dict(response.headers))
                except urllib.error.HTTPError as error:
                    self._reply(error.code, error.read(), dict(error.headers))

            def _reply(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() == "content-type":
                        self.send_header(name, value)
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def fake_vector(text: str, dim: int) -> list[float]:
    """Deterministic per text; ``nan-me`` / ``zero-me`` in a text give the broken vectors endpoints can return."""
    if "nan-me" in text:
        return [math.nan] * dim
    if "zero-me" in text:
        return [0.0] * dim
    seed = hashlib.sha256(text.encode()).digest()
    return [((seed[i % 32] + 7 * i) % 251) / 251 - 0.5 for i in range(dim)]


class OpenAIEmbeddingsServer:
    """Speaks the OpenAI ``POST /v1/embeddings`` protocol; vectors of width ``dim``."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests += 1
                texts = request["input"] if isinstance(request["input"], list) else [request["input"]]
                vectors = [fake_vector(text, server.dim) for text in texts]
                data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
                payload = json.dumps({"object": "list", "data": data, "model": request["model"],
                                      "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIEmbeddingsServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
