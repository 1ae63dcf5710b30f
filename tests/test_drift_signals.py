"""Policy signals read from the lake: detection's incident tables (contract columns), accepted labels.

The reference window is left empty so the report is skipped quickly; the decision is still made.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from feedbackloop.drift.stage import run_drift
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.drift_data import ANCHOR, make_docs, write_gold

pytestmark = pytest.mark.slow
_TS = pa.timestamp("us", tz="UTC")
# Helper A's tables, with exactly the contract's columns (docs/architecture.md, issue 5).
DIM_INCIDENTS = pa.schema(
    [
        ("incident_id", pa.string()), ("name", pa.string()), ("category", pa.string()),
        ("product_area", pa.string()), ("product", pa.string()), ("status", pa.string()),
        ("severity", pa.string()), ("is_escalated", pa.bool_()), ("outcome", pa.string()),
        ("first_seen_at", _TS), ("last_seen_at", _TS), ("member_count", pa.int64()),
        ("velocity_per_day", pa.float64()), ("rule_ids", pa.string()), ("evidence", pa.string()),
        ("detected_at", _TS), ("detection_run_id", pa.string()), ("updated_at", _TS),
    ]
)  # fmt: skip
INCIDENT_MEMBERS = pa.schema(
    [("incident_id", pa.string()), ("doc_id", pa.string()), ("similarity", pa.float32()), ("assigned_at", _TS)]
)


def write_incident(settings: Settings, incident_id: str, doc_ids: list[str]) -> None:
    lake = Lake(settings)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    incident = {"incident_id": incident_id, "name": "checkout fails", "category": "billing", "status": "open"}
    lake.append("gold", "dim_incidents", pa.Table.from_pylist([incident | {"detected_at": now}], schema=DIM_INCIDENTS))
    members = [{"incident_id": incident_id, "doc_id": d, "similarity": 0.9, "assigned_at": now} for d in doc_ids]
    lake.append("gold", "fct_incident_members", pa.Table.from_pylist(members, schema=INCIDENT_MEMBERS))


def signal(run, name: str):  # type: ignore[no-untyped-def]
    return next(s for s in run.decision.signals if s.signal == name)


def test_repeated_low_confidence_in_one_incident_is_a_retrain_reason(settings: Settings) -> None:
    unsure = make_docs("unsure", 8, ANCHOR, 3, {"billing": 1.0}, confidence=0.35)
    sure = make_docs("sure", 40, ANCHOR, 7, seed=4)
    write_gold(settings, unsure + sure, vectors=False)
    write_incident(settings, "inc-checkout", [d["doc_id"] for d in unsure] + [sure[0]["doc_id"]])
    run = run_drift(settings, "run-1", as_of=ANCHOR)
    low = signal(run, "low_confidence_cluster")
    assert run.report["status"] == "skipped"
    assert low.fired and low.value == pytest.approx(8 / 9, abs=1e-4)
    assert low.data == {"cluster_id": "inc-checkout", "source": "incident", "size": 9}
    assert run.decision.should_retrain


def test_without_incident_tables_near_duplicate_groups_are_the_clusters(settings: Settings) -> None:
    docs = make_docs("cur", 40, ANCHOR, 7, seed=5)
    write_gold(settings, docs, vectors=False)
    groups = pa.Table.from_pylist(
        [{"doc_id": d["doc_id"], "canonical_doc_id": docs[i % 4]["doc_id"]} for i, d in enumerate(docs)]
    )
    Lake(settings).append("gold", "fct_feedback_near_duplicates", groups)
    low = signal(run_drift(settings, "run-1", as_of=ANCHOR), "low_confidence_cluster")
    assert low.data["source"] == "near-duplicate group" and low.data["size"] == 10
    assert not low.fired


def test_a_category_only_the_llm_and_reviewers_use_is_a_new_label(settings: Settings) -> None:
    known = make_docs("cur", 40, ANCHOR, 7, seed=6)
    refunds = make_docs("llm", 4, ANCHOR, 2, {"refunds": 1.0}, tier="llm", label_status="accepted")
    reviewed = make_docs("human", 1, ANCHOR, 2, {"refunds": 1.0}, label_source="human")
    unsure = make_docs("review", 5, ANCHOR, 2, {"cancellations": 1.0}, tier="llm", label_status="needs_review")
    write_gold(settings, known + refunds + reviewed + unsure, vectors=False)
    new = signal(run_drift(settings, "run-1", as_of=ANCHOR), "new_labels")
    assert new.fired and new.data["categories"] == ["refunds"]
