"""The label stage over the lake (pending silver docs -> ``silver/feedback_labels``) and over any file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from feedbackloop.embed.model import Embedder, get_embedder
from feedbackloop.governance.runs import code_version
from feedbackloop.label.cache import LabelCache
from feedbackloop.label.cascade import Audit, Cascade, CascadeStats, LabelInput
from feedbackloop.label.client import LLMLabeler
from feedbackloop.label.examples import ExampleBank
from feedbackloop.label.local_tier import LocalTier
from feedbackloop.label.prompts import PromptSet
from feedbackloop.label.tables import FEEDBACK_LABELS
from feedbackloop.label.taxonomy import Taxonomy, load_taxonomy
from feedbackloop.label.vectors import precomputed, vectors_for
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings

LABELS = ("silver", "feedback_labels")
CHUNK_ITEMS = 2000  # items embedded and routed at once; bounds memory on a large backlog
METADATA_COLUMNS = ("source_system", "channel", "product", "product_area", "platform", "app_version", "rating")


@dataclass
class Setup:
    taxonomy: Taxonomy
    prompts: PromptSet
    embedder: Embedder
    local: LocalTier


def llm_model_id(settings: Settings) -> str:
    return f"{settings.llm_endpoint_kind}/{settings.llm_model or settings.llm_server_model}"


def prepare(settings: Settings, taxonomy_path: Path | None = None) -> Setup:
    taxonomy = load_taxonomy(taxonomy_path or settings.label_taxonomy_path)
    embedder = get_embedder(settings)
    return Setup(
        taxonomy=taxonomy,
        prompts=PromptSet.load(Path(settings.label_prompt_dir)),
        embedder=embedder,
        local=LocalTier.load(
            Path(settings.label_model_dir),
            taxonomy,
            embedder,
            escalate_below=settings.label_tuned_escalate_below,
            precision=settings.label_tuned_precision,
        ),
    )


@contextmanager
def llm_endpoint(settings: Settings) -> Iterator[str | None]:
    """The base URL of the LLM tier, starting the packaged llama.cpp server when so configured.

    Yields None when there is no LLM tier. A configured endpoint that is down still yields its URL:
    the client's breaker then leaves the items queued for a later run.
    """
    if settings.llm_endpoint_kind == "none":
        yield None
        return
    if settings.llm_endpoint_kind == "llama_cpp" and not settings.llm_base_url and settings.llm_server_autostart:
        from feedbackloop.label.llama_server import LlamaServer, LlamaServerUnavailable

        try:
            server = LlamaServer.from_settings(settings)
        except LlamaServerUnavailable as error:
            print(f"label: local LLM server not available ({error}); LLM-bound items stay queued")
            yield f"http://{settings.llm_server_host}:{settings.llm_server_port}/v1"
            return
        with server:
            yield server.base_url
        return
    yield settings.llm_base_url or None


def build_cascade(settings: Settings, setup: Setup, run_id: str, base_url: str | None, lake: Lake | None) -> Cascade:
    audit = Audit(
        taxonomy_version=setup.taxonomy.version_id,
        prompt_version=setup.prompts.version,
        llm_model_id=llm_model_id(settings),
        endpoint_kind=settings.llm_endpoint_kind,
        temperature=settings.llm_temperature,
        run_id=run_id,
        code_version=code_version(),
    )
    llm = None
    if settings.llm_endpoint_kind != "none":
        llm = LLMLabeler(settings, setup.taxonomy, setup.prompts, base_url=base_url)
        if not settings.llm_model:
            llm.model = settings.llm_server_model
    cache = (
        LabelCache(lake, audit.prompt_version, audit.taxonomy_version, audit.llm_model_id) if lake is not None else None
    )
    examples = example_bank(settings, setup, lake) if llm is not None and lake is not None else None
    return Cascade(settings, setup.taxonomy, setup.local, audit, llm=llm, cache=cache, examples=examples)


def example_bank(settings: Settings, setup: Setup, lake: Lake) -> ExampleBank | None:
    """Accepted labels (reviewed, or accepted from the LLM) that have a stored vector: the LLM's worked examples."""
    if settings.label_llm_examples <= 0:
        return None
    from feedbackloop.label.training import accepted_examples  # training builds on this module

    accepted = accepted_examples(settings, setup.taxonomy.version_id, set(setup.taxonomy.names))
    found = precomputed(lake, setup.embedder, [e["doc_id"] for e in accepted], [e["input_hash"] for e in accepted])
    kept = [e for e in accepted if e["doc_id"] in found and e["text"]]
    if not kept:
        return None
    return ExampleBank(
        np.vstack([found[e["doc_id"]] for e in kept]),
        [e["text"] for e in kept],
        [e["category"] for e in kept],
        [e["sentiment_label"] for e in kept],
    )


def _to_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([{k: r.get(k) for k in FEEDBACK_LABELS.names} for r in rows], schema=FEEDBACK_LABELS)


def labelled_doc_ids(lake: Lake) -> set[str]:
    return lake.column_values(*LABELS, "doc_id") if lake.exists(*LABELS) else set()


