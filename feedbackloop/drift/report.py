"""The Evidently report: label, sentiment, severity and confidence columns, offline text descriptors
and EmbeddingsDrift over stored vectors, for the current window against the reference window."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from feedbackloop.drift.config import ReportConfig

EMBEDDINGS_NAME = "text_embedding"
MISSING = "(none)"  # a null category/severity is its own value: a rise in unlabelled items is drift too


@dataclass
class ColumnDrift:
    column: str
    method: str
    score: float
    threshold: float
    drifted: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "method": self.method,
            "score": _finite(self.score),
            "threshold": self.threshold,
            "drifted": self.drifted,
        }


@dataclass
class DriftResult:
    snapshot: Any  # evidently Snapshot: save_html / json
    columns: list[ColumnDrift]
    drift_share: float
    dataset_drift: bool
    embedding_score: float | None
    embedding_drifted: bool | None
    embedding_method: str | None
    reference_rows: int
    current_rows: int
    notes: list[str] = field(default_factory=list)

    def column(self, name: str) -> ColumnDrift | None:
        return next((c for c in self.columns if c.column == name), None)

    @property
    def drifted_columns(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drifted]


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most max_rows rows, the same ones for the same data (seeded), in a stable order."""
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    return frame.sample(n=max_rows, random_state=seed).sort_values("doc_id").reset_index(drop=True)


def _descriptors(names: list[str]) -> list[Any]:
    from evidently.descriptors import NonLetterCharacterPercentage, SentenceCount, TextLength, WordCount

    makers = {
        "text_length": lambda: TextLength("text", alias="text_length"),
        "word_count": lambda: WordCount("text", alias="word_count"),
        "sentence_count": lambda: SentenceCount("text", alias="sentence_count"),
        "non_letter_share": lambda: NonLetterCharacterPercentage("text", alias="non_letter_share"),
    }
    return [makers[n]() for n in names]


def _embedding_method(config: ReportConfig) -> Any:
    from evidently.metrics import embeddings as methods

    threshold = config.embedding_threshold
    if config.embedding_method == "model":
        # bootstrap off: the configured ROC AUC threshold decides, so the decision is reproducible
        return methods.ModelDriftMethod(threshold=threshold, bootstrap=False)
    if config.embedding_method == "distance":
        return methods.DistanceDriftMethod(dist="cosine", threshold=threshold, bootstrap=False)
    return methods.RatioDriftMethod(threshold=threshold)


def _prepare(frame: pd.DataFrame, categorical: list[str], numerical: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in categorical:
        out[column] = out[column].astype("object").where(out[column].notna(), MISSING).astype(str)
    for column in numerical:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out["text"] = out["text"].fillna("").astype(str)
    return out


def compute_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    config: ReportConfig,
    reference_vectors: np.ndarray | None = None,
    current_vectors: np.ndarray | None = None,
) -> DriftResult:
    """Run Evidently on two windows that each have at least one row.

    Vectors, when given, are row-aligned with their frame; without them the report has no embedding part.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import EmbeddingsDrift
    from evidently.presets import DataDriftPreset
    from threadpoolctl import threadpool_limits

    notes: list[str] = []
    categorical = [c for c in config.categorical_columns if c in reference and c in current]
    numerical = []
    for column in config.numerical_columns:
        if column not in reference or column not in current:
            notes.append(f"{column}: not in the data, not compared")
        elif reference[column].isna().all() or current[column].isna().all():
            notes.append(f"{column}: empty in one window, not compared")
        else:
            numerical.append(column)
    reference = _prepare(reference, categorical, numerical)
    current = _prepare(current, categorical, numerical)
    embeddings: dict[str, list[str]] = {}
    if config.embeddings and reference_vectors is not None and current_vectors is not None:
        names = [f"emb_{i}" for i in range(reference_vectors.shape[1])]
        reference = pd.concat([reference, pd.DataFrame(reference_vectors, columns=names)], axis=1)
        current = pd.concat([current, pd.DataFrame(current_vectors, columns=names)], axis=1)
        embeddings[EMBEDDINGS_NAME] = names
    definition = DataDefinition(
        categorical_columns=categorical,
        numerical_columns=numerical + ([c for n in embeddings.values() for c in n]),
        text_columns=["text"],
        embeddings=embeddings or None,
    )
    descriptors = _descriptors(list(config.descriptors))
    columns = categorical + numerical + list(config.descriptors)
    metrics: list[Any] = [DataDriftPreset(columns=columns, drift_share=config.drift_share)]
    if embeddings:
        metrics.append(EmbeddingsDrift(embeddings_name=EMBEDDINGS_NAME, drift_method=_embedding_method(config)))
    # t-SNE and the domain classifier oversubscribe OpenMP on a shared 2-core box: one thread is faster.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report(metrics).run(
            current_data=Dataset.from_pandas(current, data_definition=definition, descriptors=descriptors),
            reference_data=Dataset.from_pandas(reference, data_definition=definition, descriptors=descriptors),
        )
    return _summarize(snapshot, config, len(reference), len(current), bool(embeddings), notes)


def _summarize(
    snapshot: Any, config: ReportConfig, reference_rows: int, current_rows: int, has_embeddings: bool, notes: list[str]
) -> DriftResult:
    columns: list[ColumnDrift] = []
    embedding_score = None
    drift_share = 0.0
    for metric in snapshot.dict()["metrics"]:
        kind = metric["config"]["type"].rsplit(":", 1)[-1]
        value = metric["value"]
        if kind == "ValueDrift":
            method = str(metric["config"]["method"])
            threshold = float(metric["config"]["threshold"])
            score = float(value)
            # p-value tests drift below their threshold; distance measures drift at or above it
            drifted = score < threshold if "p_value" in method else score >= threshold
            columns.append(ColumnDrift(metric["config"]["column"], method, score, threshold, drifted))
        elif kind == "DriftedColumnsCount":
            drift_share = float(value["share"])
        elif kind == "EmbeddingsDrift":
            embedding_score = float(value)
    embedding_drifted = None if embedding_score is None else embedding_score > config.embedding_threshold
    if not has_embeddings:
        notes.append("embeddings: no stored vectors for enough rows, embedding drift not computed")
    return DriftResult(
        snapshot=snapshot,
        columns=columns,
        drift_share=drift_share,
        dataset_drift=drift_share >= config.drift_share,
        embedding_score=embedding_score,
        embedding_drifted=embedding_drifted,
        embedding_method=config.embedding_method if has_embeddings else None,
        reference_rows=reference_rows,
        current_rows=current_rows,
        notes=notes,
    )
