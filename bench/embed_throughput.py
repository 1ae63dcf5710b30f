"""Embedding stage throughput against the raw model, on the same texts, in the same run.

Real data: the Maalej et al. app reviews (../shared/datasets) go through the real ingest and dbt silver
into a temporary lake; the embed stage then reads its inputs from silver, embeds, validates and writes
Delta. The baseline is the packaged MiniLM's ``encode`` on exactly the texts the stage embedded, with
the same batch size, timed before and after the stage (median of the two).

    .venv/bin/python bench/embed_throughput.py [--limit 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

from feedbackloop.embed.model import get_embedder
from feedbackloop.embed.stage import embed_new_texts
from feedbackloop.embed.texts import embedding_inputs
from feedbackloop.ingest.runner import ingest_inbox
from feedbackloop.settings import Settings
from feedbackloop.silver.enrich import enrich_new_feedback
from feedbackloop.transform.dbt import run_dbt
from feedbackloop.warehouse import ensure_source_tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="embed only the first N texts (0 = all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        root = Path(tmp)
        settings = Settings(
            lake_uri=str(root / "lake"), inbox_dir=root / "inbox", warehouse_path=root / "lake" / "w.duckdb"
        )
        source = settings.datasets_dir / "app_reviews_maalej" / "app_reviews_maalej.csv"
        (root / "inbox" / "maalej_app_reviews").mkdir(parents=True)
        shutil.copy(source, root / "inbox" / "maalej_app_reviews" / "reviews.csv")
        ensure_source_tables(settings)
        ingest_inbox(settings, "bench")
        run_dbt(settings, ["build", "--select", "silver", "--indirect-selection", "cautious"])
        enrich_new_feedback(settings, "bench")
        inputs = embedding_inputs(settings)
        if args.limit:
            inputs = inputs.slice(0, args.limit)
        texts = [t for t in inputs.column("text").to_pylist() if t and t.strip()]
        embedder = get_embedder(settings)
        model = embedder._model  # type: ignore[attr-defined]
        batch = settings.embedding_batch_size
        model.encode(texts[:128], batch_size=batch, normalize_embeddings=True)  # warm-up

        def raw() -> float:
            start = time.perf_counter()
            model.encode(texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)
            return len(texts) / (time.perf_counter() - start)

        before = raw()
        start = time.perf_counter()
        stats = embed_new_texts(settings, embedder, "bench", inputs=inputs)
        stage_seconds = time.perf_counter() - start
        # The stage's own read of silver, as in a pipeline run, timed separately.
        start = time.perf_counter()
        embedding_inputs(settings)
        read_seconds = time.perf_counter() - start
        after = raw()
        stage = stats.texts_embedded / (stage_seconds + read_seconds)
        baseline = statistics.median([before, after])
        print(f"texts: {len(texts):,} (distinct {stats.distinct_texts:,}); batch size {batch}; cores {os.cpu_count()}")
        print(f"raw model encode:     {before:7.1f} / {after:7.1f} texts/s (before / after the stage)")
        print(
            f"embed stage end to end: {stage:7.1f} texts/s (read silver {read_seconds:.2f} s + embed/validate/write "
            f"{stage_seconds:.1f} s; {stats.texts_embedded:,} vectors written)"
        )
        print(f"stage / raw model: {stage / baseline:.1%} (target >= 90%)")


if __name__ == "__main__":
    main()
