"""dbt-duckdb plugin that stores a model's result as a Delta table (DuckDB itself only reads Delta).

Wired up in ``dbt_project/profiles.yml`` and called by the project's ``table`` materialization.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import TargetConfig
from deltalake import write_deltalake
from duckdb import DuckDBPyConnection

SCOPE_FORMAT = "feedbackloop:test_scope"  # see store
BATCH_ROWS = 100_000  # bounds memory while streaming a large model out of DuckDB


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.storage_options = plugin_config.get("storage_options") or None
        self._conn: DuckDBPyConnection | None = None

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        self._conn = conn

    def store(self, target_config: TargetConfig) -> None:
        if target_config.location is not None and target_config.location.format == SCOPE_FORMAT:
            # Not a write: a data test asks which rows to check (macros/get_where_subquery.sql), and
            # the answer goes back in the dict it passed. store_relation is dbt-duckdb's one call
            # from Jinja into a plugin that runs no SQL; a run_query of a function cost each test
            # node several ms more of dbt's Python (events, a cursor, an agate table).
            from feedbackloop.transform.test_scope import scope

            asked = target_config.config
            asked["scope"] = scope(*asked["args"])
            return
        if self._conn is None or target_config.location is None:
            raise RuntimeError("delta_lake plugin used before DuckDB connected or without a location")
        relation = target_config.relation.render()
        # The materialization says how to write: "delta:overwrite", "delta:append", or
        # "delta:delete:<key>" (delete the rows whose <key> the relation lists; see delete_stale_rows.sql).
        mode, _, key = (target_config.location.format.partition(":")[2] or "overwrite").partition(":")
        if mode not in {"overwrite", "append", "delete"} or (mode == "delete") != bool(key):
            raise ValueError(f"unknown delta write mode {target_config.location.format!r} for {relation}")
        cursor = self._conn.cursor()
        try:
            if mode == "delete":
                self._delete(cursor, relation, target_config.location.path, key)
                return
            reader = cursor.execute(f"select * from {relation}").fetch_record_batch(BATCH_ROWS)
            if mode == "overwrite":
                write_deltalake(
                    target_config.location.path,
                    reader,
                    mode="overwrite",
                    schema_mode="overwrite",
                    storage_options=self.storage_options,
                )
            else:
                write_deltalake(
                    target_config.location.path, reader, mode="append", storage_options=self.storage_options
                )
        finally:
            cursor.close()

    def _delete(self, cursor: DuckDBPyConnection, relation: str, path: str, key: str) -> None:
        """Delete the rows whose ``key`` is listed in ``relation``; only files holding such rows are rewritten."""
        from deltalake import DeltaTable

        from feedbackloop.governance.purge import delete_keys

        keys = cursor.execute(f'select distinct "{key}" from {relation}').fetch_arrow_table().column(0)
        if len(keys):
            delete_keys(DeltaTable(path, storage_options=self.storage_options), key, keys.to_pylist())
