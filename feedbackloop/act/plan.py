"""What should exist in the sinks: one desired action per open incident (plus notifications) and per
retrain episode, with the text its ticket carries and a fingerprint of the state it must reflect.

Inputs are the contract tables of the detection and drift stages; a missing table is empty.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from feedbackloop.act.decisions import SEVERITY_RANK, DecisionMatrix, Owner, Route
from feedbackloop.act.sinks.base import Ticket
from feedbackloop.lake import Lake


@dataclass
class Desired:
    action_id: str
    source_kind: str  # incident | retrain_decision
    source_id: str
    kind: str
    outcome: str
    role: str  # primary | notification
    owner: Owner
    sink: str
    ticket: Ticket
    doc_ids: list[str] = field(default_factory=list)


@dataclass
class Plan:
    desired: list[Desired] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # reason -> incidents
    incidents_read: int = 0
    decisions_read: int = 0


def action_id(source_kind: str, source_id: str, kind: str, sink: str | None = None) -> str:
    parts = [source_kind, source_id, kind] + ([sink] if sink else [])
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def fingerprint(state: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()[:32]


def read_rows(lake: Lake, layer: str, name: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a table, or none when the stage that writes it has not run (or is not merged) yet."""
    table = lake.table(layer, name)
    if table is None:
        return []
    dataset = table.to_pyarrow_dataset()
    present = [c for c in columns or dataset.schema.names if c in dataset.schema.names]
    return dataset.to_table(columns=present).to_pylist()


