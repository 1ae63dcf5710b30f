"""The local tier: zero-shot from the taxonomy at first, retrained on accepted labels later."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from feedbackloop.embed.model import get_embedder
from feedbackloop.label.features import FEATURES_VERSION, extra_features
from feedbackloop.label.local import LocalClassifier
from feedbackloop.label.local_tier import LocalTier, train_tier
from feedbackloop.label.taxonomy import load_taxonomy
from feedbackloop.settings import PROJECT_ROOT, Settings

TAXONOMY = load_taxonomy(PROJECT_ROOT / "config" / "taxonomies" / "default.yaml")


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    return get_embedder(Settings())


@pytest.mark.parametrize(
    ("text", "category"),
    [
        pytest.param("I was charged twice for my subscription and want a refund", "billing", id="billing"),
        pytest.param("Please add a dark mode option", "feature_request", id="feature-request"),
        pytest.param("The verification code for two-factor login never arrives", "login", id="login"),
        pytest.param("It drains my battery and lags terribly", "performance", id="performance"),
    ],
)
def test_zero_shot_recognises_plain_examples(embedder, text: str, category: str) -> None:  # type: ignore[no-untyped-def]
    tier = LocalTier.zero_shot(TAXONOMY, embedder)
    prediction = tier.predict(embedder.embed([text]), [text])
    assert prediction.category == [category]


def test_zero_shot_with_a_similarity_floor_sends_unrelated_text_to_the_fallback(embedder) -> None:  # type: ignore[no-untyped-def]
    tier = LocalTier.zero_shot(TAXONOMY, embedder, min_similarity=0.35)
    text = "what is the capital of mongolia"
    assert tier.predict(embedder.embed([text]), [text]).category == ["other"]


def test_sentiment_before_training_comes_from_the_lexicon(embedder) -> None:  # type: ignore[no-untyped-def]
    tier = LocalTier.zero_shot(TAXONOMY, embedder)
    texts = ["I love this app, wonderful!", "Terrible, I hate it", "The app has a settings page"]
    assert tier.predict(embedder.embed(texts), texts).sentiment == ["positive", "negative", "neutral"]


def test_a_retrained_tier_learns_accepted_labels_and_survives_a_save(embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # "Checkout" wording is nowhere in the taxonomy; accepted labels teach the tier that it is billing.
    texts = [f"checkout step {i} failed with my card" for i in range(10)] + [
        f"love the new look, version {i}" for i in range(10)
    ]
    categories = ["billing"] * 10 + ["praise"] * 10
    sentiments = ["negative"] * 8 + ["neutral"] * 2 + ["positive"] * 10
    tier = train_tier(TAXONOMY, embedder, embedder.embed(texts), texts, categories, sentiments)
    tier.save(tmp_path, TAXONOMY, embedder)
    loaded = LocalTier.load(tmp_path, TAXONOMY, embedder)
    probe = ["checkout step failed again with my card"]
    vectors = embedder.embed(probe)
    assert loaded.category.kind == "trained"
    assert loaded.model_id == tier.model_id
    assert loaded.predict(vectors, probe).category == ["billing"]
    np.testing.assert_allclose(
        loaded.predict(vectors, probe).category_confidence, tier.predict(vectors, probe).category_confidence
    )


def test_a_binary_label_set_trains_into_two_classes() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    labels = ["a" if v[0] > 0 else "b" for v in vectors]
    classifier = LocalClassifier.train(vectors, labels)
    prediction = classifier.predict(vectors)
    assert classifier.classes == ["a", "b"]
    assert np.mean(np.array(prediction.labels) == np.array(labels)) > 0.9


def test_a_head_saved_before_feature_versions_still_predicts(tmp_path: Path) -> None:
    # Older heads: 10 extra columns (VADER + rating) and no features version in their metadata.
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    labels = ["a" if v[0] > 0 else "b" for v in vectors]
    texts = [f"text {label} {i}" for i, label in enumerate(labels)]
    extra = extra_features(texts)
    path = LocalClassifier.train(vectors, labels, extra[:, :10], texts).save(tmp_path / "head.npz")
    with np.load(path) as data:
        arrays = dict(data)
    arrays["meta"] = arrays["meta"][:5]
    np.savez(path, **arrays)
    old = LocalClassifier.load(path)
    assert old.features_version == 1
    assert len(old.predict(vectors, extra, texts).labels) == 40  # reads the first 10 of today's columns


def test_a_saved_head_keeps_the_features_version_it_was_trained_with(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    labels = ["a" if v[0] > 0 else "b" for v in vectors]
    head = LocalClassifier.train(vectors, labels, texts=[f"text {i}" for i in range(20)])
    assert LocalClassifier.load(head.save(tmp_path / "head.npz")).features_version == FEATURES_VERSION
