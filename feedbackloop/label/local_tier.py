"""The local tier: a category head and a sentiment head over one embedding space."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from feedbackloop.embed.model import Embedder
from feedbackloop.label.features import extra_features
from feedbackloop.label.local import LocalClassifier
from feedbackloop.label.taxonomy import Taxonomy


@dataclass
class LocalPrediction:
    category: list[str]
    category_confidence: np.ndarray
    sentiment: list[str]
    sentiment_score: np.ndarray
    sentiment_confidence: np.ndarray

    def route_confidence(self, heads: Sequence[str]) -> np.ndarray:
        """How sure the local tier is about the heads the deployment cares about (the least sure one)."""
        parts = {"category": self.category_confidence, "sentiment": self.sentiment_confidence}
        return np.min(np.vstack([parts[h] for h in heads]), axis=0)


def class_texts(taxonomy: Taxonomy) -> dict[str, list[str]]:
    """What the zero-shot prototypes are made of: a readable name + description, and the examples."""
    return {c.name: [f"{c.name.replace('_', ' ')}: {c.description}", *c.examples] for c in taxonomy.categories}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@+-]", "_", name)


_ZERO_SHOT: dict[tuple[str, str, float], LocalClassifier] = {}


class LocalTier:
    def __init__(self, category: LocalClassifier, sentiment: LocalClassifier) -> None:
        self.category = category
        self.sentiment = sentiment

    @property
    def model_id(self) -> str:
        return f"local:{self.category.version}|{self.sentiment.version}"

    @staticmethod
    def directory(model_dir: Path, taxonomy: Taxonomy, embedder: Embedder) -> Path:
        return Path(model_dir) / _safe(taxonomy.version_id) / _safe(embedder.model_id)

    @classmethod
    def zero_shot(cls, taxonomy: Taxonomy, embedder: Embedder, min_similarity: float = 0.0) -> LocalTier:
        key = (taxonomy.version_id, embedder.model_id, min_similarity)
        if key not in _ZERO_SHOT:  # prototypes depend only on the taxonomy file and the embedding space
            _ZERO_SHOT[key] = cls._zero_shot_category(taxonomy, embedder, min_similarity)
        return cls(_ZERO_SHOT[key], LocalClassifier.lexicon())

    @staticmethod
    def _zero_shot_category(taxonomy: Taxonomy, embedder: Embedder, min_similarity: float) -> LocalClassifier:
        # With a similarity floor, the fallback category wins when nothing else is close (out-of-scope).
        return LocalClassifier.zero_shot(
            class_texts(taxonomy),
            embedder.embed,
            fallback=taxonomy.fallback_category if min_similarity > 0 else None,
            min_similarity=min_similarity,
            space_id=embedder.model_id,
        )

    @classmethod
    def load(cls, model_dir: Path, taxonomy: Taxonomy, embedder: Embedder) -> LocalTier:
        """The retrained heads for this taxonomy and embedding space if any, else zero-shot."""
        directory = cls.directory(model_dir, taxonomy, embedder)
        category_path, sentiment_path = directory / "category.npz", directory / "sentiment.npz"
        tier = cls.zero_shot(taxonomy, embedder)
        if category_path.is_file():
            tier.category = LocalClassifier.load(category_path)
        if sentiment_path.is_file():
            tier.sentiment = LocalClassifier.load(sentiment_path)
        return tier

    def save(self, model_dir: Path, taxonomy: Taxonomy, embedder: Embedder) -> Path:
        directory = self.directory(model_dir, taxonomy, embedder)
        if self.category.kind == "trained":
            self.category.save(directory / "category.npz")
        if self.sentiment.kind == "trained":
            self.sentiment.save(directory / "sentiment.npz")
        return directory

    def predict(
        self, vectors: np.ndarray, texts: Sequence[str], ratings: Sequence[float | None] | None = None
    ) -> LocalPrediction:
        extra = extra_features(texts, ratings)
        category = self.category.predict(vectors, extra, texts)
        sentiment = self.sentiment.predict(vectors, extra, texts)
        classes = self.sentiment.classes
        proba = sentiment.proba
        score = proba[:, classes.index("positive")] - proba[:, classes.index("negative")] if len(proba) else np.zeros(0)
        return LocalPrediction(
            category.labels, category.confidence, sentiment.labels, score.astype(np.float32), sentiment.confidence
        )


def train_tier(
    taxonomy: Taxonomy,
    embedder: Embedder,
    vectors: np.ndarray,
    texts: Sequence[str],
    categories: Sequence[str],
    sentiments: Sequence[str | None],
    ratings: Sequence[float | None] | None = None,
) -> LocalTier:
    """Retrain both heads on accepted labels, plus the taxonomy's own texts so no category vanishes."""
    seed_texts = [(name, text) for name, texts_ in class_texts(taxonomy).items() for text in texts_]
    seed_vectors = embedder.embed([t for _, t in seed_texts])
    all_vectors = np.vstack([vectors, seed_vectors])
    all_texts = [*texts, *(t for _, t in seed_texts)]
    all_ratings = [*(ratings or [None] * len(texts)), *([None] * len(seed_texts))]
    extra = extra_features(all_texts, all_ratings)
    category = LocalClassifier.train(
        all_vectors, [*categories, *(n for n, _ in seed_texts)], extra, all_texts, space_id=embedder.model_id
    )
    tier = LocalTier(category, LocalClassifier.lexicon())
    known = [i for i, s in enumerate(sentiments) if s]
    if len({sentiments[i] for i in known}) == 3:
        tier.sentiment = LocalClassifier.train(
            vectors[known],
            [sentiments[i] for i in known],
            extra[known],
            [all_texts[i] for i in known],
            space_id=embedder.model_id,
        )
    return tier