def _json(value: Any, default: Any) -> Any:
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return default


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def _evidence_lines(evidence: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    complaints = evidence.get("complaints") or evidence.get("sample_complaints") or []
    for complaint in complaints[:5]:
        if isinstance(complaint, dict):
            quote = str(complaint.get("quote") or complaint.get("text") or "")[:280]
            lines.append(f'- "{quote}" ({complaint.get("doc_id", "?")})')
    telemetry = evidence.get("telemetry") or evidence.get("telemetry_summary")
    if isinstance(telemetry, dict) and telemetry:
        facts = ", ".join(f"{k}={v}" for k, v in sorted(telemetry.items()) if not isinstance(v, dict | list))
        if facts:
            lines.append(f"Telemetry: {facts}")
    similar = evidence.get("similar_doc_ids") or evidence.get("similar_tickets") or []
    if similar:
        lines.append(f"Similar feedback: {', '.join(map(str, similar[:10]))}")
    return lines


def _evidence_doc_ids(evidence: dict[str, Any]) -> list[str]:
    ids = [c.get("doc_id") for c in evidence.get("complaints") or evidence.get("sample_complaints") or []
           if isinstance(c, dict)]  # fmt: skip
    ids += list(evidence.get("similar_doc_ids") or evidence.get("similar_tickets") or [])
    return [str(i) for i in ids if i]


def _incident_ticket(incident: dict[str, Any], route: Route, owner: Owner, aid: str, kind: str) -> Ticket:
    evidence = _json(incident.get("evidence"), {})
    evidence = evidence if isinstance(evidence, dict) else {}
    rules = _json(incident.get("rule_ids"), [])
    state = {
        "status": incident.get("status"),
        "severity": incident.get("severity"),
        "member_count": incident.get("member_count"),
        "last_seen_at": incident.get("last_seen_at"),
        "is_escalated": incident.get("is_escalated"),
        "name": incident.get("name"),
    }
    severity = str(incident.get("severity") or "medium")
    where = " / ".join(str(incident.get(k)) for k in ("product", "product_area") if incident.get(k))
    title = f"[{severity}] {incident.get('name') or incident['incident_id']}" + (f" ({where})" if where else "")
    lines = [
        f"feedbackloop detected incident {incident['incident_id']}: {incident.get('name') or ''}".strip(),
        f"Category: {incident.get('category')}; severity: {severity}; escalated: {bool(incident.get('is_escalated'))}",
        f"{incident.get('member_count') or 0} complaints, {float(incident.get('velocity_per_day') or 0):.1f}/day; "
        f"first seen {_when(incident.get('first_seen_at'))}, last seen {_when(incident.get('last_seen_at'))}",
        f"Rules fired: {', '.join(map(str, rules)) if rules else 'none'}",
        f"Owner: {owner.display}",
        "Evidence:",
        *_evidence_lines(evidence),
    ]
    if incident.get("status") == "resolved":
        update = [
            f"Resolved: incident {incident['incident_id']} has gone quiet; "
            f"last complaint {_when(incident.get('last_seen_at'))}."
        ]
    else:
        update = [
            f"Still open: {incident.get('member_count') or 0} complaints "
            f"({float(incident.get('velocity_per_day') or 0):.1f}/day), severity {severity}, "
            f"last seen {_when(incident.get('last_seen_at'))}."
        ]
    payload = {"source": "incident", **{k: v for k, v in incident.items() if k != "evidence"}, "evidence": evidence}
    return Ticket(
        action_id=aid, kind=kind, title=title, lines=lines, update_lines=update, severity=severity,
        owner_team=owner.team, owner_person=owner.person, owner_queue=owner.queue,
        fingerprint=fingerprint(state), issue_type=route.issue_type, table=route.table,
        jira_priority=route.jira_priority, payload=json.loads(json.dumps(payload, default=str)),
    )  # fmt: skip


def plan_incidents(
    plan: Plan, matrix: DecisionMatrix, incidents: list[dict[str, Any]], members: dict[str, list[str]],
    known: set[str],
) -> None:  # fmt: skip
    """Open incidents become actions; a resolved incident only updates an action it already has."""
    for incident in incidents:
        plan.incidents_read += 1
        if not incident.get("incident_id"):
            plan.skipped["incident without incident_id"] += 1
            continue
        outcome = incident.get("outcome")
        if outcome not in matrix.outcomes:
            plan.skipped[f"unroutable outcome {outcome!r}"] += 1
            continue
        route = matrix.route(outcome)
        aid = action_id("incident", incident["incident_id"], route.action)
        status = incident.get("status")
        if status != "open" and aid not in known:
            plan.skipped["resolved before any action"] += 1
            continue
        if aid not in known and SEVERITY_RANK.get(str(incident.get("severity")), 0) < SEVERITY_RANK[route.min_severity]:
            plan.skipped[f"below min_severity {route.min_severity}"] += 1
            continue
        owner = route.owner_for(incident)
        ticket = _incident_ticket(incident, route, owner, aid, route.action)
        evidence = ticket.payload.get("evidence") or {}
        doc_ids = sorted(set(members.get(incident["incident_id"], [])) | set(_evidence_doc_ids(evidence)))
        common = dict(source_kind="incident", source_id=incident["incident_id"], kind=route.action, outcome=outcome,
                      owner=owner, doc_ids=doc_ids)  # fmt: skip
        plan.desired.append(Desired(action_id=aid, role="primary", sink=route.sink, ticket=ticket, **common))
        if status == "open" and incident.get("is_escalated"):
            for sink in route.notify:
                nid = action_id("incident", incident["incident_id"], route.action, sink)
                # A notification announces once: its fingerprint never changes, so it is never updated.
                note = Ticket(**{**ticket.__dict__, "action_id": nid, "fingerprint": "escalated"})
                plan.desired.append(Desired(action_id=nid, role="notification", sink=sink, ticket=note, **common))


def plan_retrain(plan: Plan, matrix: DecisionMatrix, decisions: list[dict[str, Any]], cooldown_days: int) -> None:
    """Retrain decisions, grouped into episodes: one action per episode, updated by later decisions."""
    route = matrix.route("model_quality")
    episodes: list[list[dict[str, Any]]] = []
    usable = []
    for decision in decisions:
        if not decision.get("should_retrain"):
            continue
        if not decision.get("decision_id") or decision.get("decided_at") is None:
            plan.skipped["retrain decision without decision_id or decided_at"] += 1
            continue
        usable.append(decision)
    for decision in sorted(usable, key=lambda d: d["decided_at"]):
        plan.decisions_read += 1
        start = episodes[-1][0]["decided_at"] if episodes else None
        if start is None or decision["decided_at"] - start > timedelta(days=cooldown_days):
            episodes.append([decision])
        else:
            episodes[-1].append(decision)
    for episode in episodes:
        first, latest = episode[0], episode[-1]
        aid = action_id("retrain_decision", first["decision_id"], route.action)
        reasons = _json(latest.get("reasons"), [])
        reason_lines = [
            f"- {r.get('signal')}: {r.get('value')} (threshold {r.get('threshold')})"
            if isinstance(r, dict)
            else f"- {r}"
            for r in reasons
        ]
        owner = route.owner
        ticket = Ticket(
            action_id=aid, kind=route.action,
            title=f"Retrain candidate: the fast classifier "
                  f"({len(episode)} decision(s) since {_when(first['decided_at'])})",
            lines=[f"The drift gate asked for retraining (decision {latest['decision_id']}, report "
                   f"{latest.get('report_id')}).", "Reasons:", *reason_lines, f"Owner: {owner.display}"],
            update_lines=[f"Retraining requested again at {_when(latest['decided_at'])} "
                          f"(decision {latest['decision_id']}):", *reason_lines],
            severity="medium", owner_team=owner.team, owner_person=owner.person, owner_queue=owner.queue,
            fingerprint=fingerprint({"latest": latest["decision_id"]}), issue_type=route.issue_type,
            table=route.table,
            payload=json.loads(json.dumps({"source": "retrain_decision", "decisions": episode, "reasons": reasons},
                                          default=str)),
        )  # fmt: skip
        plan.desired.append(
            Desired(action_id=aid, source_kind="retrain_decision", source_id=first["decision_id"], kind=route.action,
                    outcome="model_quality", role="primary", owner=owner, sink=route.sink, ticket=ticket)
        )  # fmt: skip


def build_plan(lake: Lake, matrix: DecisionMatrix, known: set[str], cooldown_days: int) -> Plan:
    plan = Plan()
    incidents = read_rows(lake, "gold", "dim_incidents")
    members: dict[str, list[str]] = defaultdict(list)
    for row in read_rows(lake, "gold", "fct_incident_members", ["incident_id", "doc_id"]):
        members[row["incident_id"]].append(row["doc_id"])
    plan_incidents(plan, matrix, incidents, members, known)
    plan_retrain(plan, matrix, read_rows(lake, "gold", "fct_retrain_decisions"), cooldown_days)
    return plan
