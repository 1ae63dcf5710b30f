"""Run ids shared by every stage for lineage: the Prefect flow run id when there is one."""

from __future__ import annotations

import uuid


def current_run_id() -> str:
    from prefect.runtime import flow_run

    run_id = flow_run.id
    return str(run_id) if run_id else f"local-{uuid.uuid4()}"
