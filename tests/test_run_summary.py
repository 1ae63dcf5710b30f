"""The pipeline's run summary: one Prefect markdown artifact and one table artifact per run."""

from __future__ import annotations

import pytest

from flows.pipeline import stage_rows, summary_markdown

STAGES = {
    "ingest": {"files": 3, "rows": 1200, "quarantined": 2, "per_source": {"zendesk": 400}},
    "embed": {"status": "failed", "error": "model missing"},
    "gold": {"models": 7},
}
TIMINGS = {"ingest": 1.234, "embed": 0.5, "gold": 4.0}


def test_each_stage_gets_a_row_with_status_seconds_and_scalar_figures() -> None:
    rows = stage_rows(STAGES, TIMINGS)
    assert rows[0] == {
        "stage": "ingest",
        "status": "ok",
        "seconds": 1.23,
        "figures": "files=3, rows=1,200, quarantined=2",
    }
    assert rows[1] == {"stage": "embed", "status": "failed", "seconds": 0.5, "figures": "model missing"}


def test_the_markdown_leads_with_what_failed_and_lists_gold_counts() -> None:
    markdown = summary_markdown(stage_rows(STAGES, TIMINGS), {"gold.fct_feedback": 1198, "silver.x": 5,
                                                               "bronze.quarantine": 2})  # fmt: skip
    assert "**3 stage(s) in 5.7 s**, failed: embed (the next run catches up)" in markdown
    assert "| gold.fct_feedback | 1,198 |" in markdown and "silver.x" not in markdown
    assert "| bronze.quarantine | 2 |" in markdown
    assert "`feedbackloop ui`" in markdown


@pytest.mark.prefect
def test_a_run_publishes_the_markdown_and_table_artifacts(settings: object) -> None:
    import asyncio

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    from flows.pipeline import summarize

    @flow(name="summary-check")
    def run() -> dict:
        return summarize(STAGES, TIMINGS)

    flow_run_id = run(return_state=True).state_details.flow_run_id

    async def published(key: str) -> object:
        async with get_client() as client:
            [artifact] = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                )
            )
            return artifact.data

    assert "failed: embed" in asyncio.run(published("feedback-pipeline-summary"))
    assert "model missing" in str(asyncio.run(published("feedback-pipeline-stages")))
