"""Telemetry evidence: each incident complaint joined to the app telemetry that preceded it.

The join takes the narrowest key that finds events in the lookback window before the complaint:
the complaint's session, else its user, else its platform + app version, else its platform alone
(App Store reviews carry no version). Deploys come from ``gold.dim_deploys``: the latest deploy on
the complaint's platform whose version scheme (major number) matches, before the complaint.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

ERROR_EVENTS = ("api_error", "crash", "checkout_failed", "login_failed")

_SQL = """
with complaints as (
    select *, event_at - to_microseconds({lookback_us}) as window_start, event_at as window_end
    from members
),
events as (
    select event_at, user_id, session_id, platform, app_version, event_type, value
    from silver.stg_bronze__telemetry_events
    where event_type <> 'deploy'
      and event_at >= (select min(window_start) from complaints)
      and event_at <= (select max(window_end) from complaints)
),
keyed as (
    select c.doc_id, c.incident_id, c.window_start, c.window_end, k.join_key, k.rank
    from complaints c
    cross join (values ('session', 1), ('user', 2), ('version', 3), ('platform', 4)) k(join_key, rank)
    where (k.join_key = 'session' and c.session_id is not null)
       or (k.join_key = 'user' and c.user_id is not null)
       or (k.join_key = 'version' and c.app_version is not null and c.platform is not null)
       or (k.join_key = 'platform' and c.platform is not null)
),
matched as (
    select
        keyed.incident_id, keyed.doc_id, keyed.join_key, keyed.rank, keyed.window_start, keyed.window_end,
        count(e.event_at) as events,
        count(e.event_at) filter (where e.event_type in {errors}) as error_events,
        quantile_cont(e.value, 0.95) filter (where e.event_type = 'latency') as p95_latency_ms
    from keyed
    join complaints c using (incident_id, doc_id)
    left join events e
        on e.event_at >= keyed.window_start and e.event_at < keyed.window_end
        and case keyed.join_key
            when 'session' then e.session_id = c.session_id
            when 'user' then e.user_id = c.user_id
            when 'version' then e.platform = c.platform and e.app_version = c.app_version
            else e.platform = c.platform
        end
    group by all
),
best as (
    select * from matched where events > 0
    qualify row_number() over (partition by incident_id, doc_id order by rank) = 1
),
deploys as (
    select c.incident_id, c.doc_id, d.deploy_sha, d.deployed_at
    from complaints c
    join gold.dim_deploys d
        on d.platform = c.platform and d.deployed_at <= c.event_at
        and (c.app_version is null or split_part(d.app_version, '.', 1) = split_part(c.app_version, '.', 1))
    qualify row_number() over (partition by c.incident_id, c.doc_id order by d.deployed_at desc) = 1
)
select
    best.incident_id, best.doc_id, best.join_key, best.events, best.error_events,
    best.error_events / best.events as error_rate_before,
    deploys.deploy_sha as last_deploy_sha, deploys.deployed_at as last_deploy_at,
    best.p95_latency_ms, best.window_start, best.window_end
