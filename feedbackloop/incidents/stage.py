"""The monitor stage: cluster new complaints, evaluate the rules, open/update incidents, attach evidence.

Runs after ``index``. Time is data time: a run looks at everything up to ``as_of`` (default: the
newest labelled feedback), so replaying a past day (``feedbackloop monitor --as-of``) behaves
exactly as the run that day would have. Incremental: only complaints not yet in a cluster are
assigned; centroids persist as running sums in ``gold.dim_feedback_clusters``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from feedbackloop.embed.model import embedding_version
from feedbackloop.embed.vectors import EMBEDDINGS_TABLE, to_matrix
from feedbackloop.incidents import detect
from feedbackloop.incidents.clustering import ClusterState, assign
from feedbackloop.incidents.naming import cluster_name, representative_terms
from feedbackloop.incidents.rules import RuleSet, load_rules
from feedbackloop.incidents.schedule import MONITOR_RUNS_TABLE, last_pass_us, plan_passes, run_row
from feedbackloop.incidents.signals import US_PER_DAY, US_PER_HOUR, Complaints, TelemetryBuckets, evaluate_rules
from feedbackloop.incidents.tables import (
    CLUSTER_MEMBERS,
    INCIDENT_MEMBERS,
    INCIDENT_TELEMETRY,
    INCIDENTS,
    RULE_HITS,
    clusters_schema,
)
from feedbackloop.incidents.telemetry import (
    has_tables,
    hourly_buckets,
    telemetry_evidence,
    telemetry_summary,
    version_sessions,
)
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect

CLUSTERS = ("gold", "dim_feedback_clusters")
CLUSTER_MEMBERS_TABLE = ("gold", "fct_feedback_cluster_members")
INCIDENTS_TABLE = ("gold", "dim_incidents")
INCIDENT_MEMBERS_TABLE = ("gold", "fct_incident_members")
INCIDENT_TELEMETRY_TABLE = ("gold", "fct_incident_telemetry")
RULE_HITS_TABLE = ("gold", "fct_rule_hits")

_COMPLAINTS_SQL = """
select
    l.doc_id, epoch_us(l.event_at) as event_us, l.category, l.severity, l.sentiment_label,
    l.recommended_action, l.confidence, l.review_reason, l.product,
    coalesce(l.product_area, l.label_product_area) as product_area, l.platform, l.app_version,
    l.source_system, f.user_id, f.session_id, f.redacted_text as text
from gold.fct_feedback_labels l
join gold.fct_feedback f using (doc_id)
where l.event_at is not null and epoch_us(l.event_at) < $as_of
  and coalesce(l.category, '') not in (select unnest($exclude::varchar[]))
  and (l.sentiment_label in (select unnest($sentiments::varchar[]))
       or l.severity in (select unnest($severities::varchar[]))
       or l.rating <= $max_rating
       or f.channel in (select unnest($channels::varchar[])))
