"""A small lake full of one person's PII, built once by the real pipeline flow and copied per test.

Jane Roe (Zendesk requester 501, app user 501) wrote two tickets and is named in an agent's
internal note; her email also sits in a quarantined row. Bob Smith (502) and an App Store
reviewer are other people whose records must survive her erasure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedbackloop.settings import Settings, get_settings
from tests.samples import app_store_row, telemetry_event, write_app_store, write_jsonl, write_zendesk, zendesk_ticket

JANE_EMAIL = "jane.roe@example.org"
JANE_PHONE = "+1 415 555 0134"
JANE_CARD = "4111 1111 1111 1111"
JANE_NAME = "Jane Roe"
JANE_USER = "501"
BOB_EMAIL = "bob.smith@example.com"


def jane_ticket(ticket_id: int, body: str) -> dict:
    return zendesk_ticket(
        ticket_id,
        requester_id=501,
        comments=[
            {"author_id": 501, "public": True, "body": body, "created_at": "2026-10-03T08:00:00Z"},
            {"author_id": 9001, "public": True, "body": "Hi Jane Roe, we are on it.",
             "created_at": "2026-10-03T09:00:00Z"},
            {"author_id": 9001, "public": False, "created_at": "2026-10-03T09:05:00Z",
             "body": f"Called Jane Roe on {JANE_PHONE}, card {JANE_CARD} refunded. Account ACC-00012345."},
        ],
    )  # fmt: skip


BOB_COMMENT = {
    "author_id": 502, "public": True, "created_at": "2026-10-04T08:00:00Z",
    "body": f"Refund please, reach me at {BOB_EMAIL}.",
}  # fmt: skip


def write_inbox(inbox: Path) -> None:
    write_zendesk(
        inbox / "zendesk" / "tickets.json",
        [
            jane_ticket(1, f"I was charged twice. My name is {JANE_NAME}, email {JANE_EMAIL}, phone {JANE_PHONE}."),
            jane_ticket(2, "The app crashes when I open my statements."),
            zendesk_ticket(3, requester_id=502, comments=[BOB_COMMENT]),
        ],
        users=[
            {"id": 501, "role": "end-user", "locale": "en-US"},
            {"id": 502, "role": "end-user", "locale": "en-GB"},
            {"id": 9001, "role": "agent", "locale": "en-US"},
        ],
    )
    # A broken export line that still quotes her email: it lands in quarantine, verbatim.
    (inbox / "zendesk" / "broken.jsonl").write_text(f'{{"id": 7, "description": "from {JANE_EMAIL}", \n')
    write_app_store(
        inbox / "app_store" / "reviews.csv",
        [app_store_row("r1", body="Olivia Stone here, the search is slow"), app_store_row("r2", body="Love it")],
    )
    write_jsonl(
        inbox / "telemetry" / "events.jsonl",
        [telemetry_event("e1", user_id=JANE_USER), telemetry_event("e2", user_id="777")],
    )


ENV_KEYS = ("FEEDBACKLOOP_LAKE_URI", "FEEDBACKLOOP_INBOX_DIR", "FEEDBACKLOOP_WAREHOUSE_PATH")


def env_for(root: Path) -> dict[str, str]:
    return {
        "FEEDBACKLOOP_LAKE_URI": str(root / "lake"),
        "FEEDBACKLOOP_INBOX_DIR": str(root / "inbox"),
        "FEEDBACKLOOP_WAREHOUSE_PATH": str(root / "lake" / "warehouse.duckdb"),
    }


@pytest.fixture(scope="session")
def governance_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lake after one real ``feedback-pipeline`` run over the inbox above (built once)."""
    from flows.pipeline import feedback_pipeline

    root = tmp_path_factory.mktemp("governance_template")
    write_inbox(root / "inbox")
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ.update(env_for(root))
    get_settings.cache_clear()
    try:
        feedback_pipeline()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
    return root


@pytest.fixture
def governed(governance_template: Path, settings: Settings) -> Settings:
    """A private copy of the template lake (and its vault) behind the ``settings`` fixture's paths."""
    target = Path(settings.lake_uri).parent
    for name in ("lake", "lake_vault", "inbox"):
        shutil.copytree(governance_template / name, target / name, dirs_exist_ok=True)
    return settings


@pytest.fixture(scope="session")
def elasticsearch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Elasticsearch-compatible server (noida-db) on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = tmp_path_factory.mktemp("noida")
    binary = shutil.which("noida-db") or str(Path(sys.executable).parent / "noida-db")
    # Its own session: the launcher starts the server as a child, and both must stop at the end.
    proc = subprocess.Popen(
        [binary, "start", "--only", "elasticsearch", "--elasticsearch-port", str(port), "--data-dir", str(data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        from elasticsearch import Elasticsearch

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if Elasticsearch(url).ping():
                    break
            except Exception:
                pass
            time.sleep(0.3)
        else:
            raise RuntimeError(f"noida-db did not answer on {url} within 60 s")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def strings_in_tree(root: Path) -> Iterator[tuple[Path, str]]:
    """Every string stored under a directory: decoded Parquet values and raw text of everything else."""
    import pyarrow.parquet as pq

    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            yield path, json.dumps(pq.read_table(path).to_pylist(), default=str)
        else:
            yield path, path.read_bytes().decode("utf-8", "replace")