from best
left join deploys using (incident_id, doc_id)
order by best.incident_id, best.window_end, best.doc_id
"""


def has_tables(conn: duckdb.DuckDBPyConnection, *names: str) -> bool:
    found = {
        f"{s}.{t}"
        for s, t in conn.execute(
            "select schema_name, table_name from duckdb_tables() union all "
            "select schema_name, view_name from duckdb_views()"
        ).fetchall()
    }
    return all(n in found for n in names)


def telemetry_evidence(conn: duckdb.DuckDBPyConnection, members: pa.Table, lookback_hours: float) -> pa.Table:
    """One evidence row per (incident, complaint) that has telemetry in its lookback window.

    ``members`` needs incident_id, doc_id, event_at, user_id, session_id, platform, app_version.
    No telemetry tables yet (a lake with feedback only) gives no rows, not an error.
    """
    if members.num_rows == 0 or not has_tables(conn, "silver.stg_bronze__telemetry_events"):
        return pa.table({})
    conn.register("members", members)
    try:
        sql = _SQL.format(lookback_us=int(lookback_hours * 3_600_000_000), errors=ERROR_EVENTS)
        if not has_tables(conn, "gold.dim_deploys"):
            sql = sql.replace(
                "join gold.dim_deploys d",
                "join (select null::varchar deploy_sha, null::varchar "
                "platform, null::varchar app_version, null::timestamptz deployed_at where false) d",
            )
        return conn.execute(sql).fetch_arrow_table()
    finally:
        conn.unregister("members")


def telemetry_summary(
    conn: duckdb.DuckDBPyConnection, platform: str | None, version_major: str | None, start_us: int, end_us: int
) -> dict:
    """Error rate and p95 latency in the incident window against the equally long window before it."""
    if not platform or not has_tables(conn, "silver.stg_bronze__telemetry_events"):
        return {}
    span = end_us - start_us
    rows = conn.execute(
        f"""
        select case when event_at >= make_timestamptz(?::bigint) then 'incident' else 'before' end as period,
               count(*) as events,
               count(*) filter (where event_type in {ERROR_EVENTS}) as error_events,
               quantile_cont(value, 0.95) filter (where event_type = 'latency') as p95_latency_ms
        from silver.stg_bronze__telemetry_events
        where event_type <> 'deploy' and platform = ?
          and (?::varchar is null or split_part(app_version, '.', 1) = ?)
          and event_at >= make_timestamptz(?::bigint) and event_at < make_timestamptz(?::bigint)
        group by 1
        """,
        [start_us, platform, version_major, version_major, start_us - span, end_us],
    ).fetchall()
    out = {}
    for period, events, errors, p95 in rows:
        out[period] = {
            "events": int(events),
            "error_events": int(errors),
            "error_rate": round(errors / events, 4) if events else None,
            "p95_latency_ms": round(float(p95), 1) if p95 is not None else None,
        }
    return out


def hourly_buckets(conn: duckdb.DuckDBPyConnection, lo_us: int, hi_us: int) -> pd.DataFrame | None:
    """Telemetry per (platform, app version major, hour) between two times; None without telemetry."""
    if not has_tables(conn, "silver.stg_bronze__telemetry_events"):
        return None
    return conn.execute(
        f"""
        select coalesce(platform, 'unknown') as platform,
               coalesce(split_part(app_version, '.', 1), 'unknown') as version_major,
               epoch_us(date_trunc('hour', event_at)) as hour_us,
               count(*) filter (where event_type in {ERROR_EVENTS}) as error_events,
               quantile_cont(value, 0.95) filter (where event_type = 'latency') as p95_latency_ms,
               count(*) filter (where event_type = 'latency') as latency_n
        from silver.stg_bronze__telemetry_events
        where event_type <> 'deploy'
          and event_at >= make_timestamptz(?::bigint) and event_at < make_timestamptz(?::bigint)
        group by all
        """,
        [lo_us, hi_us],
    ).df()


def version_sessions(conn: duckdb.DuckDBPyConnection, lo_us: int, hi_us: int) -> pd.DataFrame | None:
    """Sessions (session_start events) per (platform, app version, hour); None without telemetry."""
    if not has_tables(conn, "silver.stg_bronze__telemetry_events"):
        return None
    return conn.execute(
        """
        select coalesce(platform, 'unknown') as platform, coalesce(app_version, 'unknown') as app_version,
               epoch_us(date_trunc('hour', event_at)) as hour_us, count(*)::double as sessions
        from silver.stg_bronze__telemetry_events
        where event_type = 'session_start'
          and event_at >= make_timestamptz(?::bigint) and event_at < make_timestamptz(?::bigint)
        group by all
        """,
        [lo_us, hi_us],
    ).df()
