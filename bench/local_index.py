"""Local vector index at scale: build time, p50/p95 latency and recall@10, against numpy brute force.

Synthetic clustered vectors (no real corpus of 1M feedback texts exists here): ``--clusters`` random
centres on the unit sphere, each vector a centre plus Gaussian noise, re-normalised. Filters are
independent of the clusters (the hard case for IVF): ``platform`` = ios on 15% of docs, ``locale`` =
ja-JP on 1%. Queries are drawn like the data but are not in it.

    .venv/bin/python bench/local_index.py            # 1M x 384, k=10
    .venv/bin/python bench/local_index.py --docs 200000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedbackloop.index.base import IndexDoc, SearchFilters, make_filters
from feedbackloop.index.local import LocalIndex, LocalIndexOptions
from feedbackloop.settings import Settings


def clustered(n: int, dim: int, clusters: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        part = min(100_000, n - start)
        out[start : start + part] = centres[rng.integers(0, clusters, part)] + rng.normal(
            scale=noise / np.sqrt(dim), size=(part, dim)
        ).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, mask: np.ndarray | None, k: int) -> np.ndarray:
    """numpy brute force for a batch of queries (the reference for recall)."""
    rows = np.arange(len(vectors)) if mask is None else np.flatnonzero(mask)
    out = np.empty((len(queries), k), np.int64)
    for start in range(0, len(queries), 50):
        scores = vectors[rows] @ queries[start : start + 50].T
        top = np.argpartition(-scores, k - 1, axis=0)[:k].T
        for j, cand in enumerate(top):
            out[start + j] = rows[cand[np.argsort(-scores[cand, j])]]
    return out


def numpy_single_query_ms(vectors: np.ndarray, query: np.ndarray, mask: np.ndarray | None, k: int) -> float:
    # einsum, not `@`: a single-query BLAS matvec on 2 busy cores stalls on thread hand-offs.
    start = time.perf_counter()
    if mask is None:
        scores = np.einsum("ij,j->i", vectors, query)
    else:
        rows = np.flatnonzero(mask)
        scores = np.einsum("ij,j->i", vectors[rows], query)
    np.argpartition(-scores, k - 1)[:k]
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument(
        "--noise", type=float, default=1.0, help="noise norm relative to the unit centre (1.0: clusters overlap)"
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--baseline-queries", type=int, default=50, help="queries also timed with numpy brute force")
    args = parser.parse_args()
    rng = np.random.default_rng(42)
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(f"cores: {os.cpu_count()}  docs: {args.docs:,} x {args.dim}  k={args.k}  clusters={args.clusters}")

    vectors = clustered(args.docs, args.dim, args.clusters, args.noise, rng)
    queries = clustered_like(vectors, args.queries, args.noise, np.random.default_rng(7))
    is_ios = rng.random(args.docs) < 0.15
    is_ja = rng.random(args.docs) < 0.01
    start_time = datetime(2026, 1, 1, tzinfo=UTC)

    settings = Settings()
    options = LocalIndexOptions.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="bench-local-index-") as root:
        index = LocalIndex(Path(root), options)
        t0 = time.perf_counter()
        index.begin("bench", args.dim)
        batch = 100_000
        for s in range(0, args.docs, batch):
            docs = [
                IndexDoc(
                    doc_id=f"d{i}",
                    vector=vectors[i],
                    fields={
                        "platform": "ios" if is_ios[i] else "android",
                        "locale": "ja-JP" if is_ja[i] else "en-US",
                        "event_at": start_time + timedelta(seconds=i),
                    },
                    fingerprint=str(i),
                )
                for i in range(s, min(s + batch, args.docs))
            ]
            index.upsert(docs)
        t_upsert = time.perf_counter() - t0
        index.commit()
        build = time.perf_counter() - t0
        print(f"build: {build:.1f} s (load {t_upsert:.1f} s, IVF train + add + write {build - t_upsert:.1f} s)")
        t0 = time.perf_counter()
        reader = LocalIndex(Path(root), options)
        reader.info()
        print(f"open from disk: {time.perf_counter() - t0:.1f} s")

        scenarios: list[tuple[str, SearchFilters, np.ndarray | None]] = [
            ("unfiltered", SearchFilters(), None),
            ("15% filter", make_filters({"platform": "ios"}), is_ios),
            ("1% filter", make_filters({"locale": "ja-JP"}), is_ja),
        ]
        print()
        print("| case | matching docs | p50 ms | p95 ms | recall@10 | numpy exact p50 ms | speed-up (p50) |")
        print("|---|---|---|---|---|---|---|")
        for name, filters, mask in scenarios:
            truth = exact_top_k(vectors, queries, mask, args.k)
            for q in queries[:5]:  # warm caches and faiss threads
                reader.search(q, filters, args.k)
            latencies, recalls, baseline = [], [], []
            for n, (q, expected) in enumerate(zip(queries, truth, strict=True)):
                t = time.perf_counter()
                hits = reader.search(q, filters, args.k)
                latencies.append((time.perf_counter() - t) * 1000)
                got = {int(h.doc_id[1:]) for h in hits}
                recalls.append(len(got & set(expected.tolist())) / args.k)
                if n < args.baseline_queries:  # interleaved, so both see the same machine load
                    baseline.append(numpy_single_query_ms(vectors, q, mask, args.k))
            p50, p95 = np.percentile(latencies, [50, 95])
            matching = args.docs if mask is None else int(mask.sum())
            print(f"load average: {os.getloadavg()[0]:.1f}", file=sys.stderr)
            print(f"| {name} | {matching:,} | {p50:.1f} | {p95:.1f} | {np.mean(recalls):.3f} | "
                  f"{np.median(baseline):.1f} | {np.median(baseline) / p50:.1f}x |")  # fmt: skip


def clustered_like(vectors: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Queries near the data: a random data vector plus the same noise, so they fall in populated clusters."""
    base = vectors[rng.integers(0, len(vectors), n)]
    out = base + rng.normal(scale=noise / np.sqrt(vectors.shape[1]), size=base.shape).astype(np.float32)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


if __name__ == "__main__":
    main()
