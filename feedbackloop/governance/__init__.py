"""Governance: the PII vault, right to erasure, retention, lineage and the source-level access policy."""
