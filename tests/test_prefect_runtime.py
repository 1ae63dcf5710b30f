"""Prefect set up for runs in this process: in ephemeral mode a temporary API started ahead; against a server, as is."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import flow, get_client, task
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.runtime import flow_run
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_SERVER_ALLOW_EPHEMERAL_MODE,
    get_current_settings,
    temporary_settings,
)

from feedbackloop.settings import Settings
from feedbackloop.transform import dbt as dbt_module
from flows import _runtime
from flows._runtime import RetryRefusedWrites, TemporaryApi, is_ephemeral, local_runs, startup_without_collection
from flows.pipeline import parse_ahead

EPHEMERAL = {PREFECT_API_URL: None, PREFECT_SERVER_ALLOW_EPHEMERAL_MODE: True, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}
SERVER = {PREFECT_API_URL: "http://prefect.example:4200/api", PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}


@flow(name="runtime-probe")
def probe() -> str:
    """Where this flow run reports to."""
    return str(get_current_settings().api.url)


@pytest.mark.slow
def test_ephemeral_mode_runs_flows_on_a_temporary_api_without_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(updates=EPHEMERAL):
        assert is_ephemeral()
        with local_runs() as url:
            assert url is not None and url.startswith("http://127.0.0.1:")
            assert get_current_settings().flows.heartbeat_frequency is None
            assert probe() == url
        # stopped with the runs: signalled, it shuts down by itself, and then nothing answers there
        assert not still_answering_after(f"{url}/health", seconds=10)


@task
def step(n: int) -> int:
    return n


@flow(name="runtime-probe-steps")
def probe_steps(count: int) -> str:
    """Many quick task runs, the last of them finishing just before the run ends."""
    for n in range(count):
        step(n)
    return str(flow_run.id)


@pytest.mark.slow
def test_every_task_run_is_recorded_before_the_temporary_api_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(updates=EPHEMERAL):
        with local_runs():
            run_id = probe_steps(40)
        _runtime._reap_stopped()  # its shutdown is over: whatever it did not record is lost
        reader = TemporaryApi()
        try:
            url = reader.wait(timeout=120)
            with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as client:
                task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        finally:
            reader.stop()
    assert sorted(str(run.state_type.value) for run in task_runs) == ["COMPLETED"] * 40


def still_answering_after(url: str, seconds: float) -> bool:
    """Whether ``url`` still answers after ``seconds``: polled until it stops answering or time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
        except OSError:
            return False
        time.sleep(0.05)
    return True


def test_work_ahead_runs_before_the_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example:4200/api")
    done = []
    with temporary_settings(updates=SERVER), local_runs(ahead=lambda: done.append(True)):
        assert done == [True]


