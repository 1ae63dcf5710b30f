"""Local HTTP servers speaking the ticketing APIs the act stage delivers to (the real ones cannot run here).

* ``FakeJira``: Jira Cloud REST API v3 (issue create with an ADF description, comments, JQL search by
  label, issue lookup), basic auth with email + API token.
* ``FakeServiceNow``: the Table API (create, query by ``sysparm_query``, PATCH work notes), basic auth.
* ``FakeSlack``: a Slack incoming webhook (``ok`` / ``invalid_payload`` / ``no_service``).
* ``FakeWebhookReceiver``: a receiver that verifies Standard Webhooks signatures and dedupes on webhook-id.

Each validates what the real API validates for these calls, records every request, and can inject
faults: ``faults`` is a queue consumed one per request -- an HTTP status (``503``), ``"drop"`` (close
the connection without a reply: the API is down) or ``"lose_reply"`` (do the work, then drop the
connection: the caller never learns it succeeded). ``down = True`` answers every request with 503.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlparse

from feedbackloop.stream.signatures import SignatureError, StandardWebhooksScheme, check_fresh

Reply = tuple[int, Any]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class FakeApi:
    """A ThreadingHTTPServer on loopback; subclasses implement ``handle``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[int | str] = []
        self.down = False
        self.delay = 0.0  # seconds each request waits before it is handled: a remote API's latency
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Keep-alive clients: one write per response and no Nagle, or every reply waits for a delayed ACK.
            wbufsize = -1
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return None

            def _serve(self) -> None:
                url = urlparse(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if api.delay:
                    time.sleep(api.delay)
                request = Request(
                    self.command, url.path, parse_qs(url.query), {k.lower(): v for k, v in self.headers.items()}, body
                )
                with api.lock:
                    api.requests.append(request)
                    fault = api.faults.pop(0) if api.faults else (503 if api.down else None)
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if isinstance(fault, int):
                    self._reply(fault, {"errorMessages": [f"injected {fault}"]})
                    return
                with api.lock:
                    status, payload = api.handle(request)
                if fault == "lose_reply":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._reply(status, payload)

            def _reply(self, status: int, payload: Any) -> None:
                if isinstance(payload, str):
                    data, kind = payload.encode(), "text/plain"
                else:
                    data, kind = json.dumps(payload).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def __enter__(self) -> FakeApi:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method: str, path_pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(path_pattern, r.path)]