order by event_us, doc_id
"""


@dataclass
class MonitorStats:
    as_of: str | None = None
    complaints: int = 0
    complaints_assigned: int = 0
    complaints_without_vector: int = 0
    clusters: int = 0
    clusters_new: int = 0
    rule_rows: int = 0
    rules_fired: int = 0
    incidents_open: int = 0
    incidents_opened: int = 0
    incidents_resolved: int = 0
    escalations: int = 0
    telemetry_rows: int = 0
    opened: list[str] = field(default_factory=list)


def _ts(us: int | None) -> datetime | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, UTC)


def _us(value: Any) -> int:
    return int(pd.Timestamp(value).value // 1000)


def _as_of_us(conn: Any, as_of: datetime | None) -> int | None:
    if as_of is not None:
        return _us(as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC))
    if not has_tables(conn, "gold.fct_feedback_labels"):
        return None
    row = conn.execute("select epoch_us(max(event_at)) from gold.fct_feedback_labels").fetchone()
    return None if row[0] is None else int(row[0]) + 1  # windows are half-open: include the newest item


def _load_state(lake: Lake, version: str) -> tuple[ClusterState, pd.DataFrame, pd.DataFrame]:
    """(centroids, cluster rows, memberships) of this embedding space."""
    if not lake.exists(*CLUSTERS):
        return ClusterState(), pd.DataFrame(), pd.DataFrame(columns=CLUSTER_MEMBERS.names)
    rows = lake.read(*CLUSTERS)
    rows = rows.filter(pa.compute.equal(rows.column("embedding_version"), version))
    state = ClusterState()
    if rows.num_rows:
        state.ids = rows.column("cluster_id").to_pylist()
        state.sums = to_matrix(
            rows.column("centroid_sum"), pa.array([len(rows.column("centroid_sum")[0])] * rows.num_rows), version
        ).copy()
        state.counts = rows.column("member_count").to_numpy().astype(np.int64).copy()
        state.last_seen_us = np.array([_us(t) for t in rows.column("last_seen_at").to_pylist()], np.int64)
    members = (
        lake.read(*CLUSTER_MEMBERS_TABLE).to_pandas()
        if lake.exists(*CLUSTER_MEMBERS_TABLE)
        else pd.DataFrame(columns=CLUSTER_MEMBERS.names)
    )
    return state, rows.drop(["centroid_sum"]).to_pandas(), members


class VectorStore:
    """Every complaint-sized read of one embedding space in one scan: filtering a Delta scan by a
    long doc_id list costs far more than reading the space and indexing it in memory."""

    def __init__(self, lake: Lake, version: str) -> None:
        self.index = pd.Index([], dtype=object)
        self.matrix = np.zeros((0, 0), np.float32)
        if lake.exists(*EMBEDDINGS_TABLE):
            expr = (pa.compute.field("text_kind") == "text") & (pa.compute.field("embedding_version") == version)
            t = lake.read(*EMBEDDINGS_TABLE, columns=["doc_id", "dim", "vector"], filter_=expr)
            if t.num_rows:
                self.index = pd.Index(t.column("doc_id").to_numpy(zero_copy_only=False))
                self.matrix = to_matrix(t.column("vector"), t.column("dim"), version)

    def get(self, doc_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, vectors of the found docs in order)."""
        pos = self.index.get_indexer(doc_ids.to_numpy()) if len(self.index) else np.full(len(doc_ids), -1)
        found = pos >= 0
        return found, self.matrix[pos[found]] if found.any() else np.zeros((0, 0), np.float32)


def _load_incidents(lake: Lake) -> list[detect.Incident]:
    if not lake.exists(*INCIDENTS_TABLE):
        return []
    out = []
    for r in lake.read(*INCIDENTS_TABLE).to_pylist():
        out.append(
            detect.Incident(
                incident_id=r["incident_id"], category=r["category"], product=r["product"], status=r["status"],
                severity=r["severity"], is_escalated=bool(r["is_escalated"]), rule_ids=json.loads(r["rule_ids"]),
                cluster_ids=json.loads(r["cluster_ids"]), first_seen_us=_us(r["first_seen_at"]),
                last_seen_us=_us(r["last_seen_at"]), detected_us=_us(r["detected_at"]),
                detection_run_id=r["detection_run_id"],
                resolved_us=_us(r["resolved_at"]) if r["resolved_at"] else None,
                extra={"detected_wall_at": r["detected_wall_at"]},
            )
        )  # fmt: skip
    return out


