"""From fired rules to incidents: one incident per (category, product) regression, kept across runs.

A fired rule names a subject (a category, a product, a cluster ...). Its scope is completed from the
subject's complaints in the window (the most common category and product), and fired rules with the
same scope make one incident. An open incident with that scope is updated, never duplicated, so an
ongoing regression stays one incident (and one ticket downstream). Its clusters are the ones that
carry a real part of the scope's complaints in the window; its members are the scope's complaints in
those clusters since the incident began.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from feedbackloop.incidents.signals import US_PER_DAY, US_PER_HOUR, Complaints

SEVERITIES = ("low", "medium", "high", "critical")
OUTCOME_OF_ACTION = {
    "engineering_ticket": "product_behaviour",
    "content_or_policy_update": "policy_content",
    "retrain_candidate": "model_quality",
}


@dataclass
class Incident:
    incident_id: str
    category: str
    product: str
    status: str = "open"
    severity: str = "medium"
    is_escalated: bool = False
    rule_ids: list[str] = field(default_factory=list)
    cluster_ids: list[str] = field(default_factory=list)
    first_seen_us: int = 0
    last_seen_us: int = 0
    detected_us: int = 0
    detection_run_id: str = ""
    resolved_us: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # name, platform, product_area, outcome ... (derived)

    @property
    def scope(self) -> tuple[str, str]:
        return (self.category, self.product)


def incident_id_for(category: str, product: str, detected_us: int) -> str:
    return "inc-" + hashlib.sha1(f"{category}|{product}|{detected_us}".encode()).hexdigest()[:12]


def most_common(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "unknown"
    counts = values.astype(str).value_counts()
    return str(sorted(counts[counts == counts.max()].index)[0])


def _scope_of(hit: pd.Series, window: pd.DataFrame) -> tuple[str, str] | None:
    subject = json.loads(hit["subject_json"])
    items = window
    for key, value in subject.items():
        items = items[items[key].fillna("unknown").astype(str) == value]
    if isinstance(hit.get("cluster_id"), str):
        items = items[items["cluster_id"] == hit["cluster_id"]]
    if items.empty:
        return None
    category = subject.get("category") or most_common(items["category"])
    items = items[items["category"].fillna("unknown").astype(str) == category]
    product = subject.get("product") or most_common(items["product"])
    return category, product


def _products_of(subject: dict[str, str], frame: pd.DataFrame) -> set[str]:
    """The products whose complaints carry this platform and app version major (telemetry has no product)."""
    if frame.empty:
        return set()
    major = frame["app_version"].fillna("").astype(str).str.split(".").str[0]
    match = frame[(frame["platform"].astype(str) == subject.get("platform")) & (major == subject.get("version_major"))]
    return set(match["product"].dropna().astype(str))


def _backed(hit: pd.Series, telemetry_hits: list[pd.Series]) -> bool:
    """A telemetry rule fired for the hit's product, and for its platform when the hit names one."""
    platform = json.loads(hit["subject_json"]).get("platform")
    return any(platform in (None, json.loads(t["subject_json"]).get("platform")) for t in telemetry_hits)