def stale_doc_ids(lake: Lake, setup: Setup, settings: Settings) -> set[str]:
    """Docs whose latest label was made with another taxonomy, prompt or model: relabelled on request only."""
    if not lake.exists(*LABELS):
        return set()
    columns = ["doc_id", "labeled_at", "tier", "taxonomy_version", "prompt_version", "model_id"]
    latest: dict[str, dict[str, Any]] = {}
    for row in lake.read(*LABELS, columns=columns).to_pylist():
        if row["doc_id"] not in latest or row["labeled_at"] > latest[row["doc_id"]]["labeled_at"]:
            latest[row["doc_id"]] = row
    current_llm = llm_model_id(settings)
    stale = set()
    for doc_id, row in latest.items():
        if (
            row["taxonomy_version"] != setup.taxonomy.version_id
            or (
                row["tier"] == "llm"
                and (row["prompt_version"] != setup.prompts.version or row["model_id"] != current_llm)
            )
            or (row["tier"] == "local" and row["model_id"] != setup.local.model_id)
        ):
            stale.add(doc_id)
    return stale


def label_pending(
    settings: Settings,
    run_id: str,
    relabel: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Label every kept silver doc that has no label yet (or a stale one, with ``relabel``)."""
    from feedbackloop.silver.texts import model_inputs

    lake = Lake(settings)
    if not lake.exists(*LABELS):
        lake.append(*LABELS, pa.Table.from_pylist([], schema=FEEDBACK_LABELS))
    inputs = model_inputs(settings)
    done = labelled_doc_ids(lake)
    setup = prepare(settings)
    if relabel:
        done -= stale_doc_ids(lake, setup, settings)
    rows = [r for r in inputs.to_pylist() if r["doc_id"] not in done]
    stats = CascadeStats()
    precomputed = 0
    if rows:
        with llm_endpoint(settings) as base_url:
            cascade = build_cascade(settings, setup, run_id, base_url, lake)
            for start in range(0, len(rows), CHUNK_ITEMS):
                chunk = rows[start : start + CHUNK_ITEMS]
                items = [
                    LabelInput(
                        key=r["doc_id"],
                        text=r.get("text"),
                        input_hash=r.get("input_hash") or "",
                        language=r.get("language"),
                        rating=r.get("rating"),
                        metadata={k: r.get(k) for k in METADATA_COLUMNS},
                    )
                    for r in chunk
                ]
                vectors, found = vectors_for(
                    lake,
                    setup.embedder,
                    [i.key for i in items],
                    [i.input_hash for i in items],
                    [i.text or "" for i in items],
                )
                precomputed += found
                cascade.run(items, vectors, lambda out: lake.append(*LABELS, _to_table(out)))
                if progress:
                    progress(min(start + CHUNK_ITEMS, len(rows)), len(rows))
            stats = cascade.stats
    result = stats.as_dict()
    result.update(
        docs_pending=len(rows),
        vectors_precomputed=precomputed,
        taxonomy_version=setup.taxonomy.version_id,
        prompt_version=setup.prompts.version,
        local_model=setup.local.model_id,
    )
    return result


def label_file(
    settings: Settings,
    input_path: Path,
    text_column: str,
    output_path: Path,
    run_id: str,
    taxonomy_path: Path | None = None,
    id_column: str | None = None,
) -> dict[str, Any]:
    """Label an arbitrary CSV/JSONL file into JSONL: one line per input row, in input order.

    Rows the LLM could not reach are written too, with ``status: queued``, so nothing is lost.
    """
    from feedbackloop.label.files import read_records

    records = read_records(input_path)
    if records and text_column not in records[0]:
        raise ValueError(f"{input_path}: no column {text_column!r}; columns are {sorted(records[0])}")
    if id_column and records and id_column not in records[0]:
        raise ValueError(f"{input_path}: no id column {id_column!r}; columns are {sorted(records[0])}")
    setup = prepare(settings, taxonomy_path)
    items = []
    for n, record in enumerate(records, start=1):
        text = record.get(text_column)
        items.append(
            LabelInput(
                key=str(record[id_column]) if id_column else str(n),
                text=None if text is None else str(text),
                rating=_number(record.get("rating")),
            )
        )
    out: dict[str, dict[str, Any]] = {}
    lake = Lake(settings)
    with llm_endpoint(settings) as base_url:
        cascade = build_cascade(settings, setup, run_id, base_url, lake)
        for start in range(0, len(items), CHUNK_ITEMS):
            chunk = items[start : start + CHUNK_ITEMS]
            vectors, _ = vectors_for(
                None,
                setup.embedder,
                [i.key for i in chunk],
                [i.input_hash for i in chunk],
                [i.text or "" for i in chunk],
            )
            cascade.run(chunk, vectors, lambda rows: out.update({r["doc_id"]: r for r in rows}))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    with output_path.open("w", encoding="utf-8") as fh:
        for item, record in zip(items, records, strict=True):
            row = out.get(item.key) or {"doc_id": item.key, "status": "queued", "input_hash": item.input_hash}
            line = {"row": item.key, "text": item.text, **{k: v for k, v in row.items() if k != "doc_id"}}
            if id_column:
                line[id_column] = record[id_column]
            fh.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")
    result = cascade.stats.as_dict()
    result.update(rows=len(records), output=str(output_path), taxonomy_version=setup.taxonomy.version_id)
    return result


def _number(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None