@pytest.fixture
def fresh_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process whose start is still ahead; the collector is left as it was found."""
    monkeypatch.setattr(_runtime, "_started", False)
    gc.unfreeze()
    yield
    gc.enable()
    gc.unfreeze()


def test_the_start_runs_without_collection_and_freezes_what_it_built(fresh_start: None) -> None:
    with startup_without_collection():
        assert not gc.isenabled()
        built = [[index] for index in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(built)
    assert not any(tracked is built for tracked in gc.get_objects())  # no collection walks it any more


def test_collection_comes_back_when_the_start_fails(fresh_start: None) -> None:
    with pytest.raises(RuntimeError, match="import failed"), startup_without_collection():
        raise RuntimeError("import failed")
    assert gc.isenabled()


def test_only_the_first_start_of_a_process_freezes(fresh_start: None) -> None:
    with startup_without_collection():
        pass
    gc.unfreeze()
    with startup_without_collection():
        assert gc.isenabled()  # a later run's garbage cycles are still collected
    assert gc.get_freeze_count() == 0


def test_a_collector_switched_off_already_is_left_off(fresh_start: None) -> None:
    gc.disable()
    with startup_without_collection():
        pass
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_prefect_server_gets_no_temporary_api_and_keeps_its_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example:4200/api")
    with temporary_settings(updates=SERVER), local_runs() as url:
        assert url is None
        assert get_current_settings().api.url == "http://prefect.example:4200/api"
        assert get_current_settings().flows.heartbeat_frequency == 60


def test_a_server_set_in_prefect_settings_gets_no_temporary_api(monkeypatch: pytest.MonkeyPatch) -> None:
    # a profile's URL is not in the environment; Prefect, once imported, knows it
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(updates=SERVER), local_runs() as url:
        assert url is None
        assert get_current_settings().flows.heartbeat_frequency == 60


def test_nested_runs_share_the_outer_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example:4200/api")
    with temporary_settings(updates=SERVER), local_runs(), local_runs() as inner:
        assert inner is None


def test_a_commands_prefect_setup_ends_with_the_command(settings: Settings) -> None:
    from typer.testing import CliRunner

    from feedbackloop.cli import app
    from flows import _runtime

    result = CliRunner().invoke(app, ["ingest"])
    assert result.exit_code == 0, result.output
    assert not _runtime._active  # the next command, or a pipeline run in this process, sets up afresh


def test_a_temporary_api_not_ready_in_time_is_stopped_with_a_clear_error() -> None:
    api = TemporaryApi()
    with pytest.raises(RuntimeError, match=r"not ready within 0\.01 s.*PREFECT_API_URL"):
        api.wait(timeout=0.01)
    assert api.process is None


@pytest.mark.dbt
@pytest.mark.slow
def test_parse_ahead_parses_only_when_a_layer_build_will_run(settings: Settings) -> None:
    dbt_module._parsed.clear()
    parse_ahead(["ingest", "enrich"])
    assert not dbt_module._parsed
    parse_ahead(["ingest", "silver"])
    assert len(dbt_module._parsed) == 1


def test_warming_prefect_builds_what_the_first_flow_run_would() -> None:
    # a fresh interpreter: in this one, earlier tests have run flows already
    check = (
        "import sys; import flows._runtime as runtime; "
        "from prefect.client.schemas.objects import FlowRun; "
        "from prefect.client.schemas.actions import FlowRunCreate; "
        "assert not FlowRun.__pydantic_complete__ and 'fastapi.encoders' not in sys.modules; "
        "runtime._warm_prefect(); "
        "assert FlowRun.__pydantic_complete__ and FlowRunCreate.__pydantic_complete__; "
        "assert 'fastapi.encoders' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", check], check=True, cwd=Path(__file__).resolve().parent.parent)


def test_the_route_builder_ends_with_the_server_it_waits_for() -> None:
    api = TemporaryApi()
    builders = [t for t in threading.enumerate() if t.name == api.route_builder]
    api.stop()  # before the server could answer
    for builder in builders:
        builder.join(timeout=5)
    assert builders and not any(builder.is_alive() for builder in builders)


def test_a_server_stopped_without_waiting_is_collected_before_the_next_one_starts() -> None:
    first = TemporaryApi()
    first.wait(timeout=120)
    process = first.process
    assert process is not None
    first.stop(wait=False)
    second = TemporaryApi()
    try:
        assert process.returncode is not None  # it ended, and its exit was collected
    finally:
        second.stop()


class Refused(Exception):
    """What SQLite's "database is locked" is to Prefect's API: an error a retry can cure."""


def _serve(app: object) -> tuple[str, object, threading.Thread]:
    """``app`` on a real HTTP server in a thread; (base URL, server, thread)."""
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


@pytest.fixture
def refusing_api() -> Iterator[tuple[str, list[bytes], list[int]]]:
    """An app shaped like Prefect's (mounted under /api, a 503 handler Starlette re-raises after),
    wrapped as the temporary API is; it refuses the first ``refusals[0]`` requests."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    bodies: list[bytes] = []
    refusals = [0]

    async def create(request: Request) -> JSONResponse:
        bodies.append(await request.body())
        if len(bodies) <= refusals[0]:
            raise Refused("database is locked")
        return JSONResponse({"created": True}, status_code=201)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"exception_message": "Service Unavailable"}, status_code=503)

    app = Starlette(routes=[Mount("/api", routes=[Route("/runs/", create, methods=["POST"])])],
                    exception_handlers={Exception: unavailable})  # fmt: skip
    url, server, thread = _serve(RetryRefusedWrites(app))
    yield url, bodies, refusals
    server.should_exit = True  # type: ignore[attr-defined]
    thread.join(timeout=5)


def _post(url: str) -> int:
    request = urllib.request.Request(f"{url}/api/runs/", data=b'{"name": "silver"}', method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_refused_write_is_run_again_at_once_and_answered(refusing_api: tuple[str, list[bytes], list[int]]) -> None:
    url, bodies, refusals = refusing_api
    refusals[0] = 2
    assert _post(url) == 201  # not the 503 that would have cost the client a 2 s backoff
    assert bodies == [b'{"name": "silver"}'] * 3  # the same request, routed the same way each time


def test_a_write_refused_every_time_gets_the_503_for_the_clients_own_backoff(
    refusing_api: tuple[str, list[bytes], list[int]],
) -> None:
    url, bodies, refusals = refusing_api
    refusals[0] = 100
    assert _post(url) == 503
    assert len(bodies) == len(RetryRefusedWrites.DELAYS) + 1


def test_a_task_running_a_flows_own_function_counts_as_that_flows_run() -> None:
    from prefect import task

    from flows._runtime import runs_a_flow

    def helper() -> str:
        return "not a flow"

    assert runs_a_flow(task(probe.fn))
    assert not runs_a_flow(task(helper))
