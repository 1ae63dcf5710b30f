"""Run ids shared by every stage for lineage, and Prefect set up for runs in this process only."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from typing import Any


def current_run_id() -> str:
    """The flow run's id; the run (flow name, code version) is recorded once for lineage."""
    from prefect.runtime import flow_run

    from feedbackloop.governance.runs import record_run
    from feedbackloop.settings import get_settings

    run_id = str(flow_run.id) if flow_run.id else f"local-{uuid.uuid4()}"
    record_run(get_settings(), run_id, flow_run.flow_name or "local")
    return run_id


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


def local_runs() -> contextlib.AbstractContextManager[object]:
    """Heartbeats off in ephemeral mode; against a Prefect server or Prefect Cloud, nothing changes."""
    return without_heartbeats() if is_ephemeral() else contextlib.nullcontext()


def start_ephemeral_api() -> Callable[[], None]:
    """Start the temporary API server in the background (ephemeral mode only); returns a wait for it.

    The server imports Prefect's whole server package, about 4 s, so the caller imports its flows
    meanwhile. Call the wait before the first flow: a client that finds the server already starting
    uses its address at once, ready or not.
    """
    if not is_ephemeral():
        return lambda: None
    from prefect.server.api.server import SubprocessASGIServer

    # A failed start resets the server, and the first flow's client starts it again and reports why.
    starter = threading.Thread(target=SubprocessASGIServer().start, name="prefect-api-start", daemon=True)
    starter.start()
    return starter.join


def run_pipeline(only: list[str] | None = None, force: bool = False) -> dict[str, Any]:
    """Run ``feedback-pipeline`` in this process, as `feedbackloop run` does; returns its summary.

    The temporary API (ephemeral mode) starts while the flows import and dbt parses, and the runs
    send no heartbeats; against a Prefect server, only the parse moves ahead.
    """
    api_ready = start_ephemeral_api()
    from flows.pipeline import feedback_pipeline, parse_ahead

    parse_ahead(only)
    api_ready()
    with local_runs():
        return feedback_pipeline(only=only, force=force)
