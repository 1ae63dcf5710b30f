"""Elasticsearch 8/9 backend: an explicit mapping, bulk upserts and deletes, readers behind an alias.

Each embedding version gets its own physical index ``<alias>-<version slug>-<timestamp>``. A re-embed
fills a new index while readers keep using the alias, then one ``_aliases`` call moves the alias.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from feedbackloop.index.base import (
    LABEL_FIELDS,
    Hit,
    IndexDoc,
    IndexRequestError,
    IndexUnavailableError,
    SearchFilters,
    check_query_vector,
    version_slug,
)
from feedbackloop.settings import Settings

KEYWORD = {"type": "keyword"}


def mapping(dim: int, embedding_version: str) -> dict[str, Any]:
    """The explicit mapping: dynamic fields are refused so a typo never becomes a new, unfiltered field."""
    keywords = (
        "doc_id", "embedding_version", "fingerprint", "canonical_doc_id", "labels", *LABEL_FIELDS,
        "source_system", "channel", "product", "product_area", "app_version", "platform", "locale", "country",
        "language", "resolution_status",
    )  # fmt: skip
    return {
        "dynamic": "strict",
        "_meta": {"embedding_version": embedding_version, "dim": dim, "owner": "feedbackloop"},
        "properties": {
            **{name: KEYWORD for name in keywords},
            "text": {"type": "text"},
            "vector": {
                "type": "dense_vector",
                "dims": dim,
                "index": True,
                "similarity": "cosine",
                # hnsw keeps float32 vectors: the int8 default costs about 0.1 of recall@10.
                "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
            },
            "sentiment_score": {"type": "float"},
            "rating": {"type": "short"},
            "event_at": {"type": "date"},
            "indexed_at": {"type": "date"},
        },
    }


class ElasticIndex:
    backend = "elasticsearch"

    def __init__(self, settings: Settings, alias: str | None = None) -> None:
        from elasticsearch import Elasticsearch

        self.url = settings.elasticsearch_url
        self.alias = alias or settings.elasticsearch_alias
        self.bulk_docs = settings.elasticsearch_bulk_docs
        self.max_retries = settings.elasticsearch_max_retries
        api_key = settings.elasticsearch_api_key.get_secret_value()
        self.client = Elasticsearch(
            self.url,
            api_key=api_key or None,
            request_timeout=settings.elasticsearch_timeout_seconds,
            max_retries=self.max_retries,
            retry_on_status=(429, 502, 503, 504),
            retry_on_timeout=True,
        )
        self._target: str | None = None
        self._swap_from: list[str] | None = None

    # -- errors -------------------------------------------------------------------------------
    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one client call, turning transport and HTTP failures into errors that say what failed."""
        from elastic_transport import ConnectionError as TransportConnectionError
        from elastic_transport import ConnectionTimeout
        from elasticsearch import ApiError

        try:
            return fn(*args, **kwargs)
        except (TransportConnectionError, ConnectionTimeout) as error:
            raise IndexUnavailableError(
                f"Elasticsearch at {self.url} is unreachable ({what}, after {self.max_retries} retries): {error}"
            ) from error
        except ApiError as error:
            if error.status_code == 429:
                raise IndexUnavailableError(
                    f"Elasticsearch at {self.url} kept answering 429 Too Many Requests ({what}, "
                    f"after {self.max_retries} retries)"
                ) from error
            raise IndexRequestError(
                f"Elasticsearch rejected {what} with HTTP {error.status_code}: {_reason(error)}"
            ) from error

    # -- writing ------------------------------------------------------------------------------
    def _aliased(self) -> list[str]:
        from elasticsearch import NotFoundError

        try:
            return list(self.client.indices.get_alias(name=self.alias).body)
        except NotFoundError:
            return []

    def _version_of(self, index: str) -> tuple[str | None, int | None]:
        body = self._call(f"reading the mapping of {index}", self.client.indices.get_mapping, index=index).body
        meta = body[index]["mappings"].get("_meta", {})
        return meta.get("embedding_version"), meta.get("dim")

    def begin(self, embedding_version: str, dim: int) -> bool:
        current = self._call(f"resolving alias {self.alias}", self._aliased)
        for index in current:
            if self._version_of(index) == (embedding_version, dim):
                self._target, self._swap_from = index, None
                return False
        prefix = f"{self.alias}-{version_slug(embedding_version)}-"
        # A rebuild that failed half-way left an un-aliased index of this version: finish that one.
        existing = self._call("listing indices", self.client.indices.get, index=f"{prefix}*").body
        resumable = sorted(
            name for name in existing if name not in current and self._version_of(name) == (embedding_version, dim)
        )
        if resumable:
            self._target = resumable[-1]
        else:
            self._target = f"{prefix}{datetime.now(UTC):%Y%m%d%H%M%S%f}"
            self._call(
                f"creating index {self._target}",
                self.client.indices.create,
                index=self._target,
                mappings=mapping(dim, embedding_version),
                settings={"number_of_shards": 1, "refresh_interval": "1s"},
            )
        self._swap_from = current
        return True

    def _require_target(self) -> str:
        if self._target is None:
            raise RuntimeError("call begin(embedding_version, dim) before writing to the index")
        return self._target

    def fingerprints(self) -> dict[str, str]:
        index = self._require_target()
        self._call(f"refreshing {index}", self.client.indices.refresh, index=index)
        out: dict[str, str] = {}
        after: list[Any] | None = None
        while True:
            page = self._call(
                f"reading fingerprints of {index}",
                self.client.search,
                index=index,
                size=5000,
                sort=[{"doc_id": "asc"}],
                source_includes=["fingerprint"],
                search_after=after,
                query={"match_all": {}},
            )
            hits = page["hits"]["hits"]
            out.update({hit["_id"]: hit["_source"].get("fingerprint", "") for hit in hits})
            if len(hits) < 5000:
                return out
            after = hits[-1]["sort"]

    def upsert(self, docs: Sequence[IndexDoc]) -> None:
        index = self._require_target()
        now = datetime.now(UTC).isoformat()
        actions = (
            {"_op_type": "index", "_index": index, "_id": doc.doc_id,
             "_source": {**_source(doc.fields), "doc_id": doc.doc_id, "fingerprint": doc.fingerprint,
                         "vector": np.asarray(doc.vector, np.float32).tolist(), "indexed_at": now}}
            for doc in docs
        )  # fmt: skip
        self._bulk(actions, "upserting")

    def delete(self, doc_ids: Sequence[str]) -> None:
        index = self._require_target()
        self._bulk(({"_op_type": "delete", "_index": index, "_id": doc_id} for doc_id in doc_ids), "deleting")

    def _bulk(self, actions: Iterator[dict[str, Any]], what: str) -> None:
        from elasticsearch import helpers

        failures: list[str] = []

        def run() -> None:
            for ok, item in helpers.streaming_bulk(
                self.client, actions, chunk_size=self.bulk_docs, max_retries=self.max_retries,
                initial_backoff=1, max_backoff=30, raise_on_error=False, raise_on_exception=True,
            ):  # fmt: skip
                if ok:
                    continue
                op, result = next(iter(item.items()))
                if op == "delete" and result.get("status") == 404:
                    continue  # already gone: deleting is idempotent
                failures.append(f"doc {result.get('_id')}: HTTP {result.get('status')} {_item_reason(result)}")

        self._call(f"bulk {what} into {self._target}", run)
        if failures:
            shown = "; ".join(failures[:5])
            raise IndexRequestError(f"Elasticsearch rejected {len(failures)} doc(s) while {what}: {shown}")

    def commit(self) -> None:
        index = self._require_target()
        self._call(f"refreshing {index}", self.client.indices.refresh, index=index)
        if self._swap_from is None:
            return
        actions: list[dict[str, Any]] = [{"remove": {"index": old, "alias": self.alias}} for old in self._swap_from]
        actions.append({"add": {"index": index, "alias": self.alias}})
        self._call(f"moving alias {self.alias} to {index}", self.client.indices.update_aliases, actions=actions)
        for old in self._swap_from:
            self._call(f"dropping the replaced index {old}", self.client.indices.delete, index=old)
        self._swap_from = None

    # -- reading ------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        indices = self._call(f"resolving alias {self.alias}", self._aliased)
        if not indices:
            return {}
        version, dim = self._version_of(indices[0])
        count = self._call("counting docs", self.client.count, index=self.alias)["count"]
        return {"backend": self.backend, "embedding_version": version, "dim": dim, "docs": count,
                "index": indices[0], "alias": self.alias}  # fmt: skip

    def vector_of(self, doc_id: str) -> np.ndarray | None:
        from elasticsearch import NotFoundError

        try:
            hits = self._call(
                f"looking up {doc_id}", self.client.search, index=self.alias, query={"ids": {"values": [doc_id]}},
                source_includes=["vector"], size=1,
            )["hits"]["hits"]  # fmt: skip
        except IndexRequestError as error:
            if isinstance(error.__cause__, NotFoundError):
                return None
            raise
        return np.asarray(hits[0]["_source"]["vector"], np.float32) if hits else None

    def search(self, vector: np.ndarray, filters: SearchFilters, k: int, text: str | None = None) -> list[Hit]:
        info = self.info()
        if not info:
            return []
        query = check_query_vector(vector, int(info["dim"]))
        clauses = es_filter(filters)
        knn = {"field": "vector", "query_vector": query.tolist(), "k": k,
               "num_candidates": min(10_000, max(100, 10 * k)), "filter": clauses}  # fmt: skip
        if text and text.strip():
            lexical = {"bool": {"must": [{"match": {"text": text}}], "filter": clauses["bool"]["filter"],
                                "must_not": clauses["bool"]["must_not"]}}  # fmt: skip
            body: dict[str, Any] = {
                "retriever": {
                    "rrf": {
                        "retrievers": [{"standard": {"query": lexical}}, {"knn": knn}],
                        "rank_window_size": max(k, 50),
                    }
                },
            }  # no highlight: ES refuses highlighters with rrf, so matched words are shown client-side
            detail = "hybrid: reciprocal rank fusion of lexical (BM25) and vector ranks"
        else:
            body, detail = {"knn": knn}, "vector kNN"
        response = self._call("the search", self.client.search, index=self.alias, size=k, **body)
        hits = []
        for hit in response["hits"]["hits"]:
            source = hit["_source"]
            stored = np.asarray(source.pop("vector", []), np.float32)
            similarity = float(stored @ query) if stored.shape == query.shape else None
            for name in ("fingerprint", "indexed_at", "embedding_version"):
                source.pop(name, None)
            rank = f"{detail}, fused rank {hit.get('_rank')}" if hit.get("_rank") else detail
            hits.append(Hit(doc_id=hit["_id"], score=float(hit["_score"] or 0.0), fields=source,
                            similarity=similarity, rank_detail=rank))  # fmt: skip
        return hits

    def drop_all(self) -> None:
        """Delete every index behind or built for this alias (tests, and re-initialising a cluster)."""
        for index in self._call("listing indices", self.client.indices.get, index=f"{self.alias}-*").body:
            self._call(f"deleting {index}", self.client.indices.delete, index=index)


