"""Run ids shared by every stage for lineage, and Prefect set up for runs in this process only."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any


def current_run_id() -> str:
    """The stage run's id: its flow run's, or its task run's inside feedback-pipeline.

    The run (stage name, code version) is recorded once for lineage, so a row still names the
    stage that wrote it, however the stage ran.
    """
    from prefect.context import TaskRunContext
    from prefect.runtime import flow_run

    from feedbackloop.governance.runs import record_run
    from feedbackloop.settings import get_settings

    stage = TaskRunContext.get()
    if stage is not None and runs_a_flow(stage.task):
        run_id, name = str(stage.task_run.id), stage.task.name
    else:
        run_id = str(flow_run.id) if flow_run.id else f"local-{uuid.uuid4()}"
        name = flow_run.flow_name or "local"
    record_run(get_settings(), run_id, name)
    return run_id


def runs_a_flow(task: Any) -> bool:
    """Whether this task runs a flow's own function: a stage that feedback-pipeline runs as a task.

    Told by the function, not by a tag: a tagged task run asks the API for concurrency slots first.
    """
    from prefect import Flow

    fn = task.fn
    owner = getattr(sys.modules.get(fn.__module__), fn.__name__, None)
    return isinstance(owner, Flow) and owner.fn is fn


def is_ephemeral() -> bool:
    """True when no PREFECT_API_URL is set: Prefect's API is a temporary server that dies with this process."""
    from prefect.settings import get_current_settings

    return not get_current_settings().api.url


