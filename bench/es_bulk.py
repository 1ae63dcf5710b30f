"""Elasticsearch bulk indexing throughput (docs/s) against the test server, vs one request per doc.

Starts noida-db on a free port (or uses ELASTICSEARCH_URL) and indexes 384-d docs with their metadata
through ElasticIndex.upsert (streaming bulk, FEEDBACKLOOP_ELASTICSEARCH_BULK_DOCS per request).
The baseline is the naive loop: one index request per doc, same docs, same server, same run.

    .venv/bin/python bench/es_bulk.py [--docs 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedbackloop.index.base import IndexDoc, SearchFilters, fingerprint
from feedbackloop.index.elastic import ElasticIndex
from feedbackloop.settings import Settings
from tests.index_data import doc_fields, random_unit
from tests.servers import elasticsearch_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--naive-docs", type=int, default=1_000)
    args = parser.parse_args()
    vectors = random_unit(args.docs, 384, seed=3)
    docs = [
        IndexDoc(f"d{i}", vectors[i], doc_fields(i), fingerprint("bench", str(i), doc_fields(i)))
        for i in range(args.docs)
    ]
    with tempfile.TemporaryDirectory(prefix="bench-es-") as tmp, elasticsearch_url(Path(tmp)) as url:
        settings = Settings(elasticsearch_url=url)
        index = ElasticIndex(settings, alias=f"bench-{uuid.uuid4().hex[:8]}")
        index.begin("bench", 384)
        start = time.perf_counter()
        index.upsert(docs)
        index.commit()
        bulk_seconds = time.perf_counter() - start
        assert index.info()["docs"] == args.docs

        naive = ElasticIndex(settings, alias=f"bench-naive-{uuid.uuid4().hex[:8]}")
        naive.begin("bench", 384)
        start = time.perf_counter()
        for doc in docs[: args.naive_docs]:
            source = {**doc.fields, "event_at": doc.fields["event_at"].isoformat(), "doc_id": doc.doc_id,
                      "fingerprint": doc.fingerprint, "vector": doc.vector.tolist()}  # fmt: skip
            naive.client.index(index=naive._require_target(), id=doc.doc_id, document=source)
        naive_seconds = time.perf_counter() - start
        start = time.perf_counter()
        hits = index.search(vectors[0], SearchFilters(), 10)
        knn_ms = (time.perf_counter() - start) * 1000
        index.drop_all()
        naive.drop_all()
    bulk_rate, naive_rate = args.docs / bulk_seconds, args.naive_docs / naive_seconds
    print(f"server: {url}  docs: {args.docs:,} x 384-d + metadata, {settings.elasticsearch_bulk_docs} per bulk request")
    print(f"bulk upsert + refresh: {bulk_rate:8.0f} docs/s ({bulk_seconds:.1f} s)")
    print(f"one request per doc:   {naive_rate:8.0f} docs/s ({args.naive_docs:,} docs, {naive_seconds:.1f} s)")
    print(f"bulk / naive: {bulk_rate / naive_rate:.1f}x")
    print(f"one kNN query over {args.docs:,} docs (noida-db scans linearly): {knn_ms:.0f} ms, top hit {hits[0].doc_id}")


if __name__ == "__main__":
    main()
