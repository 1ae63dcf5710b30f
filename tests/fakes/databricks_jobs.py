"""A local HTTPS server speaking the subset of the Databricks Jobs API 2.1 that the flows use.

runs/submit -> runs/get (PENDING, RUNNING, then TERMINATED) -> runs/get-output, runs/list, and the
SQL Warehouses API's GET /api/2.0/sql/warehouses/<id> (the smoke test). The outcome of each run is
scripted by ``result_state``; every request is recorded for assertions.
"""

from __future__ import annotations

import itertools
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes.tls import self_signed


@dataclass
class JobsApi:
    token: str
    result_state: str = "SUCCESS"
    polls_until_done: int = 2
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    warehouses: dict[str, str] = field(default_factory=lambda: {"abc123def456": "RUNNING"})
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))

    def submit(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        tasks = body.get("tasks") or []
        for task in tasks:
            commands = (task.get("dbt_task") or {}).get("commands") or []
            if not commands or not all(c.startswith("dbt ") for c in commands):
                return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "dbt commands must start with dbt"}
        if not tasks:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "tasks is required"}
        run_id = next(self._ids)
        task_runs = [{"task_key": t["task_key"], "run_id": run_id * 10 + i} for i, t in enumerate(tasks)]
        self.runs[run_id] = {"body": body, "polls": 0, "tasks": task_runs}
        return 200, {"run_id": run_id}

    def get(self, run_id: int) -> tuple[int, dict[str, Any]]:
        run = self.runs.get(run_id)
        if run is None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Run {run_id} does not exist."}
        run["polls"] += 1
        if run["polls"] == 1:
            state: dict[str, Any] = {"life_cycle_state": "PENDING", "state_message": "Waiting for cluster"}
        elif run["polls"] <= self.polls_until_done:
            state = {"life_cycle_state": "RUNNING", "state_message": "In run"}
        else:
            message = (
                "" if self.result_state == "SUCCESS" else "dbt build failed: 1 error in test unique_fct_feedback_doc_id"
            )
            state = {"life_cycle_state": "TERMINATED", "result_state": self.result_state, "state_message": message}
        tasks = [{**t, "state": state} for t in run["tasks"]]
        return 200, {
            "run_id": run_id,
            "run_name": run["body"].get("run_name"),
            "run_page_url": f"https://example.cloud.databricks.com/#job/runs/{run_id}",
            "state": state,
            "tasks": tasks,
        }

    def get_state(self, run_id: int) -> dict[str, Any]:
        """A run as runs/list shows it, without counting as a poll."""
        run = self.runs[run_id]
        done = run["polls"] > self.polls_until_done
        state = (
            {"life_cycle_state": "TERMINATED", "result_state": self.result_state}
            if done
            else {"life_cycle_state": "RUNNING"}
        )
        return {"run_id": run_id, "run_name": run["body"].get("run_name"), "state": state}

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        if method == "POST" and path == "/api/2.1/jobs/runs/submit":
            return self.submit(body)
        if method == "GET" and path == "/api/2.1/jobs/runs/get":
            return self.get(int(query["run_id"][0]))
        if method == "GET" and path == "/api/2.1/jobs/runs/list":
            runs = [self.get_state(run_id) for run_id in sorted(self.runs, reverse=True)]
            return 200, {"runs": runs[: int(query.get("limit", ["25"])[0])], "has_more": False}
        if method == "GET" and path.startswith("/api/2.0/sql/warehouses/"):
            ident = path.rsplit("/", 1)[1]
            if ident not in self.warehouses:
                return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Warehouse {ident} does not exist."}
            return 200, {"id": ident, "name": "feedbackloop", "state": self.warehouses[ident]}
        if method == "GET" and path == "/api/2.1/jobs/runs/get-output":
            return 200, {"metadata": {"run_id": int(query["run_id"][0])}, "dbt_output": {"artifacts_headers": {}}}
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"No API found for '{method} {path}'"}


def _handler(api: JobsApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            if self.headers.get("Authorization") != f"Bearer {api.token}":
                self._reply(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            url = urlparse(self.path)
            status, payload = api.handle(method, url.path, parse_qs(url.query), body)
            self._reply(status, payload)

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, *args: Any) -> None:
            return None

    return Handler


@contextmanager
def serve_jobs_api(directory: Path, token: str = "dapi-test-token") -> Iterator[tuple[JobsApi, str, Path]]:
    """(api, "127.0.0.1:<port>", ca_bundle) for a Jobs API served over HTTPS on loopback."""
    cert, key = self_signed(directory)
    api = JobsApi(token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api, f"127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()