def _basic(headers: dict[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    if not value.startswith("Basic "):
        return None
    user, _, secret = base64.b64decode(value[6:]).decode().partition(":")
    return user, secret


def _is_adf(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and doc.get("type") == "doc"
        and doc.get("version") == 1
        and isinstance(doc.get("content"), list)
    )


@dataclass
class JiraIssue:
    id: str
    key: str
    fields: dict[str, Any]
    comments: list[dict[str, Any]] = field(default_factory=list)


class FakeJira(FakeApi):
    ISSUE_TYPES = ("Bug", "Task", "Story", "Incident")

    def __init__(
        self,
        email: str = "bot@acme.example",
        token: str = "jira-token",
        projects: tuple[str, ...] = ("ENG", "PAY", "DASH", "ML"),
    ) -> None:
        super().__init__()
        self.email, self.token, self.projects = email, token, projects
        self.issues: dict[str, JiraIssue] = {}
        self._ids = itertools.count(10001)
        self._numbers: dict[str, Iterator[int]] = {p: itertools.count(1) for p in projects}

    def handle(self, request: Request) -> Reply:
        if _basic(request.headers) != (self.email, self.token):
            return 401, {"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}}
        path = request.path
        if request.method == "POST" and path == "/rest/api/3/issue":
            return self._create(request.json())
        if request.method == "POST" and path == "/rest/api/3/search/jql":
            return self._search(request.json())
        match = re.fullmatch(r"/rest/api/3/issue/([A-Z]+-\d+)(/comment)?", path)
        if match:
            issue = self.issues.get(match.group(1))
            if issue is None:
                return 404, {
                    "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                    "errors": {},
                }
            if match.group(2) and request.method == "POST":
                body = (request.json() or {}).get("body")
                if not _is_adf(body):
                    return 400, {"errorMessages": [], "errors": {"comment": "Comment body is not valid ADF."}}
                comment = {"id": str(len(issue.comments) + 1), "body": body}
                issue.comments.append(comment)
                return 201, comment
            if request.method == "GET" and not match.group(2):
                return 200, {"id": issue.id, "key": issue.key, "fields": issue.fields}
        return 404, {"errorMessages": [f"No API for {request.method} {path}"]}

    def _create(self, body: Any) -> Reply:
        fields = (body or {}).get("fields") or {}
        errors: dict[str, str] = {}
        project = (fields.get("project") or {}).get("key")
        if project not in self.projects:
            errors["project"] = "valid project is required"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if (fields.get("issuetype") or {}).get("name") not in self.ISSUE_TYPES:
            errors["issuetype"] = "Specify a valid issue type"
        if "description" in fields and not _is_adf(fields["description"]):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        if any(" " in label for label in fields.get("labels") or []):
            errors["labels"] = "Labels cannot contain spaces"
        if errors:
            return 400, {"errorMessages": [], "errors": errors}
        key = f"{project}-{next(self._numbers[project])}"
        issue = JiraIssue(str(next(self._ids)), key, fields)
        self.issues[key] = issue
        return 201, {"id": issue.id, "key": key, "self": f"{self.url}/rest/api/3/issue/{issue.id}"}

    def _search(self, body: Any) -> Reply:
        jql = (body or {}).get("jql") or ""
        match = re.match(r'labels\s*=\s*"([^"]+)"', jql)
        if not match:
            return 400, {"errorMessages": [f"Error in the JQL Query: {jql!r}"], "errors": {}}
        hits = [i for i in self.issues.values() if match.group(1) in (i.fields.get("labels") or [])]
        limit = int((body or {}).get("maxResults") or 50)
        return 200, {"issues": [{"id": i.id, "key": i.key} for i in hits[:limit]], "isLast": True}


class FakeServiceNow(FakeApi):
    TABLES: ClassVar[dict[str, str]] = {"incident": "INC", "task": "TASK"}

    def __init__(self, user: str = "feedbackloop", password: str = "snow-pass") -> None:
        super().__init__()
        self.user, self.password = user, password
        self.records: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in self.TABLES}
        self._numbers = itertools.count(10001)

    def handle(self, request: Request) -> Reply:
        if _basic(request.headers) != (self.user, self.password):
            return 401, {
                "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
                "status": "failure",
            }
        match = re.fullmatch(r"/api/now/table/(\w+)(?:/(\w+))?", request.path)
        if not match or match.group(1) not in self.TABLES:
            return 400, {"error": {"message": "Invalid table", "detail": request.path}, "status": "failure"}
        table, sys_id = match.group(1), match.group(2)
        rows = self.records[table]
        if request.method == "POST" and sys_id is None:
            body = request.json() or {}
            if not body.get("short_description"):
                return 400, {"error": {"message": "Mandatory field short_description is missing"}, "status": "failure"}
            new_id = uuid.uuid4().hex
            record = {
                **body,
                "sys_id": new_id,
                "number": f"{self.TABLES[table]}{next(self._numbers):07d}",
                "work_notes_log": [],
            }
            rows[new_id] = record
            return 201, {"result": record}
        if request.method == "GET" and sys_id is None:
            query = unquote((request.query.get("sysparm_query") or [""])[0])
            conditions = dict(part.split("=", 1) for part in query.split("^") if "=" in part)
            hits = [r for r in rows.values() if all(str(r.get(k)) == v for k, v in conditions.items())]
            limit = int((request.query.get("sysparm_limit") or ["10000"])[0])
            return 200, {"result": hits[:limit]}
        if request.method == "PATCH" and sys_id:
            record = rows.get(sys_id)
            if record is None:
                return 404, {
                    "error": {
                        "message": "No Record found",
                        "detail": "Record doesn't exist or ACL restricts the record retrieval",
                    },
                    "status": "failure",
                }
            body = request.json() or {}
            if "work_notes" in body:
                record["work_notes_log"].append(body.pop("work_notes"))
            record.update(body)
            return 200, {"result": record}
        return 405, {"error": {"message": "Method not Supported"}, "status": "failure"}


class FakeSlack(FakeApi):
    PATH = "/services/T0001/B0001/abcdefghijklmnop"
    BLOCK_TYPES: ClassVar[set[str]] = {"header", "section", "context", "divider", "actions"}

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.webhook_url = self.url + self.PATH

    def handle(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != self.PATH:
            return 404, "no_service"
        try:
            message = request.json()
        except ValueError:
            return 400, "invalid_payload"
        if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
            return 400, "no_text"
        for block in message.get("blocks") or []:
            if block.get("type") not in self.BLOCK_TYPES:
                return 400, "invalid_blocks"
            if block.get("type") == "section" and len((block.get("text") or {}).get("text", "")) > 3000:
                return 400, "invalid_blocks"
        self.messages.append(message)
        return 200, "ok"


class FakeWebhookReceiver(FakeApi):
    """Verifies the signature and timestamp like a careful receiver, and dedupes on webhook-id."""

    def __init__(self, secret: str, tolerance: int = 300) -> None:
        super().__init__()
        self.secret, self.tolerance = secret.encode(), tolerance
        self.deliveries: dict[str, dict[str, Any]] = {}
        self.rejected: list[str] = []

    def handle(self, request: Request) -> Reply:
        scheme = StandardWebhooksScheme()
        try:
            scheme.verify(request.headers, request.body, self.secret)
            check_fresh(scheme.signed_at(request.headers, None), time.time(), self.tolerance)
        except SignatureError as error:
            self.rejected.append(str(error))
            return 401, {"error": str(error)}
        delivery_id = request.headers["webhook-id"]
        body = request.json()
        duplicate = delivery_id in self.deliveries
        self.deliveries.setdefault(delivery_id, body)
        return 200, {"id": f"rcv-{body['action_id']}", "duplicate": duplicate}
