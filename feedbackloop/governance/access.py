"""Source-level permissions from one file (``config/access.yaml``), applied to both targets.

* **Databricks** (``databricks_statements``, and dbt through ``dbt_vars``): every team group gets
  SELECT on the silver and gold schemas (dbt ``grants``), a Unity Catalog row filter function on
  ``source_system`` lets each group see only its sources, and the vault schema is granted to the
  PII stewards (and the pipeline) alone.
* **Elasticsearch** (``elasticsearch_aliases``/``elasticsearch_roles``): one filtered alias per
  team over the feedback index, and a role per team whose document-level-security query is the
  same filter, for clusters where users authenticate to Elasticsearch directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ALL_SOURCES = "*"
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.@\-]+$")
_SOURCE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class AccessPolicyError(ValueError):
    """The access policy file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Team:
    name: str
    group: str
    sources: tuple[str, ...]

    @property
    def sees_everything(self) -> bool:
        return ALL_SOURCES in self.sources


@dataclass(frozen=True)
class AccessPolicy:
    teams: tuple[Team, ...]
    pii_stewards: str
    pipeline: str

    @classmethod
    def load(cls, path: Path) -> AccessPolicy:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise AccessPolicyError(f"access policy {path} does not exist") from None
        teams = []
        for name, spec in (raw.get("teams") or {}).items():
            if not isinstance(spec, dict) or not spec.get("group") or not spec.get("sources"):
                raise AccessPolicyError(f"team {name!r} in {path} needs a group and a non-empty sources list")
            sources = tuple(str(s) for s in spec["sources"])
            for source in sources:
                if source != ALL_SOURCES and not _SOURCE.match(source):
                    raise AccessPolicyError(f"team {name!r}: {source!r} is not a source_system name")
            teams.append(Team(str(name), _group(spec["group"], f"team {name!r}"), sources))
        if not teams:
            raise AccessPolicyError(f"{path} defines no teams")
        stewards = _group((raw.get("pii_stewards") or {}).get("group"), "pii_stewards")
        pipeline = _group((raw.get("pipeline") or {}).get("group"), "pipeline")
        return cls(tuple(teams), stewards, pipeline)

    # -- Databricks -----------------------------------------------------------------------------
    def dbt_vars(self) -> dict[str, Any]:
        """``--vars`` for dbt: the readers get SELECT through each model's ``grants`` config."""
        return {"access_readers": sorted({t.group for t in self.teams}), "access_row_filter": "access.source_filter"}

    def row_filter_sql(self, catalog: str) -> str:
        """A UC row filter: true when the querying user is in a group allowed to see the row's source."""
        clauses = []
        for team in self.teams:
            member = f"is_account_group_member('{team.group}')"
            if team.sees_everything:
                clauses.append(member)
            else:
                sources = ", ".join(f"'{s}'" for s in team.sources)
                clauses.append(f"({member} and source_system in ({sources}))")
        clauses.append(f"is_account_group_member('{self.pipeline}')")
        body = "\n    or ".join(clauses)
        return (
            f"create or replace function {catalog}.access.source_filter(source_system string)\n"
            f"returns boolean\nreturn {body}"
        )

    def databricks_statements(self, catalog: str, vault_location: str) -> list[str]:
        """Everything outside dbt: the filter function, the vault schema and its grants."""
        readers = sorted({t.group for t in self.teams})
        statements = [
            f"create schema if not exists {catalog}.access",
            self.row_filter_sql(catalog),
            *(f"grant execute on function {catalog}.access.source_filter to `{g}`" for g in readers),
            f"create schema if not exists {catalog}.vault managed location '{vault_location}'",
            f"create table if not exists {catalog}.vault.pii_vault using delta location '{vault_location}/pii_vault'",
            f"revoke all privileges on schema {catalog}.vault from `account users`",
            *(f"revoke all privileges on schema {catalog}.vault from `{g}`" for g in readers),
            f"grant use schema, select on schema {catalog}.vault to `{self.pii_stewards}`",
            f"grant use schema, select, modify on schema {catalog}.vault to `{self.pipeline}`",
            *(f"grant use catalog on catalog {catalog} to `{g}`" for g in [*readers, self.pii_stewards]),
        ]
        return statements

    # -- Elasticsearch ---------------------------------------------------------------------------
    def team_filter(self, team: Team) -> dict[str, Any] | None:
        if team.sees_everything:
            return None
        return {"terms": {"source_system": list(team.sources)}}

    def alias_name(self, index: str, team: Team) -> str:
        return f"{index}-{team.name}"

    def elasticsearch_aliases(self, index: str) -> list[dict[str, Any]]:
        """``indices.update_aliases`` actions: one alias per team, filtered to its sources."""
        actions = []
        for team in self.teams:
            add: dict[str, Any] = {"index": index, "alias": self.alias_name(index, team)}
            flt = self.team_filter(team)
            if flt is not None:
                add["filter"] = flt
            actions.append({"add": add})
        return actions

    def elasticsearch_roles(self, index: str) -> dict[str, dict[str, Any]]:
        """Role bodies for ``security.put_role``: read on the team alias, DLS with the same filter."""
        roles = {}
        for team in self.teams:
            privilege: dict[str, Any] = {"names": [self.alias_name(index, team)], "privileges": ["read"]}
            flt = self.team_filter(team)
            if flt is not None:
                privilege["query"] = {"bool": {"filter": [flt]}}
            roles[team.group] = {"indices": [privilege]}
        return roles

    def apply_elasticsearch(self, client: Any, index: str, roles: bool = False) -> dict[str, Any]:
        """Create/refresh the team aliases (and roles, on a cluster with security enabled)."""
        actions = self.elasticsearch_aliases(index)
        existing = client.indices.get_alias(index=index) if client.indices.exists(index=index) else {}
        stale = {a for a in (existing.get(index, {}).get("aliases") or {}) if a.startswith(f"{index}-")}
        wanted = {a["add"]["alias"] for a in actions}
        removals = [{"remove": {"index": index, "alias": alias}} for alias in sorted(stale - wanted)]
        client.indices.update_aliases(actions=[*removals, *actions])
        applied: dict[str, Any] = {"aliases": sorted(wanted), "removed": sorted(stale - wanted)}
        if roles:
            for name, body in self.elasticsearch_roles(index).items():
                client.security.put_role(name=name, **body)
            applied["roles"] = sorted(self.elasticsearch_roles(index))
        return applied


def _group(value: Any, where: str) -> str:
    if not value or not _IDENTIFIER.match(str(value)):
        raise AccessPolicyError(f"{where}: group {value!r} is missing or not a valid group name")
    return str(value)
