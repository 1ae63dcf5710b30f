"""The PII vault: the only place where a placeholder ([EMAIL_1] in doc X) maps back to its value.

It is a Delta table under its own root (``vault_uri``), never inside the lake, with its own
credentials (``vault_storage_options``) and, on a local disk, owner-only permissions (0700/0600).
On Databricks it is an external table in its own schema whose grants come from
``config/access.yaml`` (``feedbackloop access sql``). Redaction only appends to it; reading values
back (``reidentify``) needs the vault location configured explicitly, so a deployment that never
sets ``FEEDBACKLOOP_VAULT_URI`` (e.g. an analyst's) has no code path to the values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from feedbackloop.lake import untyped_columns
from feedbackloop.settings import Settings

VAULT_TABLE = "pii_vault"
VAULT = pa.schema(
    [
        ("doc_id", pa.string()),
        ("placeholder", pa.string()),
        ("entity_type", pa.string()),
        ("value", pa.string()),
        ("value_hash", pa.string()),
        ("user_id", pa.string()),
        ("source_system", pa.string()),
        ("redacted_at", pa.timestamp("us", tz="UTC")),
        ("redact_run_id", pa.string()),
    ]
)


class VaultAccessError(PermissionError):
    """Re-identification was attempted without explicit access to the vault."""


def _is_local(uri: str) -> bool:
    return "://" not in uri and not uri.startswith("/Volumes/")


@contextmanager
def _private_files() -> Any:
    # Files deltalake creates inherit the umask: owner-only while vault files are written.
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


class Vault:
    """Append, look up and erase vault rows; owner-only on a local disk."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.effective_vault_uri
        self.storage_options = settings.vault_storage_options or None
        self._check_separate_from_lake()

    def _check_separate_from_lake(self) -> None:
        lake_root = self.settings.lake_root
        if not _is_local(self.root) or not self.settings.is_local_lake:
            if self.root.rstrip("/").startswith(lake_root.rstrip("/") + "/"):
                raise ValueError(f"vault_uri {self.root!r} must not be inside the lake {self.settings.lake_uri!r}")
            return
        root, lake = Path(self.root).resolve(), Path(lake_root).resolve()
        if root == lake or lake in root.parents:
            raise ValueError(f"vault_uri {self.root!r} must not be inside the lake {self.settings.lake_uri!r}")

    def uri(self, name: str = VAULT_TABLE) -> str:
        if _is_local(self.root):
            return str(Path(self.root).resolve() / name)
        return f"{self.root.rstrip('/')}/{name}"

    def ensure_root(self) -> None:
        if _is_local(self.root):
            path = Path(self.root)
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.chmod(0o700)

    def table(self, name: str = VAULT_TABLE) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri(name), storage_options=self.storage_options)
        except TableNotFoundError:
            return None

    def append(self, rows: pa.Table, name: str = VAULT_TABLE) -> None:
        untyped = untyped_columns(rows.schema)
        if untyped:
            raise ValueError(
                f"vault.{name}: column(s) {', '.join(untyped)} have no type; write them with VAULT's schema"
            )
        self.ensure_root()
        with _private_files():
            write_deltalake(self.uri(name), rows, mode="append", storage_options=self.storage_options)
        self.lock_down()

    def lock_down(self) -> None:
        """Owner-only permissions on every vault directory and file (local disks)."""
        if not _is_local(self.root) or not Path(self.root).exists():
            return
        root = Path(self.root)
        root.chmod(0o700)
        for path in root.rglob("*"):
            path.chmod(0o700 if path.is_dir() else 0o600)

    def doc_ids(self) -> set[str]:
        dt = self.table()
        if dt is None:
            return set()
        return set(dt.to_pyarrow_dataset().to_table(columns=["doc_id"]).column("doc_id").to_pylist())

    def docs_with_value(self, entity_type: str, hashes: Iterable[str]) -> set[str]:
        """doc_ids whose text held one of these values (by hash: no value is read)."""
        dt = self.table()
        if dt is None:
            return set()
        import pyarrow.dataset as ds

        wanted = sorted(set(hashes))
        flt = (ds.field("entity_type") == entity_type) & ds.field("value_hash").isin(wanted)
        table = dt.to_pyarrow_dataset().to_table(columns=["doc_id"], filter=flt)
        return set(table.column("doc_id").to_pylist())


_PLACEHOLDER = re.compile(r"\[([A-Z]+_\d+)\]")


def reidentify(settings: Settings, doc_id: str, text: str) -> str:
    """Put the original values back into one doc's redacted text; needs explicit vault access."""
    if not settings.vault_uri:
        raise VaultAccessError(
            "re-identification needs explicit vault access: set FEEDBACKLOOP_VAULT_URI (and its credentials) "
            "for this process; the default vault location is write-only for the pipeline"
        )
    vault = Vault(settings)
    dt = vault.table()
    if dt is None:
        raise VaultAccessError(f"no vault table at {vault.uri()}")
    import pyarrow.dataset as ds

    rows = dt.to_pyarrow_dataset().to_table(columns=["placeholder", "value"], filter=ds.field("doc_id") == doc_id)
    mapping = dict(zip(rows.column("placeholder").to_pylist(), rows.column("value").to_pylist(), strict=True))
    if not mapping and _PLACEHOLDER.search(text):
        raise KeyError(f"the vault holds no values for doc {doc_id!r} (erased, or never redacted)")
    return _PLACEHOLDER.sub(lambda m: mapping.get(m.group(1), m.group(0)), text)


def count_rows(table: pa.Table, column: str, values: Iterable[str]) -> int:
    return int(pc.sum(pc.is_in(table.column(column), value_set=pa.array(sorted(set(values))))).as_py() or 0)