def run_monitor(
    settings: Settings,
    run_id: str,
    as_of: datetime | None = None,
    rules: RuleSet | None = None,
    is_catch_up: bool = False,
) -> dict[str, Any]:
    """One monitoring pass; returns its figures. Safe to rerun: nothing is assigned or opened twice."""
    rules = rules or load_rules(settings.monitor_rules_path)
    lake = Lake(settings)
    conn = connect(settings)
    stats = MonitorStats()
    now = datetime.now(UTC)
    as_of_us = _as_of_us(conn, as_of)
    if as_of_us is None or not has_tables(conn, "gold.fct_feedback_labels", "gold.fct_feedback"):
        return asdict(stats)  # nothing labelled yet: an empty window, not an error
    stats.as_of = datetime.fromtimestamp(as_of_us / 1e6, UTC).isoformat()
    which = rules.complaints
    frame = conn.execute(
        _COMPLAINTS_SQL,
        {
            "as_of": as_of_us, "exclude": which.exclude_categories, "sentiments": which.sentiments,
            "severities": which.severities, "max_rating": which.max_rating, "channels": which.channels,
        },
    ).df()  # fmt: skip
    stats.complaints = len(frame)
    version = embedding_version(settings)

    # (1) clustering: only complaints not yet in a cluster, in event order
    state, cluster_rows, members = _load_state(lake, version)
    assigned = dict(zip(members["doc_id"], members["cluster_id"], strict=True))
    new = frame[~frame["doc_id"].isin(assigned)]
    store = VectorStore(lake, version)
    found, new_matrix = store.get(new["doc_id"])
    new = new[found]
    stats.complaints_without_vector = int((~found).sum())
    known_before = len(state.ids)
    new_members = pd.DataFrame(columns=CLUSTER_MEMBERS.names)
    if len(new):
        matrix = new_matrix
        result = assign(
            state, matrix, new["doc_id"].tolist(), new["event_us"].to_numpy(np.int64),
            settings.incident_similarity_threshold, int(settings.incident_cluster_active_days * US_PER_DAY),
        )  # fmt: skip
        new_members = pd.DataFrame(
            {
                "cluster_id": [state.ids[i] for i in result.cluster_index],
                "doc_id": new["doc_id"].to_numpy(),
                "similarity": result.similarity,
                "event_us": new["event_us"].to_numpy(),
            }
        )
        assigned.update(zip(new_members["doc_id"], new_members["cluster_id"], strict=True))
    stats.complaints_assigned = len(new_members)
    stats.clusters_new = len(state.ids) - known_before
    stats.clusters = len(state.ids)
    frame["cluster_id"] = frame["doc_id"].map(assigned)

    # (2) rules over rolling windows (vectors only for the complaints a drift rule can reach)
    reach_us = max(
        int((r.window_days + r.baseline_days) * US_PER_DAY + r.quorum.consecutive_windows * r.quorum.step_hours
            * US_PER_HOUR) for r in rules.rules
    )  # fmt: skip
    in_reach = frame[(frame["event_us"] >= as_of_us - reach_us) & frame["cluster_id"].notna()].reset_index(drop=True)
    found, matrix = store.get(in_reach["doc_id"])
    in_reach = in_reach[found].reset_index(drop=True)
    if not len(in_reach):
        matrix = np.zeros((0, state.sums.shape[1] if state.sums.size else 1), np.float32)
    history_start = int(frame["event_us"].min()) if len(frame) else as_of_us
    sessions = None
    if any(r.kind == "release_regression" for r in rules.rules):
        sessions = version_sessions(conn, as_of_us - reach_us, as_of_us)
    complaints = Complaints(in_reach, matrix, history_start, sessions)
    telemetry_rules = [r for r in rules.rules if r.kind == "telemetry_zscore"]
    buckets = hourly_buckets(conn, as_of_us - reach_us, as_of_us) if telemetry_rules else None
    hits = evaluate_rules(rules.rules, complaints, as_of_us, TelemetryBuckets(buckets) if buckets is not None else None)
    stats.rule_rows, stats.rules_fired = len(hits), int(hits["is_fired"].sum()) if len(hits) else 0

    # (3) incidents: open or update from fired rules, escalate, resolve the quiet ones
    incidents = _load_incidents(lake)
    excluded = set(rules.complaints.exclude_categories)
    all_complaints = Complaints(frame[frame["cluster_id"].notna()].reset_index(drop=True), np.zeros((0, 0)),
                                history_start)  # fmt: skip
    opened, fired_scopes = detect.open_or_update(
        incidents,
        hits,
        all_complaints,
        as_of_us,
        run_id,
        excluded,
        rules.incidents.min_rules,
        {r.id for r in rules.rules if r.requires_telemetry},
        {r.id: set(r.explains) for r in rules.rules if r.explains},
    )
    stats.incidents_opened, stats.opened = len(opened), [i.incident_id for i in opened]
    escalated_docs = _escalate(incidents, new_members, state, new_matrix, settings)
    stats.escalations = len(escalated_docs)
    severity_floor = {r.id: r.severity for r in rules.rules}
    old_members = (
        lake.read(*INCIDENT_MEMBERS_TABLE).to_pandas()
        if lake.exists(*INCIDENT_MEMBERS_TABLE)
        else pd.DataFrame(columns=INCIDENT_MEMBERS.names)
    )
    member_rows = _incident_members(incidents, all_complaints, assigned, new_members, escalated_docs, old_members, now)
    known_members = [m for m in (old_members, member_rows) if len(m)]
    by_incident = dict(tuple(pd.concat(known_members).groupby("incident_id"))) if known_members else {}
    for inc in incidents:
        docs = by_incident.get(inc.incident_id)
        if docs is not None and len(docs):
            inc.last_seen_us = max(inc.last_seen_us, max(_us(t) for t in docs["event_at"]))
    before = {i.incident_id for i in incidents if i.status == "resolved"}
    detect.resolve_quiet(incidents, fired_scopes, as_of_us, settings.incident_resolve_after_hours)
    stats.incidents_resolved = len({i.incident_id for i in incidents if i.status == "resolved"} - before)

    # (4) evidence: telemetry joined to each new member, then the incident rows
    new_telemetry = _telemetry_rows(conn, member_rows, frame, settings, now)
    stats.telemetry_rows = new_telemetry.num_rows
    lookup = frame.set_index("doc_id")
    incident_rows = [
        _incident_row(inc, by_incident.get(inc.incident_id), lookup, conn, severity_floor, as_of_us, now)
        for inc in incidents
    ]
    stats.incidents_open = sum(1 for i in incidents if i.status == "open")

    # (5) write: memberships append, current state rewritten
    if len(new_members):
        lake.append(*CLUSTER_MEMBERS_TABLE, _cluster_member_table(new_members, run_id, now))
    lake.overwrite(*CLUSTERS, _cluster_table(state, frame, cluster_rows, version, as_of_us, run_id, now))
    if len(member_rows):
        lake.append(
            *INCIDENT_MEMBERS_TABLE, pa.Table.from_pandas(member_rows, schema=INCIDENT_MEMBERS, preserve_index=False)
        )
    if new_telemetry.num_rows or not lake.exists(*INCIDENT_TELEMETRY_TABLE):
        lake.append(*INCIDENT_TELEMETRY_TABLE, new_telemetry)
    lake.overwrite(*INCIDENTS_TABLE, pa.Table.from_pylist(incident_rows, schema=INCIDENTS))
    lake.append(*RULE_HITS_TABLE, _rule_hit_table(hits, incidents, run_id, now, frame))
    if escalated_docs:
        from feedbackloop.label.review import request_review

        request_review(settings, sorted(escalated_docs), "high_impact", "monitor",
                       "close to a known critical incident")  # fmt: skip
    lake.append(*MONITOR_RUNS_TABLE, run_row(run_id, as_of_us, is_catch_up, asdict(stats)))
    return asdict(stats)


