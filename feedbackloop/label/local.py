"""The cascade's fast tier: an embedding-based classifier for one label set (categories, or sentiment).

It starts zero-shot, scoring each text against a prototype per class built from the taxonomy's
descriptions and examples, and is later retrained (multinomial logistic regression) on accepted
labels. Either way it only needs vectors, so precomputed embeddings make it cheap.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from feedbackloop.label.features import FEATURES_VERSION, fit_idf, lexical_counts, tfidf

ZERO_SHOT_TEMPERATURE = 0.05
SENTIMENT_CLASSES = (
    "negative",
    "neutral",
    "positive",
)  # cosine gaps between prototypes are small; sharpen them into probabilities


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float32)


@dataclass
class Prediction:
    labels: list[str]
    confidence: np.ndarray  # top-class probability
    similarity: np.ndarray  # zero-shot: best prototype cosine; trained: NaN
    proba: np.ndarray


class LocalClassifier:
    """``predict(vectors, extra)`` -> labels and confidences. ``extra`` are optional numeric features."""

    def __init__(
        self,
        classes: Sequence[str],
        kind: str,
        prototypes: np.ndarray | None = None,
        coef: np.ndarray | None = None,
        intercept: np.ndarray | None = None,
        n_extra: int = 0,
        lexical_coef: np.ndarray | None = None,
        lexical_intercept: np.ndarray | None = None,
        idf: np.ndarray | None = None,
        fallback: str | None = None,
        min_similarity: float = 0.0,
        version: str = "",
        features_version: int = FEATURES_VERSION,
    ) -> None:
        self.classes = list(classes)
        self.kind = kind
        self.prototypes = prototypes
        self.coef = coef
        self.intercept = intercept
        self.n_extra = n_extra
        self.lexical_coef = lexical_coef
        self.lexical_intercept = lexical_intercept
        self.idf = idf
        self.fallback = fallback
        self.min_similarity = min_similarity
        self.version = version
        self.features_version = features_version  # which lexical_counts / extra columns it was trained on

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def zero_shot(
        cls,
        class_texts: dict[str, list[str]],
        embed: Callable[[list[str]], np.ndarray],
        fallback: str | None = None,
        min_similarity: float = 0.0,
        space_id: str = "",
    ) -> LocalClassifier:
        """One prototype per class: the normalised mean of its description and example embeddings.

        The fallback class gets no prototype of its own (\"anything else\" has no direction in the
        space); it is predicted when no other class is at least ``min_similarity`` close.
        """
        classes = [c for c in class_texts if c != fallback] if fallback else list(class_texts)
        protos = []
        for name in classes:
            vectors = embed(class_texts[name])
            mean = vectors.mean(axis=0)
            protos.append(mean / np.linalg.norm(mean))
        digest = hashlib.sha256(repr(sorted(class_texts.items())).encode()).hexdigest()[:12]
        return cls(
            classes,
            "zero_shot",
            prototypes=np.vstack(protos).astype(np.float32),
            fallback=fallback,
            min_similarity=min_similarity,
            version=f"zero-shot@{digest}:{space_id}",
        )

    @classmethod
    def train(
        cls,
        vectors: np.ndarray,
        labels: Sequence[str],
        extra: np.ndarray | None = None,
        texts: Sequence[str] | None = None,
        c: float = 1.0,
        lexical_c: float = 4.0,
        space_id: str = "",
    ) -> LocalClassifier:
        """Logistic regression on [embedding, extra], averaged with one on hashed n-grams when texts are given.

        Balanced class weights favour macro-F1: rare types (bugs, feature requests) matter most.
        """
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(labels)
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        model.fit(_features(vectors, extra), y)
        lexical_coef = lexical_intercept = idf = None
        if texts is not None:
            counts = lexical_counts(texts)
            idf = fit_idf(counts)
            lexical = LogisticRegression(C=lexical_c, max_iter=3000, class_weight="balanced")
            lexical.fit(tfidf(counts, idf), y)
            lexical_coef = lexical.coef_.astype(np.float32)
            lexical_intercept = lexical.intercept_.astype(np.float32)
            if lexical_coef.shape[0] == 1:  # binary: sklearn keeps one row; make it one row per class
                lexical_coef = np.vstack([-lexical_coef, lexical_coef]) / 2
                lexical_intercept = np.array([-lexical_intercept[0], lexical_intercept[0]], np.float32) / 2
        coef, intercept = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
        if coef.shape[0] == 1:
            coef = np.vstack([-coef, coef]) / 2
            intercept = np.array([-intercept[0], intercept[0]], np.float32) / 2
        digest = hashlib.sha256(coef.tobytes() + (b"" if lexical_coef is None else lexical_coef.tobytes())).hexdigest()
        return cls(
            [str(x) for x in model.classes_],
            "trained",
            coef=coef,
            intercept=intercept,
            n_extra=0 if extra is None else extra.shape[1],
            lexical_coef=lexical_coef,
            lexical_intercept=lexical_intercept,
            idf=idf,
            version=f"trained@{digest[:12]}:{space_id}",
        )

    # -- inference ----------------------------------------------------------------------------------
    def predict(
        self, vectors: np.ndarray, extra: np.ndarray | None = None, texts: Sequence[str] | None = None
    ) -> Prediction:
        vectors = np.asarray(vectors, dtype=np.float32)
        n = vectors.shape[0]
        if n == 0:
            empty = np.zeros(0, dtype=np.float32)
            return Prediction([], empty, empty, np.zeros((0, len(self.classes)), dtype=np.float32))
        if self.kind == "zero_shot":
            assert self.prototypes is not None
            sims = vectors @ self.prototypes.T
            proba = _softmax(sims / ZERO_SHOT_TEMPERATURE)
            best = proba.argmax(axis=1)
            top_sim = sims[np.arange(n), best]
            labels = [self.classes[i] for i in best]
            confidence = proba[np.arange(n), best]
            if self.fallback is not None:
                outside = top_sim < self.min_similarity
                labels = [self.fallback if o else lab for o, lab in zip(outside, labels, strict=True)]
                # Below the similarity floor we are fairly sure it is none of the known classes.
                confidence = np.where(outside, 1.0 - top_sim, confidence).astype(np.float32)
            return Prediction(labels, confidence, top_sim.astype(np.float32), proba)
        if self.kind == "lexicon":
            return self._lexicon(extra)
        assert self.coef is not None and self.intercept is not None
        # Extra columns are only ever appended: a model trained on fewer reads the ones it knows.
        features = _features(vectors, extra[:, : self.n_extra] if self.n_extra and extra is not None else None)
        proba = _softmax(features @ self.coef.T + self.intercept)
        if self.lexical_coef is not None and self.lexical_intercept is not None and self.idf is not None:
            if texts is None:
                raise ValueError("this classifier also reads n-grams: pass the texts")
            counts = lexical_counts(texts, self.features_version)
            lexical = tfidf(counts, self.idf) @ self.lexical_coef.T + self.lexical_intercept
            proba = (proba + _softmax(np.asarray(lexical))) / 2
        best = proba.argmax(axis=1)
        nan = np.full(n, np.nan, dtype=np.float32)
        return Prediction([self.classes[i] for i in best], proba[np.arange(n), best], nan, proba)

    @classmethod
    def lexicon(cls) -> LocalClassifier:
        """Sentiment before any training: VADER's compound score with its published +-0.05 cut-offs."""
        return cls(list(SENTIMENT_CLASSES), "lexicon", n_extra=1, version="vader@3.3.2")

    def _lexicon(self, extra: np.ndarray | None) -> Prediction:
        if extra is None:
            raise ValueError("the lexicon sentiment classifier needs the extra features (VADER scores)")
        compound = np.asarray(extra[:, 3], dtype=np.float32)
        index = np.where(compound >= 0.05, 2, np.where(compound <= -0.05, 0, 1))
        confidence = np.where(index == 1, 1.0 - np.abs(compound) * 10, 0.5 + np.abs(compound) / 2)
        proba = np.zeros((len(compound), 3), dtype=np.float32)
        proba[np.arange(len(compound)), index] = 1.0
        nan = np.full(len(compound), np.nan, dtype=np.float32)
        return Prediction([self.classes[i] for i in index], confidence.astype(np.float32), nan, proba)

    # -- persistence --------------------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "classes": np.asarray(self.classes),
            "meta": np.asarray(
                [
                    self.kind,
                    self.version,
                    self.fallback or "",
                    str(self.min_similarity),
                    str(self.n_extra),
                    str(self.features_version),
                ]
            ),
        }
        for name in ("prototypes", "coef", "intercept", "lexical_coef", "lexical_intercept", "idf"):
            value = getattr(self, name)
            if value is not None:
                arrays[name] = value
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(path)  # readers never see half a model
        return path

    @classmethod
    def load(cls, path: Path) -> LocalClassifier:
        with np.load(path, allow_pickle=False) as data:
            meta = [str(x) for x in data["meta"]]
            kind, version, fallback, min_similarity, n_extra = meta[:5]
            features_version = int(meta[5]) if len(meta) > 5 else 1  # saved before features were versioned
            return cls(
                [str(x) for x in data["classes"]],
                kind,
                prototypes=data.get("prototypes"),
                coef=data.get("coef"),
                intercept=data.get("intercept"),
                lexical_coef=data.get("lexical_coef"),
                lexical_intercept=data.get("lexical_intercept"),
                idf=data.get("idf"),
                n_extra=int(n_extra),
                fallback=fallback or None,
                min_similarity=float(min_similarity),
                version=version,
                features_version=features_version,
            )


def _features(vectors: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
    if extra is None:
        return np.asarray(vectors, dtype=np.float32)
    return np.hstack([vectors, np.asarray(extra, dtype=np.float32)]).astype(np.float32)
