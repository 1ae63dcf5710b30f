"""Tuned encoders: a head fine-tunes MiniLM on accepted labels; the tier escalates unsure rows to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from feedbackloop.embed.model import get_embedder
from feedbackloop.label.local_tier import LocalTier, train_tier
from feedbackloop.label.taxonomy import load_taxonomy
from feedbackloop.label.tuned import TuneConfig, TunedEncoder, native_bfloat16, resolve_precision
from feedbackloop.settings import PROJECT_ROOT, Settings

pytestmark = [pytest.mark.model, pytest.mark.slow]

TAXONOMY = load_taxonomy(PROJECT_ROOT / "config" / "taxonomies" / "default.yaml")
# Small, fast and overfitting on purpose: these tests check the plumbing, bench/ checks the quality.
QUICK = TuneConfig(epochs=4, learning_rate=1e-3, batch_size=8, max_length=24)
GOOD = [f"great app number {i}, love it" for i in range(8)]
BAD = [f"awful app number {i}, hate it" for i in range(8)]
FLAT = [f"the app has {i} settings pages" for i in range(8)]


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    return get_embedder(Settings())


@pytest.fixture(scope="module")
def encoder() -> TunedEncoder:
    return TunedEncoder.train([*GOOD, *BAD, *FLAT], ["positive"] * 8 + ["negative"] * 8 + ["neutral"] * 8, QUICK)


def test_a_tuned_encoder_learns_its_training_labels(encoder: TunedEncoder) -> None:
    proba = encoder.predict_proba([GOOD[0], BAD[0], FLAT[0]])
    assert encoder.classes == ["negative", "neutral", "positive"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert [encoder.classes[i] for i in proba.argmax(axis=1)] == ["positive", "negative", "neutral"]


def test_a_saved_tuned_encoder_predicts_the_same(encoder: TunedEncoder, tmp_path: Path) -> None:
    loaded = TunedEncoder.load(encoder.save(tmp_path / "sentiment_tuned"))
    probe = ["an okay app with some pages", "love it"]
    assert loaded.version == encoder.version
    np.testing.assert_allclose(loaded.predict_proba(probe), encoder.predict_proba(probe), atol=1e-5)


def test_a_tuned_encoder_needs_two_classes() -> None:
    with pytest.raises(ValueError, match="needs 2\\+ classes"):
        TunedEncoder.train(GOOD, ["positive"] * len(GOOD), QUICK)


def zero_shot_tier_with(embedder, encoder: TunedEncoder, escalate_below: float) -> LocalTier:  # type: ignore[no-untyped-def]
    tier = LocalTier.zero_shot(TAXONOMY, embedder)
    tier.tuned["sentiment"] = encoder
    tier.escalate_below = escalate_below
    return tier


def test_the_tier_escalates_only_rows_its_frozen_head_is_unsure_of(embedder, encoder: TunedEncoder) -> None:  # type: ignore[no-untyped-def]
    texts = [GOOD[1], BAD[1], FLAT[1]]
    vectors = embedder.embed(texts)
    tier = zero_shot_tier_with(embedder, encoder, escalate_below=0.0)
    assert tier.predict(vectors, texts).escalated == 0
    tier.escalate_below = 1.01
    prediction = tier.predict(vectors, texts)
    assert prediction.escalated == 3
    assert prediction.sentiment == ["positive", "negative", "neutral"]


def test_bfloat16_inference_predicts_as_float32_does_and_the_label_says_which(embedder, encoder: TunedEncoder) -> None:  # type: ignore[no-untyped-def]
    texts = [GOOD[2], BAD[2], FLAT[2]]
    vectors = embedder.embed(texts)
    tier = zero_shot_tier_with(embedder, encoder, escalate_below=1.01)
    exact = tier.predict(vectors, texts)
    tier.precision = "bfloat16"
    fast = tier.predict(vectors, texts)
    assert fast.sentiment == exact.sentiment == ["positive", "negative", "neutral"]
    np.testing.assert_allclose(fast.sentiment_confidence, exact.sentiment_confidence, atol=0.02)
    assert tier.model_id.endswith("/bf16")


def test_auto_precision_is_bfloat16_only_where_the_cpu_has_it() -> None:
    assert resolve_precision("auto") == ("bfloat16" if native_bfloat16() else "float32")
    assert resolve_precision("float32") == "float32"


def test_retraining_tunes_the_configured_heads_and_the_tier_survives_a_save(embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    texts = [*GOOD, *BAD, *FLAT]
    categories = ["praise"] * 8 + ["bug"] * 8 + ["ux"] * 8
    sentiments = ["positive"] * 8 + ["negative"] * 8 + ["neutral"] * 8
    tier = train_tier(
        TAXONOMY, embedder, embedder.embed(texts), texts, categories, sentiments,
        tune=QUICK, tune_heads=["sentiment"], tune_min_labels=20,
    )  # fmt: skip
    assert set(tier.tuned) == {"sentiment"}
    assert "+tuned@" in tier.model_id
    tier.save(tmp_path, TAXONOMY, embedder)
    loaded = LocalTier.load(tmp_path, TAXONOMY, embedder)
    assert loaded.model_id == tier.model_id


def test_a_head_with_too_few_labels_is_not_tuned(embedder) -> None:  # type: ignore[no-untyped-def]
    texts = [*GOOD, *BAD, *FLAT]
    sentiments = ["positive"] * 8 + ["negative"] * 8 + ["neutral"] * 8
    tier = train_tier(
        TAXONOMY, embedder, embedder.embed(texts), texts, ["praise"] * 24, sentiments,
        tune=QUICK, tune_heads=["sentiment"], tune_min_labels=25,
    )  # fmt: skip
    assert tier.tuned == {}
