"""The review queue in annotation-tool formats: Label Studio tasks and Argilla (v2) records.

Export carries the model's proposal as a prediction/suggestion; import turns the annotators'
answers back into accept / correct decisions (same value = accept, different = correct).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from feedbackloop.label.decision import ACTIONS, SENTIMENTS, SEVERITIES
from feedbackloop.label.review import ReviewDecision
from feedbackloop.label.taxonomy import Taxonomy

Format = Literal["label_studio", "argilla"]
# Questions asked in the tool, by the queue column holding the model's proposal.
QUESTIONS = {
    "category": "proposed_category",
    "severity": "proposed_severity",
    "sentiment_label": "proposed_sentiment_label",
    "recommended_action": "proposed_recommended_action",
}


def _choices(taxonomy: Taxonomy) -> dict[str, list[str]]:
    return {
        "category": taxonomy.names,
        "severity": list(SEVERITIES),
        "sentiment_label": list(SENTIMENTS),
        "recommended_action": list(ACTIONS),
    }


def label_studio_config(taxonomy: Taxonomy) -> str:
    """The labeling interface XML matching the exported tasks."""
    parts = ["<View>", '  <Text name="text" value="$text"/>', '  <Header value="$review_reason"/>']
    for question, options in _choices(taxonomy).items():
        parts.append(f'  <Choices name="{question}" toName="text" choice="single" showInline="true">')
        parts += [f'    <Choice value="{o}"/>' for o in options]
        parts.append("  </Choices>")
    parts.append("</View>")
    return "\n".join(parts)


def export_queue(items: list[dict[str, Any]], fmt: Format) -> list[dict[str, Any]]:
    out = []
    for item in items:
        proposals = {q: item.get(col) for q, col in QUESTIONS.items() if item.get(col) is not None}
        data = {
            "doc_id": item["doc_id"],
            "text": item.get("redacted_text") or "",
            "review_reason": item.get("review_reason"),
            "summary": item.get("summary"),
            "label_id": item.get("label_id"),
        }
        if fmt == "label_studio":
            out.append(
                {
                    "data": data,
                    "predictions": [
                        {
                            "model_version": item.get("tier") or "model",
                            "score": item.get("confidence"),
                            "result": [
                                {"from_name": q, "to_name": "text", "type": "choices", "value": {"choices": [v]}}
                                for q, v in proposals.items()
                            ],
                        }
                    ],
                }
            )
        else:
            out.append(
                {
                    "id": item["doc_id"],
                    "fields": {"text": data["text"]},
                    "metadata": {k: v for k, v in data.items() if k not in ("text", "doc_id") and v is not None},
                    "suggestions": {
                        q: {"value": v, "score": item.get("confidence"), "agent": item.get("tier") or "model"}
                        for q, v in proposals.items()
                    },
                    "responses": {},
                    "status": "pending",
                }
            )
    return out


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def import_answers(
    records: list[dict[str, Any]], fmt: Format, proposals: dict[str, dict[str, Any]]
) -> tuple[list[ReviewDecision], list[str]]:
    """Decisions from annotated records; ``proposals`` (current labels by doc_id) tell accept from correct."""
    decisions, problems = [], []
    for n, record in enumerate(records, start=1):
        try:
            doc_id, reviewer, answers, at = (_label_studio if fmt == "label_studio" else _argilla)(record)
        except (KeyError, TypeError, IndexError, ValueError) as error:
            problems.append(f"record {n}: not a {fmt} record with answers ({error!r})")
            continue
        if not answers:
            continue  # not annotated yet
        before = proposals.get(doc_id, {})
        changes: dict[str, str | None] = {k: v for k, v in answers.items() if v != before.get(k)}
        decisions.append(
            ReviewDecision(
                doc_id=doc_id,
                reviewer=reviewer,
                action="correct" if changes else "accept",
                changes=changes,
                source=fmt,
                reviewed_at=at,
            )
        )
    return decisions, problems


def _label_studio(task: dict[str, Any]) -> tuple[str, str, dict[str, str], datetime | None]:
    doc_id = str(task["data"]["doc_id"])
    annotations = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    if not annotations:
        return doc_id, "", {}, None
    last = max(annotations, key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""))
    answers = {r["from_name"]: r["value"]["choices"][0] for r in last.get("result") or [] if r.get("type") == "choices"}
    who = last.get("completed_by")
    reviewer = str(who.get("email") or who.get("id")) if isinstance(who, dict) else str(who or "label_studio")
    return doc_id, reviewer, answers, _when(last.get("updated_at") or last.get("created_at"))


def _argilla(record: dict[str, Any]) -> tuple[str, str, dict[str, str], datetime | None]:
    doc_id = str(record["id"])
    answers, reviewer = {}, ""
    for question, responses in (record.get("responses") or {}).items():
        submitted = [r for r in responses if r.get("status", "submitted") == "submitted"]
        if submitted:
            answers[question] = str(submitted[-1]["value"])
            reviewer = str(submitted[-1].get("user_id") or "argilla")
    return doc_id, reviewer, answers, _when(record.get("updated_at"))
