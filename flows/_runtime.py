"""Run ids shared by every stage for lineage: the Prefect flow run id when there is one."""

from __future__ import annotations

import uuid


def current_run_id() -> str:
    """The flow run's id; the run (flow name, code version) is recorded once for lineage."""
    from prefect.runtime import flow_run

    from feedbackloop.governance.runs import record_run
    from feedbackloop.settings import get_settings

    run_id = str(flow_run.id) if flow_run.id else f"local-{uuid.uuid4()}"
    record_run(get_settings(), run_id, flow_run.flow_name or "local")
    return run_id
