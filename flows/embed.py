"""Flow ``embed``: vectors for new or changed kept docs, then near-duplicate links (before gold)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger, task

from feedbackloop.embed.model import get_embedder
from feedbackloop.embed.near_duplicates import link_near_duplicates
from feedbackloop.embed.stage import embed_new_texts
from feedbackloop.progress import progress_bar
from feedbackloop.settings import get_settings
from flows._runtime import current_run_id


@task(retries=2, retry_delay_seconds=10)
def embed_pending(run_id: str) -> dict[str, Any]:
    """Embed every kept text (and summary) whose input_hash has no vector in the current space."""
    settings = get_settings()
    with progress_bar("embed feedback") as update:
        stats = embed_new_texts(settings, get_embedder(settings), run_id, progress=update)
    return asdict(stats)


@task(retries=1, retry_delay_seconds=5)
def link_duplicates(embedding_version: str, run_id: str) -> dict[str, Any]:
    """Link each embedded doc to its canonical near-duplicate (itself when it has none)."""
    return asdict(link_near_duplicates(get_settings(), embedding_version, run_id))


@flow(name="embed", log_prints=True)
def embed() -> dict[str, Any]:
    """Embed new feedback incrementally and refresh the near-duplicate links gold reads."""
    run_id = current_run_id()
    stats = embed_pending(run_id)
    stats["near_duplicates"] = link_duplicates(stats["embedding_version"], run_id)
    logger = get_run_logger()
    logger.info(
        "embed: %s pending, %s embedded (%s changed), %s empty, %s rejected %s",
        stats["texts_pending"],
        stats["texts_embedded"],
        stats["texts_changed"],
        stats["texts_empty"],
        stats["texts_rejected"],
        stats["rejects"] or "",
    )
    return stats


if __name__ == "__main__":
    embed()
