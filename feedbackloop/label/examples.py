"""Worked examples for the LLM tier: the accepted labels most similar to the item being labelled.

A small model reads a category description one way and a team's reviewers another; showing it how
the nearest past items were labelled closes that gap. Examples are data, like the item itself: they
go into the user message, tag-neutralised, never into the instructions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_EXAMPLE_CHARS = 300  # a long example costs prompt tokens without saying more about its label


@dataclass(frozen=True)
class Example:
    text: str
    category: str | None
    sentiment: str | None = None

    def attributes(self) -> str:
        return "".join(f' {k}="{v}"' for k, v in (("category", self.category), ("sentiment", self.sentiment)) if v)


class ExampleBank:
    """``nearest(vectors, k)`` -> for each vector, the k most similar accepted labels (cosine)."""

    def __init__(
        self,
        vectors: np.ndarray,
        texts: Sequence[str],
        categories: Sequence[str | None],
        sentiments: Sequence[str | None] | None = None,
    ) -> None:
        sentiments = list(sentiments) if sentiments is not None else [None] * len(texts)
        if not (len(vectors) == len(texts) == len(categories) == len(sentiments)):
            raise ValueError(
                f"an example bank needs vectors, texts and labels row for row, "
                f"got {len(vectors)}, {len(texts)}, {len(categories)} and {len(sentiments)}"
            )
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.texts = [t[:MAX_EXAMPLE_CHARS] for t in texts]
        self.categories = list(categories)
        self.sentiments = sentiments
        digest = hashlib.sha256(
            "\0".join(
                f"{t}\1{c}\1{s}" for t, c, s in zip(self.texts, self.categories, sentiments, strict=True)
            ).encode()
        )
        self.version = f"examples@{digest.hexdigest()[:12]}"  # recorded as a flag on the labels that used it

    def __len__(self) -> int:
        return len(self.texts)

    def nearest(self, vectors: np.ndarray, k: int, exclude_texts: Sequence[str] | None = None) -> list[list[Example]]:
        """Most similar first; an example with the item's own text is skipped (it would answer itself)."""
        if not len(self) or k <= 0:
            return [[] for _ in range(len(vectors))]
        sims = np.asarray(vectors, dtype=np.float32) @ self.vectors.T
        take = min(len(self), k + 1)
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        out = []
        for row, candidates in enumerate(top):
            ordered = candidates[np.argsort(-sims[row, candidates])]
            own = exclude_texts[row][:MAX_EXAMPLE_CHARS] if exclude_texts is not None else None
            picked = [
                Example(self.texts[j], self.categories[j], self.sentiments[j]) for j in ordered if self.texts[j] != own
            ]
            out.append(picked[:k])
        return out