def _incident_clusters(
    scope_items: pd.DataFrame, before: pd.DataFrame, forced: list[str], vouched: bool = False
) -> list[str]:
    """The scope's *growing* clusters: at least max(2, 10%) of its window complaints, and more than
    twice what the cluster had in the equally long period before (the regression, not the usual gripes).
    Falls back to the largest such cluster when none grew. With no such cluster at all (scattered
    complaints, often the first of a regression, worded too differently to share one yet), an incident
    opens only when ``vouched``: a telemetry rule that explains this very category backs it (slow
    requests and "too slow" tickets), and then from the largest cluster; later complaints join as
    clusters grow. Without that, scattered complaints plus a generic error spike stay noise."""
    counts = scope_items["cluster_id"].dropna().value_counts()
    prior = before["cluster_id"].dropna().value_counts()
    floor = max(2, int(np.ceil(0.1 * len(scope_items))))
    by_size = [str(c) for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    ranked = [c for c in by_size if counts[c] >= floor]
    keep = [c for c in ranked if counts[c] >= 2 * prior.get(c, 0) + 2]
    if not keep:
        keep = ranked[:1] or (by_size[:1] if vouched else [])
    return keep + [c for c in forced if c not in keep]


def open_or_update(
    incidents: list[Incident],
    hits: pd.DataFrame,
    complaints: Complaints,
    as_of_us: int,
    run_id: str,
    excluded_categories: set[str],
    min_rules: int = 1,
    needs_telemetry: set[str] | frozenset[str] = frozenset(),
    explains: dict[str, set[str]] | None = None,
) -> tuple[list[Incident], set[tuple[str, str]]]:
    """Fold this run's fired rules into ``incidents`` (mutated); returns the ones opened now and the
    (category, product) scopes any rule fired for.

    A telemetry rule corroborates the scopes of its product, limited to the complaint categories it can
    explain (``explains``: rule id -> categories; absent means any). Rules in ``needs_telemetry`` count
    only where such a telemetry rule fired for the same product (and platform), and then only for the
    product's strongest such scope: one telemetry anomaly is one problem, not a licence for every
    category's small bumps that day; and while the product has an open incident, only that incident's
    categories."""
    fired = hits[hits["is_fired"].astype(bool)] if len(hits) else hits
    frame = complaints.frame
    by_scope: dict[tuple[str, str], list[pd.Series]] = {}
    corroborating: dict[str, list[pd.Series]] = {}  # product -> fired telemetry rules
    for _, hit in fired.iterrows():
        if hit["rule_kind"] == "telemetry_zscore":
            for product in _products_of(json.loads(hit["subject_json"]), frame):
                corroborating.setdefault(product, []).append(hit)
            continue
        window = frame[(frame["event_us"] >= hit["window_start_us"]) & (frame["event_us"] < hit["window_end_us"])]
        scope = _scope_of(hit, window)
        if scope is None or scope[0] in excluded_categories:
            continue
        by_scope.setdefault(scope, []).append(hit)
    explains = explains or {}
    # while a product has an open incident, its telemetry anomalies are taken to be that incident's:
    # double-charged customers also complain about trust, and that is the same regression, not a second
    # one. Another category of the product needs complaint rules of its own to open an incident.
    claimed: dict[str, set[str]] = {}
    for inc in incidents:
        if inc.status == "open":
            claimed.setdefault(inc.product, set()).add(inc.category)

    def backing(scope: tuple[str, str]) -> list[pd.Series]:
        if scope[0] not in claimed.get(scope[1], {scope[0]}):
            return []
        return [h for h in corroborating.get(scope[1], []) if scope[0] in explains.get(h["rule_id"], {scope[0]})]

    strongest: dict[str, tuple[float, tuple[str, str]]] = {}  # product -> best telemetry-backed weak signal
    for scope, scope_hits in by_scope.items():
        for h in scope_hits:
            if h["rule_id"] in needs_telemetry and _backed(h, backing(scope)):
                strongest[scope[1]] = max(strongest.get(scope[1], (-np.inf, scope)), (float(h["observed"]), scope))
    for scope in list(by_scope):
        by_scope[scope] = [
            h
            for h in by_scope[scope]
            if h["rule_id"] not in needs_telemetry or strongest.get(scope[1], (0, None))[1] == scope
        ]
        if not by_scope[scope]:
            del by_scope[scope]
    for scope, scope_hits in by_scope.items():
        scope_hits += backing(scope)
    opened = []
    open_by_scope = {i.scope: i for i in incidents if i.status == "open"}
    for scope, scope_hits in sorted(by_scope.items()):
        incident = open_by_scope.get(scope)
        if incident is None and len({h["rule_id"] for h in scope_hits}) < min_rules:
            continue  # one rule alone may be noise: a new incident needs ``min_rules`` to agree
        start = int(min(h["window_start_us"] for h in scope_hits))
        scoped = frame[
            (frame["category"].fillna("unknown").astype(str) == scope[0])
            & (frame["product"].fillna("unknown").astype(str) == scope[1])
        ]
        in_scope = scoped[(scoped["event_us"] >= start) & (scoped["event_us"] < as_of_us)]
        before = scoped[(scoped["event_us"] >= 2 * start - as_of_us) & (scoped["event_us"] < start)]
        forced = [h["cluster_id"] for h in scope_hits if isinstance(h.get("cluster_id"), str)]
        forced += [json.loads(h["subject_json"]).get("cluster_id") for h in scope_hits]
        forced = [c for c in dict.fromkeys(forced) if c]
        vouched = any(scope[0] in explains.get(h["rule_id"], ()) for h in backing(scope))
        clusters = _incident_clusters(in_scope, before, forced, vouched)
        if not clusters:
            continue
        start = int(in_scope[in_scope["cluster_id"].isin(clusters)]["event_us"].min())
        if incident is None:
            incident = Incident(
                incident_id=incident_id_for(scope[0], scope[1], as_of_us),
                category=scope[0],
                product=scope[1],
                detected_us=as_of_us,
                detection_run_id=run_id,
                first_seen_us=start,
            )
            incidents.append(incident)
            open_by_scope[scope] = incident
            opened.append(incident)
        incident.rule_ids = sorted(set(incident.rule_ids) | {str(h["rule_id"]) for h in scope_hits})
        incident.cluster_ids += [c for c in clusters if c not in incident.cluster_ids]
        incident.first_seen_us = min(incident.first_seen_us or start, start)
    return opened, set(by_scope)


def members_of(incident: Incident, complaints: Complaints) -> pd.DataFrame:
    """The scope's complaints in the incident's clusters, from its first window on."""
    f = complaints.frame
    mask = (
        (f["event_us"] >= incident.first_seen_us)
        & f["cluster_id"].isin(incident.cluster_ids)
        & (f["category"].fillna("unknown").astype(str) == incident.category)
        & (f["product"].fillna("unknown").astype(str) == incident.product)
    )
    return f[mask]


def resolve_quiet(
    incidents: list[Incident], fired_scopes: set[tuple[str, str]], as_of_us: int, quiet_hours: float
) -> None:
    """An open incident with no new member for ``quiet_hours`` and no rule firing for it is resolved."""
    for incident in incidents:
        quiet = as_of_us - incident.last_seen_us >= quiet_hours * US_PER_HOUR
        if incident.status == "open" and quiet and incident.scope not in fired_scopes:
            incident.status = "resolved"
            incident.resolved_us = as_of_us


def severity_of(members: pd.DataFrame, floor: str | None) -> str:
    """The worst severity a fifth of the members share (never below the firing rules' floor)."""
    level = 1  # medium: an incident is at least worth a look
    if len(members) and "severity" in members:
        ranks = members["severity"].map(lambda s: SEVERITIES.index(s) if s in SEVERITIES else 1)
        for i in reversed(range(len(SEVERITIES))):
            if (ranks >= i).mean() >= 0.2:
                level = max(level, i)
                break
    if floor in SEVERITIES:
        level = max(level, SEVERITIES.index(floor))
    return SEVERITIES[level]


def outcome_of(members: pd.DataFrame, low_confidence_share: float = 0.5) -> str:
    """From the members' labels: their recommended action, unless the model was mostly unsure."""
    if len(members) == 0:
        return "product_behaviour"
    unsure = members.get("review_reason")
    if unsure is not None and (unsure == "low_confidence").mean() >= low_confidence_share:
        return "model_quality"
    actions = members["recommended_action"].map(OUTCOME_OF_ACTION).dropna()
    return most_common(actions) if len(actions) else "product_behaviour"


def velocity_per_day(event_us: np.ndarray, as_of_us: int, days: float = 3.0) -> float:
    recent = np.count_nonzero(event_us >= as_of_us - int(days * US_PER_DAY))
    return round(recent / days, 3)
