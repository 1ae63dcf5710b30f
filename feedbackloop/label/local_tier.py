"""The local tier: a category head and a sentiment head over one embedding space."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from feedbackloop.embed.model import Embedder
from feedbackloop.label.features import extra_features
from feedbackloop.label.local import LocalClassifier, Prediction
from feedbackloop.label.taxonomy import Taxonomy
from feedbackloop.label.tuned import Arithmetic, Precision, TuneConfig, TunedEncoder, resolve_precision

HEADS = ("category", "sentiment")


@dataclass
class LocalPrediction:
    category: list[str]
    category_confidence: np.ndarray
    sentiment: list[str]
    sentiment_score: np.ndarray
    sentiment_confidence: np.ndarray
    escalated: int = 0  # head predictions the tuned encoders made because the frozen heads were unsure

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
    """Frozen heads on the precomputed embedding; unsure rows escalate to a head's tuned encoder, if trained."""

    def __init__(
        self,
        category: LocalClassifier,
        sentiment: LocalClassifier,
        tuned: dict[str, TunedEncoder] | None = None,
        escalate_below: float = 0.6,
        precision: Precision = "float32",
    ) -> None:
        self.category = category
        self.sentiment = sentiment
        self.tuned = dict(tuned or {})
        self.escalate_below = escalate_below
        self.precision = resolve_precision(precision)  # the tuned encoders' inference arithmetic

    @property
    def model_id(self) -> str:
        def part(head: str) -> str:
            version = getattr(self, head).version
            if head not in self.tuned:
                return version
            tuned = self.tuned[head].version
            return f"{version}+{tuned}" + ("/bf16" if self.precision == "bfloat16" else "")

        return f"local:{part('category')}|{part('sentiment')}"

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
    def load(
        cls,
        model_dir: Path,
        taxonomy: Taxonomy,
        embedder: Embedder,
        escalate_below: float = 0.6,
        precision: Precision = "float32",
    ) -> LocalTier:
        """The retrained heads (and tuned encoders) for this taxonomy and embedding space if any, else zero-shot."""
        directory = cls.directory(model_dir, taxonomy, embedder)
        tier = cls.zero_shot(taxonomy, embedder)
        tier.escalate_below = escalate_below
        tier.precision = resolve_precision(precision)
        for head in HEADS:
            if (directory / f"{head}.npz").is_file():
                setattr(tier, head, LocalClassifier.load(directory / f"{head}.npz"))
                if TunedEncoder.exists(directory / f"{head}_tuned"):
                    tier.tuned[head] = TunedEncoder.load(directory / f"{head}_tuned")
        return tier

    def save(self, model_dir: Path, taxonomy: Taxonomy, embedder: Embedder) -> Path:
        directory = self.directory(model_dir, taxonomy, embedder)
        for head in HEADS:
            if getattr(self, head).kind != "trained":
                continue
            getattr(self, head).save(directory / f"{head}.npz")
            tuned_dir = directory / f"{head}_tuned"
            shutil.rmtree(tuned_dir, ignore_errors=True)  # a stale encoder must not outlive the head it backs
            if head in self.tuned:
                self.tuned[head].save(tuned_dir)
        return directory

    def predict(
        self, vectors: np.ndarray, texts: Sequence[str], ratings: Sequence[float | None] | None = None
    ) -> LocalPrediction:
        extra = extra_features(texts, ratings)
        heads = {head: getattr(self, head).predict(vectors, extra, texts) for head in HEADS}
        escalated = 0
        for head, encoder in self.tuned.items():
            heads[head], n = _escalate(
                heads[head], getattr(self, head).classes, encoder, texts, self.escalate_below, self.precision
            )
            escalated += n
        category, sentiment = heads["category"], heads["sentiment"]
        classes = self.sentiment.classes
        proba = sentiment.proba
        score = proba[:, classes.index("positive")] - proba[:, classes.index("negative")] if len(proba) else np.zeros(0)
        return LocalPrediction(
            category.labels,
            category.confidence,
            sentiment.labels,
            score.astype(np.float32),
            sentiment.confidence,
            escalated,
        )


def _escalate(
    pred: Prediction,
    classes: list[str],
    tuned: TunedEncoder,
    texts: Sequence[str],
    below: float,
    precision: Arithmetic,
) -> tuple[Prediction, int]:
    """Rows the frozen head is less than ``below`` sure of take the tuned encoder's probabilities."""
    rows = np.flatnonzero(pred.confidence < below)
    if not len(rows):
        return pred, 0
    tuned_proba = tuned.predict_proba([texts[int(i)] for i in rows], precision=precision)
    proba = pred.proba.copy()
    proba[rows] = 0.0
    for j, name in enumerate(tuned.classes):  # the frozen head may know classes the tuned one never saw
        proba[rows, classes.index(name)] = tuned_proba[:, j]
    best = proba.argmax(axis=1)
    confidence = proba[np.arange(len(best)), best]
    return Prediction([classes[i] for i in best], confidence, pred.similarity, proba), len(rows)


def train_tier(
    taxonomy: Taxonomy,
    embedder: Embedder,
    vectors: np.ndarray,
    texts: Sequence[str],
    categories: Sequence[str],
    sentiments: Sequence[str | None],
    ratings: Sequence[float | None] | None = None,
    tune: TuneConfig | None = None,
    tune_heads: Sequence[str] = (),
    tune_min_labels: int = 200,
) -> LocalTier:
    """Retrain both heads on accepted labels, plus the taxonomy's own texts so no category vanishes.

    Heads named in ``tune_heads`` with at least ``tune_min_labels`` labels also get a tuned encoder.
    """
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
            [s for s in sentiments if s],  # the labels at `known`, in order
            extra[known],
            [all_texts[i] for i in known],
            space_id=embedder.model_id,
        )
    targets = {"category": (list(texts), list(categories))}
    if tier.sentiment.kind == "trained":
        targets["sentiment"] = ([texts[i] for i in known], [str(sentiments[i]) for i in known])
    for head in tune_heads:
        head_texts, head_labels = targets.get(head, ([], []))
        if len(head_texts) >= tune_min_labels and len(set(head_labels)) >= 2:
            tier.tuned[head] = TunedEncoder.train(head_texts, head_labels, tune)
    return tier