def without_heartbeats() -> contextlib.AbstractContextManager[object]:
    """Flow runs inside send no heartbeats.

    Heartbeats let a server that outlives a crashed process mark its runs crashed. A temporary API
    dies with the process, so nobody reads them, and each heartbeat thread holds its flow run's
    exit for up to a second (it sleeps in 1 s steps): about 5 s of every pipeline run.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


class TemporaryApi:
    """Prefect's API server as ephemeral mode runs it (uvicorn in a subprocess, on Prefect's SQLite
    database), started by us before ``prefect`` is even imported, and retrying refused writes
    (``RetryRefusedWrites``).

    Prefect's own ephemeral mode imports its whole server package in this process first (about 4 s)
    and only then starts the subprocess, which imports it again. Started here, the subprocess
    imports it on the other core while this process imports the flows.
    """

    # uvicorn's exit code when it cannot start, e.g. its port was taken between our probe and its bind
    _PORT_TAKEN = 3

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._spawn()
        atexit.register(self.stop)

    @property
    def route_builder(self) -> str:
        """The name of the thread that has this server build its routes (``_build_routes``)."""
        return f"temporary-api-routes-{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        # the settings Prefect's own ephemeral server runs with: no UI, no background services
        # no telemetry from a server that lives for one run, unless asked for (offline it logs an ERROR)
        env = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", **os.environ}
        env.update(PREFECT_UI_ENABLED="0", PREFECT__SERVER_EPHEMERAL="1", PREFECT__SERVER_FINAL="1")
        args = ["--factory", "flows._runtime:temporary_api_app", "--host", "127.0.0.1", "--port", str(self.port)]
        _reap_stopped()
        # stdout: nothing, at this log level; not ours, so a reader of our output is not held by the server's
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *args, "--log-level", "error", "--lifespan", "on"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        builder = threading.Thread(target=self._build_routes, args=(self.process,), name=self.route_builder)
        builder.daemon = True
        builder.start()

    def _build_routes(self, process: subprocess.Popen[bytes]) -> None:
        """Once the server answers, have it build its routes while this process still prepares.

        FastAPI builds a route at the first request that reaches it, and the first flow run would
        wait about 0.5 s for it; a request that matches no route walks, and so builds, them all.
        """
        while process.poll() is None and process is self.process:
            if self.is_ready():
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(f"{self.url}/__build_every_route__", timeout=10).close()
                return
            time.sleep(0.05)

    def wait(self, timeout: float) -> str:
        """Block until the server answers its health check; returns its API URL."""
        deadline = time.monotonic() + timeout
        respawns = 2
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code == self._PORT_TAKEN and respawns:
                respawns -= 1
                self._spawn()
            elif code is not None:
                self.process = None
                raise RuntimeError(f"the temporary Prefect API server exited with code {code} before it was ready")
            if self.is_ready(timeout=1):
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"the temporary Prefect API server was not ready within {timeout:g} s; raise "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or set PREFECT_API_URL to a running server"
        )

    def is_ready(self, timeout: float = 0.2) -> bool:
        """Whether the server answers its health check now."""
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/health", timeout=timeout) as response:
            return bool(response.status == 200)
        return False

    def stop(self, wait: bool = True) -> None:
        """Stop the server; with ``wait=False`` (a run is over), signal it and go on.

        uvicorn then shuts down gracefully on its own, once the events it has received are
        recorded (``RecordEventsBeforeShutdown``; about 0.3 s, at most 3 s). In this process the
        next server to start waits for that first (``_reap_stopped``); a new process's server
        needs seconds to import before it opens the database.
        """
        atexit.unregister(self.stop)  # a long-lived process that starts many keeps no stale hooks
        if self.process is None:
            return
        self.process.terminate()
        if wait:
            _finish(self.process)
        else:
            _stopping.append(self.process)
        self.process = None


_stopping: list[subprocess.Popen[bytes]] = []  # servers signalled to stop, not waited for yet


def _finish(process: subprocess.Popen[bytes], timeout: float = 5) -> None:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _reap_stopped() -> None:
    """Collect the exit of servers stopped without waiting; one that still runs gets 5 s more."""
    while _stopping:
        _finish(_stopping.pop())


class RetryRefusedWrites:
    """ASGI wrapper that runs a request again, after a short pause, when Prefect answered 503.

    Prefect's API answers 503 to an error a retry can cure, above all SQLite's "database is
    locked": on its one SQLite file, a write that starts as a read fails at once when another
    writer (the service recording task runs from events) got there first. Its client then sleeps
    2 s before trying again, which happened in most no-op pipeline runs. Here the request runs
    again within milliseconds, as the client's retry would, its transaction having been rolled
    back; after ``DELAYS`` the 503 goes out, and the client's own backoff takes over.
    """

    DELAYS = (0.01, 0.03, 0.1, 0.3)

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # websockets (events, logs) and the lifespan pass through
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left before its request was read
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        # each attempt gets the request as it came: routing writes into the scope (root_path, say)
        for delay in self.DELAYS:
            if not await self._attempt(dict(scope), receive, send, body, last=False):
                return
            await asyncio.sleep(delay)
        await self._attempt(dict(scope), receive, send, body, last=True)

    async def _attempt(self, scope: dict[str, Any], receive: Any, send: Any, body: bytes, last: bool) -> bool:
        """Run the request once; True when it was refused with a 503 that was not sent on."""
        replayed = False
        refused = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: a disconnect, when the client leaves

        async def forward(message: dict[str, Any]) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] == 503 and not last:
                refused = True
            if not refused:
                await send(message)

        try:
            await self.app(scope, replay, forward)
        except Exception:
            # Starlette raises the error again after its handler answered (for the server's log)
            if not refused:
                raise
        return refused


class RecordEventsBeforeShutdown:
    """ASGI wrapper that holds the server's shutdown until the events it received are recorded.

    Task runs reach Prefect's database as events, through an in-memory broker: on shutdown its
    consumers are cancelled, and whatever they had not handled yet was lost (a run's last task runs
    stayed "Running" or were missing, and the server logged a cancelled flush). The run is over by
    then, so waiting costs it nothing; ``TIMEOUT`` bounds a broker that never drains.
    """

    TIMEOUT = 3.0

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def shutdown_when_recorded() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.events_handled(self.TIMEOUT)
            return message

        await self.app(scope, shutdown_when_recorded, send)

    @staticmethod
    async def events_handled(timeout: float) -> bool:
        """Wait until every message the broker delivered has been consumed; False on timeout."""
        from prefect.server.utilities.messaging import memory

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # the broker's own depth figures: delivered to a subscriber, and handled by its consumer
            if all(figures["published"] <= figures["consumed"] for figures in memory.METRICS.values()):
                return True
            await asyncio.sleep(0.02)
        return False


def temporary_api_app() -> Any:
    """The temporary API's application: Prefect's own, run again briefly on a refused write, and
    stopped only once the events it received are recorded."""
    with startup_without_collection():
        from prefect.server.api.server import create_app

        return RetryRefusedWrites(RecordEventsBeforeShutdown(create_app()))


_active = False


def _api_url_set() -> bool:
    """Whether flows will report to a Prefect server or Cloud, as far as can be told without importing Prefect.

    Importing Prefect takes seconds, the time the temporary API needs to start, so before that the
    environment decides. A URL set in a Prefect profile is known only after the import; then the
    server started ahead is stopped unused.
    """
    if "prefect.settings" in sys.modules:
        return not is_ephemeral()
    return bool(os.environ.get("PREFECT_API_URL"))


_started = False  # the process's start is behind it: startup_without_collection has run once


@contextlib.contextmanager
def startup_without_collection() -> Iterator[None]:
    """No cyclic garbage collection while the process starts, and none over what the start built.

    Importing Prefect, its server and dbt builds millions of objects that live as long as the
    process. Python's collector runs every few hundred allocations and walks them again and again:
    about a fifth of the start (1 s of each side's 4-6 s on 2 cores). Afterwards they are frozen,
    so later collections skip them. Garbage is still freed by reference counting; only reference
    cycles made before the freeze stay until exit, which is why it happens once per process (a
    test session or a notebook starts many runs) and never when the collector was off already.
    """
    global _started
    if _started or not gc.isenabled():
        yield
        return
    _started = True
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _skip_exit_collection() -> None:
    """At exit, Python's last garbage collections walk every object Prefect, dbt and DuckDB left
    (1.5-2 s after a pipeline run); frozen objects are skipped, and the OS reclaims the memory.
    Python never promised ``__del__`` at exit, and every table write has committed by then."""
    gc.freeze()


# Prefect client models a flow run validates; pydantic builds their schemas at first use.
_FLOW_RUN_MODELS = {
    "prefect.client.schemas.actions": ("FlowCreate", "FlowRunCreate", "TaskRunCreate", "ArtifactCreate"),
    "prefect.client.schemas.objects": ("FlowRun", "FlowRunPolicy", "Artifact", "ServerDefaultResultStorage"),
    "prefect.client.schemas.filters": ("FlowRunFilter",),
    "prefect.events.schemas.events": ("Event",),
}


def _warm_prefect() -> None:
    """Do now what the first flow run would do lazily (about 0.5 s): import the encoder Prefect
    serializes parameters with, and build the schemas of the client models a flow run uses.

    Called while the temporary API starts, when this process would otherwise wait. A model a
    later Prefect no longer has is skipped: this only moves work, it changes nothing.
    """
    import importlib

    import fastapi.encoders  # noqa: F401  (prefect.flows imports it at the first call)

    for module_name, names in _FLOW_RUN_MODELS.items():
        module = importlib.import_module(module_name)
        for name in names:
            model = getattr(module, name, None)
            if model is not None and hasattr(model, "model_rebuild"):
                with contextlib.suppress(Exception):
                    model.model_rebuild()


def _drain_prefect_workers() -> None:
    """Send the logs and events still queued to the temporary API before it stops.

    At exit Prefect drains them itself, but by then the temporary API is gone: each log batch would
    retry against a closed port for a minute and a half.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)


