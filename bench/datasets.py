"""The labelled datasets of ../shared/datasets, prepared exactly as docs/benchmarks.md describes."""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from feedbackloop.settings import PROJECT_ROOT, Settings

OUT = PROJECT_ROOT / "bench" / "out"

# Maalej et al.'s four review types, mapped onto the default taxonomy.
APP_REVIEW_MAPPING = {"Bug": "bug", "Feature": "feature_request", "UserExperience": "ux", "Rating": "praise"}


@dataclass
class Dataset:
    name: str
    texts: list[str]
    labels: list[str]
    ratings: list[float | None] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


def app_reviews(settings: Settings) -> Dataset:
    """Single-label subset: comments (stripped) that carry exactly one type; 2,848 texts."""
    path = Path(settings.datasets_dir) / "app_reviews_maalej" / "app_reviews_maalej.csv"
    labels: dict[str, set[str]] = defaultdict(set)
    ratings: dict[str, float] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text = row["comment"].strip()
            if text:
                labels[text].add(row["label"])
                ratings.setdefault(text, float(row["rating"]) if row["rating"] else float("nan"))
    single = sorted(t for t, ls in labels.items() if len(ls) == 1)
    return Dataset(
        "app_reviews",
        single,
        [APP_REVIEW_MAPPING[next(iter(labels[t]))] for t in single],
        [ratings[t] for t in single],
    )


def amazon_sentiment(settings: Settings) -> Dataset:
    """3-way gold from the mean human rating: negative below -0.5, positive above 0.5, else neutral."""
    path = Path(settings.datasets_dir) / "amazon_review_snippets_vader" / "amazon_review_snippets.csv"
    texts, labels = [], []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            score = float(row["mean_sentiment"])
            texts.append(row["text"])
            labels.append("negative" if score < -0.5 else "positive" if score > 0.5 else "neutral")
    return Dataset("amazon_sentiment", texts, labels)


def clinc150(settings: Settings) -> Dataset:
    path = Path(settings.datasets_dir) / "clinc150" / "clinc150_full.csv"
    texts, labels, splits = [], [], []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["text"])
            labels.append(row["intent"])
            splits.append(row["split"])
    return Dataset("clinc150", texts, labels, splits=splits)


def embeddings(dataset: Dataset, settings: Settings) -> np.ndarray:
    """MiniLM vectors, computed once and kept in bench/out (the embed stage's precomputed vectors)."""
    from feedbackloop.embed.model import get_embedder

    embedder = get_embedder(settings)
    digest = hashlib.sha256("\0".join([embedder.model_id, *dataset.texts]).encode()).hexdigest()[:12]
    path = OUT / f"{dataset.name}.{digest}.npy"
    if path.is_file():
        return np.load(path)
    OUT.mkdir(parents=True, exist_ok=True)
    vectors = embedder.embed(dataset.texts)
    np.save(path, vectors)
    return vectors
