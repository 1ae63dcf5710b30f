"""Reading incidents back: the open ones with their evidence, for the CLI and the run artifact."""

from __future__ import annotations

import json
from typing import Any

from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect


def list_incidents(settings: Settings, status: str | None = "open") -> list[dict[str, Any]]:
    """Incidents (newest detection first) with their telemetry evidence counts."""
    conn = connect(settings)
    names = {r[0] for r in conn.execute("select view_name from duckdb_views() where schema_name = 'gold'").fetchall()}
    if "dim_incidents" not in names:
        return []
    telemetry = (
        "left join (select incident_id, count(*) as telemetry_rows, avg(error_rate_before) as mean_error_rate, "
        "quantile_cont(p95_latency_ms, 0.5) as median_p95_latency_ms, mode(last_deploy_sha) as usual_deploy_sha "
        "from gold.fct_incident_telemetry group by 1) t using (incident_id)"
        if "fct_incident_telemetry" in names
        else "left join (select null::varchar incident_id, 0 telemetry_rows, null::double mean_error_rate, "
        "null::double median_p95_latency_ms, null::varchar usual_deploy_sha where false) t using (incident_id)"
    )
    where = "where status = ?" if status else ""
    rows = conn.execute(
        f"select i.*, coalesce(t.telemetry_rows, 0) as telemetry_rows, t.mean_error_rate, "
        f"t.median_p95_latency_ms, t.usual_deploy_sha from gold.dim_incidents i {telemetry} {where} "
        "order by detected_at desc, incident_id",
        [status] if status else [],
    )
    cols = [d[0] for d in rows.description]
    out = []
    for values in rows.fetchall():
        row = dict(zip(cols, values, strict=True))
        for key in ("rule_ids", "cluster_ids", "evidence"):
            row[key] = json.loads(row[key]) if row.get(key) else None
        out.append(row)
    return out


def incidents_markdown(settings: Settings, stats: dict[str, Any]) -> str:
    lines = [
        f"# monitor as of {stats.get('as_of')}",
        "",
        f"{stats.get('incidents_open', 0)} open incidents; {stats.get('incidents_opened', 0)} opened this run; "
        f"{stats.get('rules_fired', 0)} of {stats.get('rule_rows', 0)} rule evaluations fired.",
        "",
        "| incident | category | product | severity | members | rules | telemetry rows | last deploy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i in list_incidents(settings):
        lines.append(
            f"| {i['name']} (`{i['incident_id']}`) | {i['category']} | {i['product']} | {i['severity']}"
            f"{' (escalated)' if i['is_escalated'] else ''} | {i['member_count']} | {', '.join(i['rule_ids'])} | "
            f"{i['telemetry_rows']} | {i['usual_deploy_sha'] or ''} |"
        )
    return "\n".join(lines)