@contextlib.contextmanager
def local_runs(ahead: Callable[[], object] | None = None) -> Iterator[str | None]:
    """Flow runs in this process, ``ahead`` (imports, parsing) first; yields the temporary API's URL.

    Ephemeral mode (no PREFECT_API_URL): the temporary API starts before ``ahead`` runs, so its
    start overlaps that work, and flow runs send no heartbeats (nobody outlives the process to read
    them). Against a Prefect server or Prefect Cloud nothing changes, and it yields None. Nested
    calls just run ``ahead``.
    """
    global _active
    if _active:
        if ahead:
            ahead()
        yield None
        return
    api = None if _api_url_set() else TemporaryApi()
    _active = True
    atexit.unregister(_skip_exit_collection)
    atexit.register(_skip_exit_collection)
    try:
        with startup_without_collection():
            if ahead:
                ahead()
            from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

            ephemeral = get_current_settings().server.ephemeral
            temporary = is_ephemeral() and ephemeral.enabled
            if api is not None and temporary and not api.is_ready():
                _warm_prefect()  # while the server still starts; else the first flow run would do it
        if api is None or not temporary:
            yield None  # a server or Cloud; or ephemeral mode turned off, and Prefect says so at the first flow
            return
        url = api.wait(ephemeral.startup_timeout_seconds)
        with temporary_settings(updates={PREFECT_API_URL: url}), without_heartbeats():
            try:
                yield url
            finally:
                _drain_prefect_workers()
    finally:
        _active = False

        if api is not None:
            api.stop(wait=False)


def run_pipeline(only: list[str] | None = None, force: bool = False) -> dict[str, Any]:
    """Run ``feedback-pipeline`` in this process, as `feedbackloop run` does; returns its summary.

    The flows import and dbt parses the project while the temporary API starts (ephemeral mode);
    the warehouse stays open for the run's dbt builds (``warehouse_kept_open``).
    """
    with contextlib.ExitStack() as warehouse:

        def prepare() -> None:
            from flows.pipeline import parse_ahead

            parse_ahead(only, keep_open=warehouse)

        with local_runs(ahead=prepare):
            from flows.pipeline import feedback_pipeline

            return feedback_pipeline(only=only, force=force)