def es_filter(filters: SearchFilters) -> dict[str, Any]:
    """The bool filter applied inside the kNN search (pre-filtering, so no result is lost to it)."""
    clauses: list[dict[str, Any]] = [{"terms": {name: list(values)}} for name, values in filters.terms.items()]
    window = {}
    if filters.since:
        window["gte"] = filters.since.isoformat()
    if filters.until:
        window["lt"] = filters.until.isoformat()
    if window:
        clauses.append({"range": {"event_at": window}})
    must_not = [{"ids": {"values": list(filters.exclude_doc_ids)}}] if filters.exclude_doc_ids else []
    return {"bool": {"filter": clauses, "must_not": must_not}}


def _source(fields: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in fields.items():
        if isinstance(value, float) and np.isnan(value):
            value = None
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        out[name] = value
    return out


def _reason(error: Any) -> str:
    info = getattr(error, "info", None) or getattr(error, "body", None)
    if isinstance(info, dict):
        err = info.get("error", info)
        if isinstance(err, dict):
            return str(err.get("reason") or err.get("type") or err)
    return str(error)


def _item_reason(result: dict[str, Any]) -> str:
    err = result.get("error")
    if isinstance(err, dict):
        return f"{err.get('type')}: {err.get('reason')}"
    return str(err)


def wait_until_up(url: str, seconds: float = 30) -> None:
    """Block until an ES API answers at ``url`` (used by tests and benchmarks that start noida-db)."""
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)
