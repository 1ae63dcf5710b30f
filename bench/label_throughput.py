"""Label throughput: the local tier on precomputed embeddings, end to end on raw text, the LLM tier's
in-flight requests against the local llama.cpp server, and a rerun's LLM calls.

    python -m bench.label_throughput [--llm smollm2-135m] [--llm-items 8]

Each figure is compared in the same run with a baseline: a naive per-item loop for the classifier,
the raw embedding model for end to end, one-at-a-time requests for the LLM tier.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.datasets import OUT, amazon_sentiment, app_reviews, embeddings
from bench.timing import median_seconds
from feedbackloop.embed.model import get_embedder
from feedbackloop.label.client import LLMLabeler
from feedbackloop.label.local_tier import LocalTier, train_tier
from feedbackloop.label.prompts import PromptSet
from feedbackloop.label.stage import label_file
from feedbackloop.label.taxonomy import load_taxonomy
from feedbackloop.settings import PROJECT_ROOT, Settings

TAXONOMY = PROJECT_ROOT / "config" / "taxonomies" / "app_review_types.yaml"


def star_sentiment(rating: float | None) -> str | None:
    if rating is None or rating != rating:
        return None
    return "negative" if rating <= 2 else "neutral" if rating == 3 else "positive"


def local_tier_figures(settings: Settings) -> dict[str, Any]:
    taxonomy = load_taxonomy(TAXONOMY)
    embedder = get_embedder(settings)
    train = app_reviews(settings)
    train_vectors = embeddings(train, settings)
    # Both heads trained, as after a retrain on accepted labels: sentiment labels here come from the stars.
    sentiments = [star_sentiment(r) for r in train.ratings]
    tier = train_tier(taxonomy, embedder, train_vectors, train.texts, train.labels, sentiments, train.ratings)
    data = amazon_sentiment(settings)
    vectors = embeddings(data, settings)  # what silver/feedback_embeddings holds after the embed stage
    n = len(data)
    zero = LocalTier.zero_shot(taxonomy, embedder)
    figures: dict[str, Any] = {"items": n}
    batch = median_seconds(lambda: tier.predict(vectors, data.texts))
    sample = 300
    loop = median_seconds(lambda: [tier.predict(vectors[i : i + 1], data.texts[i : i + 1]) for i in range(sample)], 3)
    figures["trained_items_per_s"] = round(n / batch)
    figures["trained_naive_loop_items_per_s"] = round(sample / loop)
    figures["zero_shot_items_per_s"] = round(n / median_seconds(lambda: zero.predict(vectors, data.texts)))
    texts = data.texts[:1000]
    raw = median_seconds(lambda: embedder.embed(texts), 3)
    end_to_end = median_seconds(lambda: tier.predict(embedder.embed(texts), texts), 3)
    figures["raw_text_items"] = len(texts)
    figures["raw_minilm_embed_items_per_s"] = round(len(texts) / raw)
    figures["end_to_end_items_per_s"] = round(len(texts) / end_to_end)
    return figures


def tuned_tier_figures(settings: Settings) -> dict[str, Any]:
    """The shipped local default for sentiment: frozen heads, unsure rows escalated to the tuned encoder.

    Fold 0 of the Amazon benchmark (models trained on the other folds, as in bench.label_quality),
    measured on its held-out items against the tuned encoder run on every item.
    """
    from bench.label_quality import fold_tier, folds, local_cv, tuned_cv

    taxonomy = load_taxonomy(PROJECT_ROOT / "config" / "taxonomies" / "default.yaml")
    data = amazon_sentiment(settings)
    vectors = embeddings(data, settings)
    fold = folds(data.labels)
    encoders, _ = tuned_cv(data, fold, settings)
    _, _, models = local_cv(data, vectors, fold)
    tier = fold_tier(settings, taxonomy, models[0], "sentiment", encoders[0])
    test = [i for i in range(len(data)) if fold[i] == 0]
    texts, held = [data.texts[i] for i in test], vectors[test]
    shipped = median_seconds(lambda: tier.predict(held, texts))
    every = median_seconds(lambda: encoders[0].predict_proba(texts, precision=tier.precision), 3)
    float32 = LocalTier(tier.category, tier.sentiment, tier.tuned, tier.escalate_below, "float32")
    frozen = LocalTier(tier.category, tier.sentiment)
    return {
        "items": len(test),
        "escalated_share": round(tier.predict(held, texts).escalated / len(test), 4),
        "escalate_below": settings.label_tuned_escalate_below,
        "precision": tier.precision,
        "tier_items_per_s": round(len(test) / shipped),
        "tier_float32_items_per_s": round(len(test) / median_seconds(lambda: float32.predict(held, texts))),
        "tuned_encoder_on_every_item_items_per_s": round(len(test) / every),
        "frozen_heads_only_items_per_s": round(len(test) / median_seconds(lambda: frozen.predict(held, texts))),
    }


async def _sampled(labeler: LLMLabeler, work: list[tuple[str, None]]) -> tuple[float, list[int]]:
    samples: list[int] = []
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            samples.append(labeler._in_flight)
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    await labeler.label_many(work)
    elapsed = time.perf_counter() - started
    done.set()
    await sampler
    return elapsed, samples


def llm_figures(settings: Settings, items: int) -> dict[str, Any]:
    from feedbackloop.label.llama_server import LlamaServer

    taxonomy = load_taxonomy(TAXONOMY)
    prompts = PromptSet.load(Path(settings.label_prompt_dir))
    data = app_reviews(settings)
    texts = [t for t in data.texts if 40 < len(t) < 200]
    figures: dict[str, Any] = {"model": settings.llm_server_model, "items_per_config": items}
    with LlamaServer.from_settings(settings) as server:
        for in_flight, offset in ((1, 0), (settings.llm_max_in_flight, items)):
            configured = settings.model_copy(update={"llm_max_in_flight": in_flight})
            labeler = LLMLabeler(configured, taxonomy, prompts, base_url=server.base_url)
            labeler.model = settings.llm_server_model
            work = [(t, None) for t in texts[offset : offset + items]]
            elapsed, samples = asyncio.run(_sampled(labeler, work))
            busy = [s for s in samples if s > 0]
            figures[f"in_flight_{in_flight}"] = {
                "calls": labeler.stats.calls,
                "seconds": round(elapsed, 1),
                "calls_per_minute": round(60 * labeler.stats.calls / elapsed, 2),
                "max_in_flight": labeler.stats.max_in_flight,
                "median_in_flight_while_busy": statistics.median(busy) if busy else 0,
                "share_of_time_at_configured": round(sum(s == in_flight for s in samples) / max(1, len(samples)), 3),
            }
    return figures


def rerun_figures(settings: Settings, items: int) -> dict[str, Any]:
    """Label one file twice through the stage (server started and stopped by it): calls per run."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "reviews.csv"
        data = app_reviews(settings)
        with source.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["text"])
            writer.writerows([[t] for t in data.texts[100 : 100 + items]])
        local = settings.model_copy(update={"lake_uri": str(Path(tmp) / "lake"), "label_local_accept_threshold": 1.0})
        first = label_file(local, source, "text", Path(tmp) / "a.jsonl", "bench-1", TAXONOMY)
        second = label_file(local, source, "text", Path(tmp) / "b.jsonl", "bench-2", TAXONOMY)
    return {
        "rows": first["rows"],
        "first_run_llm_calls": first["llm_calls"],
        "rerun_llm_calls": second["llm_calls"],
        "rerun_cache_hits": second["llm_cache_hits"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", default="smollm2-135m", help="packaged GGUF for the LLM figures ('' to skip)")
    parser.add_argument("--llm-items", type=int, default=8)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument(
        "--parts", default="local,llm", help="local (classifier rates), tuned (escalation), llm (in-flight, rerun)"
    )
    args = parser.parse_args()
    settings = Settings(
        llm_endpoint_kind="llama_cpp",
        llm_server_model=args.llm or "smollm2-135m",
        llm_server_port=8782,
        llm_max_in_flight=args.in_flight,
        llm_timeout_seconds=900,
        llm_max_tokens=400,
    )
    results: dict[str, Any] = {}
    if "local" in args.parts:
        results["local_tier"] = local_tier_figures(settings)
        print(json.dumps(results, indent=1), flush=True)
    if "tuned" in args.parts:
        results["tuned_tier"] = tuned_tier_figures(settings)
        print(json.dumps({"tuned_tier": results["tuned_tier"]}, indent=1), flush=True)
    if args.llm and "llm" in args.parts:
        results["llm_tier"] = llm_figures(settings, args.llm_items)
        print(json.dumps({"llm_tier": results["llm_tier"]}, indent=1), flush=True)
        results["rerun"] = rerun_figures(settings, args.llm_items)
        print(json.dumps({"rerun": results["rerun"]}, indent=1), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"label_throughput_{'_'.join(args.parts.split(','))}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