def run_monitor_catching_up(
    settings: Settings, run_id: str, rules: RuleSet | None = None, on_pass: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Every pass still due (``schedule.plan_passes``), oldest first; the figures summed over the passes.

    ``as_of``, ``complaints``, ``clusters`` and ``incidents_open`` describe the last pass (the newest
    data); ``passes`` counts them and ``opened`` lists every incident any of them opened."""
    rules = rules or load_rules(settings.monitor_rules_path)
    conn = connect(settings)
    if not has_tables(conn, "gold.fct_feedback_labels", "gold.fct_feedback"):
        return {**asdict(MonitorStats()), "passes": 0}
    first, newest = conn.execute(
        "select epoch_us(min(event_at)), epoch_us(max(event_at)) from gold.fct_feedback_labels"
    ).fetchone() or (None, None)
    if newest is None:
        return {**asdict(MonitorStats()), "passes": 0}
    passes = plan_passes(
        int(first), int(newest) + 1, last_pass_us(conn), settings.monitor_cadence_hours,
        settings.monitor_warmup_days, settings.monitor_max_catch_up_passes,
    )  # fmt: skip
    total: dict[str, Any] = {}
    for k, at_us in enumerate(passes):
        last = k == len(passes) - 1
        pass_id = run_id if last else f"{run_id}@{datetime.fromtimestamp(at_us / 1e6, UTC):%Y%m%dT%H%M}"
        stats = run_monitor(settings, pass_id, _ts(at_us), rules, is_catch_up=not last)
        for name, value in stats.items():
            if name in _SUMMED:
                total[name] = total.get(name, 0) + value
            elif name == "opened":
                total[name] = [*total.get(name, []), *value]
            else:
                total[name] = value
        if on_pass:
            on_pass(k + 1, len(passes))
    return {**total, "passes": len(passes)}


# figures that add up over catch-up passes; the rest describe the newest pass
_SUMMED = {"complaints_assigned", "complaints_without_vector", "clusters_new", "rule_rows", "rules_fired",
           "incidents_opened", "incidents_resolved", "escalations", "telemetry_rows"}  # fmt: skip


def _escalate(incidents, new_members: pd.DataFrame, state: ClusterState, matrix, settings: Settings) -> dict:
    """New complaints close to a known critical incident join it at once, without waiting for rules.

    Close means cosine to the incident's primary cluster centroid at or above the escalation setting;
    a resolved critical incident reopens (a recurrence is news)."""
    critical = [i for i in incidents if i.severity == "critical" and i.cluster_ids]
    out: dict[str, tuple[str, float]] = {}
    if not critical or not len(new_members):
        return out
    index = {cid: k for k, cid in enumerate(state.ids)}
    centroids = state.centroids
    docs = new_members["doc_id"].tolist()  # row for row with ``matrix``
    for inc in critical:
        if inc.cluster_ids[0] not in index:
            continue
        sims = matrix @ centroids[index[inc.cluster_ids[0]]]
        for doc_id, sim in zip(docs, sims, strict=True):
            if sim >= settings.incident_escalation_similarity and doc_id not in out:
                out[doc_id] = (inc.incident_id, float(sim))
                inc.is_escalated = True
                if inc.status == "resolved":
                    inc.status, inc.resolved_us = "open", None
    return out


def _incident_members(incidents, complaints, assigned, new_members, escalated, old_members, now) -> pd.DataFrame:
    known = set(zip(old_members["incident_id"], old_members["doc_id"], strict=True))
    sims = dict(zip(new_members["doc_id"], new_members["similarity"], strict=True))
    rows = []
    for inc in incidents:
        if inc.status != "open":
            continue
        for r in detect.members_of(inc, complaints).itertuples(index=False):
            if (inc.incident_id, r.doc_id) not in known:
                known.add((inc.incident_id, r.doc_id))
                rows.append((inc.incident_id, r.doc_id, r.cluster_id, sims.get(r.doc_id), r.event_us, False))
    ev = complaints.frame.set_index("doc_id")["event_us"]
    for doc_id, (incident_id, sim) in escalated.items():
        if (incident_id, doc_id) not in known and doc_id in ev.index:
            known.add((incident_id, doc_id))
            rows.append((incident_id, doc_id, assigned.get(doc_id), sim, int(ev[doc_id]), True))
    return pd.DataFrame(
        {
            "incident_id": [r[0] for r in rows],
            "doc_id": [r[1] for r in rows],
            "cluster_id": [r[2] for r in rows],
            "similarity": pd.array([r[3] for r in rows], dtype="Float32"),
            "event_at": pd.to_datetime([r[4] for r in rows], unit="us", utc=True),
            "assigned_at": pd.Series([now] * len(rows), dtype="datetime64[us, UTC]"),
            "is_escalation": [r[5] for r in rows],
        }
    )


def _telemetry_rows(conn, member_rows: pd.DataFrame, frame: pd.DataFrame, settings: Settings, now) -> pa.Table:
    if not len(member_rows):
        return pa.Table.from_pylist([], schema=INCIDENT_TELEMETRY)
    ctx = frame.set_index("doc_id")[["user_id", "session_id", "platform", "app_version"]]
    joined = member_rows[["incident_id", "doc_id", "event_at"]].join(ctx, on="doc_id")
    joined["user_id"] = joined["user_id"].astype("string")
    table = telemetry_evidence(conn, pa.Table.from_pandas(joined, preserve_index=False),
                               settings.incident_telemetry_lookback_hours)  # fmt: skip
    if table.num_rows == 0:
        return pa.Table.from_pylist([], schema=INCIDENT_TELEMETRY)
    out = table.to_pandas()
    out["computed_at"] = now
    return pa.Table.from_pandas(out[INCIDENT_TELEMETRY.names], schema=INCIDENT_TELEMETRY, preserve_index=False)


def _incident_row(inc, docs, lookup: pd.DataFrame, conn, severity_floor, as_of_us: int, now) -> dict[str, Any]:
    ids = [] if docs is None else [d for d in docs["doc_id"] if d in lookup.index]
    members = lookup.loc[ids].reset_index() if ids else lookup.iloc[0:0].reset_index()
    floors = [severity_floor.get(r) for r in inc.rule_ids if severity_floor.get(r)]
    floor = max(floors, key=detect.SEVERITIES.index) if floors else None
    inc.severity = detect.SEVERITIES[max(detect.SEVERITIES.index(detect.severity_of(members, floor)),
                                         detect.SEVERITIES.index(inc.severity))]  # fmt: skip
    platform = detect.most_common(members["platform"]) if len(members) else None
    versions = members["app_version"].dropna() if len(members) else pd.Series(dtype=str)
    major = detect.most_common(versions.str.split(".").str[0]) if len(versions) else None
    terms = representative_terms({"i": members["text"].fillna("").tolist()}, top=4)["i"] if len(members) else []
    quotes = members.sort_values("event_us").head(5)
    similar = members[members["source_system"] == "zendesk"]["doc_id"].head(10).tolist()
    telemetry = telemetry_summary(conn, platform, major, inc.first_seen_us, as_of_us) if platform else {}
    evidence = {
        "complaints": [
            {"doc_id": r.doc_id, "quote": (r.text or "")[:240], "source_system": r.source_system}
            for r in quotes.itertuples(index=False)
        ],
        "similar_tickets": similar,
        "telemetry": telemetry,
        "top_terms": terms,
    }
    return {
        "incident_id": inc.incident_id,
        "name": f"{inc.category} on {inc.product}: {' / '.join(terms[:3])}" if terms else inc.category,
        "category": inc.category,
        "product_area": detect.most_common(members["product_area"]) if len(members) else None,
        "product": inc.product,
        "platform": platform,
        "status": inc.status,
        "severity": inc.severity,
        "is_escalated": inc.is_escalated,
        "outcome": detect.outcome_of(members),
        "first_seen_at": _ts(int(members["event_us"].min()) if len(members) else inc.first_seen_us),
        "last_seen_at": _ts(inc.last_seen_us or inc.first_seen_us),
        "member_count": len(members),
        "velocity_per_day": detect.velocity_per_day(members["event_us"].to_numpy(), as_of_us) if len(members) else 0.0,
        "rule_ids": json.dumps(inc.rule_ids),
        "cluster_ids": json.dumps(inc.cluster_ids),
        "evidence": json.dumps(evidence, ensure_ascii=False, default=str),
        "detected_at": _ts(inc.detected_us),
        "detected_wall_at": inc.extra.get("detected_wall_at") or now,
        "detection_run_id": inc.detection_run_id,
        "resolved_at": _ts(inc.resolved_us),
        "updated_at": now,
    }


def _cluster_member_table(new_members: pd.DataFrame, run_id: str, now) -> pa.Table:
    return pa.table(
        {
            "cluster_id": new_members["cluster_id"].astype(str).tolist(),
            "doc_id": new_members["doc_id"].astype(str).tolist(),
            "similarity": pa.array(new_members["similarity"].to_numpy(np.float32)),
            "event_at": pa.array(new_members["event_us"].to_numpy(np.int64), pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "assigned_at": pa.array([now] * len(new_members), pa.timestamp("us", tz="UTC")),
            "run_id": [run_id] * len(new_members),
        },
        schema=CLUSTER_MEMBERS,
    )


def _cluster_table(state: ClusterState, frame, cluster_rows, version: str, as_of_us: int, run_id: str, now):
    dim = state.sums.shape[1] if state.sums.size else 1
    schema = clusters_schema(dim)
    if not state.ids:
        return pa.Table.from_pylist([], schema=schema)
    known = cluster_rows.set_index("cluster_id") if len(cluster_rows) else None
    touched = frame[frame["cluster_id"].notna()]
    recent = touched[touched["event_us"] >= as_of_us - 3 * US_PER_DAY].groupby("cluster_id").size()
    category, product = _modes(touched, "category"), _modes(touched, "product")
    first_seen = touched.groupby("cluster_id")["event_us"].min()
    # names from this run's view of each cluster (its last 200 members), against every other cluster
    texts = touched.groupby("cluster_id").tail(200).groupby("cluster_id")["text"].agg(lambda t: t.fillna("").tolist())
    terms = representative_terms(texts.to_dict(), top=4)
    rows = []
    for k, cid in enumerate(state.ids):
        prev = known.loc[cid] if known is not None and cid in known.index else None
        cat = category.get(cid, prev["category"] if prev is not None else None)
        t = terms.get(cid) or (json.loads(prev["top_terms"]) if prev is not None else [])
        rows.append(
            {
                "cluster_id": cid,
                "name": cluster_name(t[:3], cat),
                "top_terms": json.dumps(t),
                "category": cat,
                "product": product.get(cid, prev["product"] if prev is not None else None),
                "member_count": int(state.counts[k]),
                "first_seen_at": _ts(int(first_seen[cid]))
                if cid in first_seen.index
                else (prev["first_seen_at"] if prev is not None else None),
                "last_seen_at": _ts(int(state.last_seen_us[k])),
                "velocity_per_day": round(float(recent.get(cid, 0)) / 3.0, 3),
                "embedding_version": version,
                "centroid_sum": state.sums[k].astype(np.float32),
                "updated_at": now,
                "run_id": run_id,
            }
        )
    return pa.Table.from_pylist(rows, schema=schema)


def _modes(frame: pd.DataFrame, column: str) -> dict[str, str]:
    """cluster_id -> its most common value of ``column`` (ties: alphabetical), in one pass."""
    counts = frame.groupby(["cluster_id", column]).size().reset_index(name="n")
    counts = counts.sort_values(["cluster_id", "n", column], ascending=[True, False, True])
    top = counts.drop_duplicates("cluster_id")
    return dict(zip(top["cluster_id"], top[column].astype(str), strict=True))


def _rule_hit_table(hits: pd.DataFrame, incidents, run_id: str, now, frame) -> pa.Table:
    if not len(hits):
        return pa.Table.from_pylist([], schema=RULE_HITS)
    h = hits.copy()
    h["rule_hit_id"] = [f"{run_id}:{r}:{s}" for r, s in zip(h["rule_id"], h["subject"], strict=True)]
    h["run_id"] = run_id
    h["window_start"] = pd.to_datetime(h["window_start_us"].astype(np.int64), unit="us", utc=True)
    h["window_end"] = pd.to_datetime(h["window_end_us"].astype(np.int64), unit="us", utc=True)
    h["incident_id"] = None
    for inc in incidents:
        if inc.status == "open":
            for idx in h.index[h["is_fired"].astype(bool) & h["rule_id"].isin(inc.rule_ids)]:
                subject = json.loads(h.at[idx, "subject_json"])
                if (
                    subject.get("category", inc.category) == inc.category
                    and subject.get("product", inc.product) == inc.product
                ):
                    h.at[idx, "incident_id"] = inc.incident_id
    h["evaluated_at"] = now
    for col in ("is_above_floor", "has_baseline", "is_significant", "is_quorum_met", "is_fired"):
        h[col] = h[col].astype(bool)
    for col in ("volume", "windows_met", "sources"):
        h[col] = h[col].astype(np.int64)
    return pa.Table.from_pandas(h[RULE_HITS.names], schema=RULE_HITS, preserve_index=False)
