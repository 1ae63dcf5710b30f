"""After a demo run: each planted incident next to what the monitor opened for it, and what else it opened.

The manifest is the answer key; a planted incident counts as found when an incident of the same
category and product was opened (docs/demo-scenario.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect

INCIDENTS_SQL = """
select
    incidents.incident_id, incidents.name, incidents.category, incidents.product, incidents.status,
    incidents.detected_at, incidents.member_count,
    (select count(*) from gold.fct_incident_telemetry as t where t.incident_id = incidents.incident_id)
        as telemetry_rows
from gold.dim_incidents as incidents
order by incidents.detected_at
"""


def detected_incidents(settings: Settings) -> list[dict[str, Any]]:
    """Every incident the monitor opened, with its telemetry evidence count; none before its first run."""
    with connect(settings) as conn:
        listed = conn.execute("select table_schema, table_name from information_schema.tables").fetchall()
        tables = {f"{schema}.{name}" for schema, name in listed}
        if not {"gold.dim_incidents", "gold.fct_incident_telemetry"} <= tables:
            return []
        return conn.execute(INCIDENTS_SQL).fetch_arrow_table().to_pylist()


def scorecard(manifest: dict[str, Any], detected: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict]]:
    """(one row per planted incident with its match or None, incidents that match nothing planted).

    When one (category, product) has several incidents, the earliest is the match: the planted one."""
    rows, matched = [], set()
    detected = sorted(detected, key=lambda d: d["detected_at"])
    for planted in manifest.get("incidents", []):
        match = next(
            (d for d in detected if (d["category"], d["product"]) == (planted["category"], planted["product"])), None
        )
        hours = None
        if match:
            matched.add(match["incident_id"])
            onset = datetime.fromisoformat(planted["onset"].replace("Z", "+00:00"))
            hours = (match["detected_at"] - onset) / timedelta(hours=1)
        rows.append({"planted": planted, "detected": match, "hours_to_detection": hours})
    return rows, [d for d in detected if d["incident_id"] not in matched]
