"""Label quality on ../shared/datasets, against baselines computed in the same run.

    python -m bench.label_quality                      # local tier only (minutes)
    python -m bench.label_quality --llm qwen2.5-coder-1.5b --sample 150   # + the cascade's LLM tier

App reviews (type, 2,848 single-label texts) and Amazon snippets (3-way sentiment) are scored with
5-fold cross-validation wherever anything is trained. The cascade runs the real Cascade code on a
stratified sample: per fold, the local tier trained on the other folds, then the LLM (a packaged
GGUF on the local llama.cpp server) for what the local tier is unsure of. LLM answers are cached in
bench/out/lake, so a rerun makes no LLM calls. CLINC150 reports zero-shot and 10-shot accuracy plus
out-of-scope handling, with the out-of-scope threshold chosen on the validation split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets import OUT, Dataset, amazon_sentiment, app_reviews, clinc150, embeddings
from feedbackloop.embed.model import get_embedder
from feedbackloop.label.cache import LabelCache
from feedbackloop.label.cascade import Audit, Cascade, LabelInput
from feedbackloop.label.client import LLMLabeler
from feedbackloop.label.evaluate import scores
from feedbackloop.label.examples import ExampleBank
from feedbackloop.label.features import extra_features, vader_scores
from feedbackloop.label.local import LocalClassifier
from feedbackloop.label.local_tier import LocalTier
from feedbackloop.label.prompts import PromptSet
from feedbackloop.label.taxonomy import Taxonomy, load_taxonomy
from feedbackloop.label.tuned import TuneConfig, TunedEncoder, resolve_precision
from feedbackloop.lake import Lake
from feedbackloop.settings import PROJECT_ROOT, Settings

TAXONOMIES = PROJECT_ROOT / "config" / "taxonomies"
SEED = 7


def folds(labels: list[str], k: int = 5) -> np.ndarray:
    """Stratified fold id per item (deterministic)."""
    rng = np.random.default_rng(SEED)
    fold = np.zeros(len(labels), dtype=int)
    for label in sorted(set(labels)):
        idx = np.flatnonzero(np.asarray(labels) == label)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return fold


def macro(gold: list[str], predicted: list[str]) -> float:
    return round(scores(gold, predicted).macro_f1, 4)


def local_cv(d: Dataset, vectors: np.ndarray, fold: np.ndarray) -> tuple[list[str], np.ndarray, list[LocalClassifier]]:
    """The local tier's trained head under k-fold CV: out-of-fold predictions and the per-fold models."""
    extra = extra_features(d.texts, d.ratings or None)
    predicted: list[str] = [""] * len(d)
    confidence = np.zeros(len(d), dtype=np.float32)
    models = []
    for k in range(fold.max() + 1):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        model = LocalClassifier.train(
            vectors[train], [d.labels[i] for i in train], extra[train], [d.texts[i] for i in train]
        )
        out = model.predict(vectors[test], extra[test], [d.texts[i] for i in test])
        for j, i in enumerate(test):
            predicted[i] = out.labels[j]
        confidence[test] = out.confidence
        models.append(model)
    return predicted, confidence, models


def tuned_cv(d: Dataset, fold: np.ndarray, settings: Settings) -> tuple[list[TunedEncoder], float]:
    """One tuned encoder per fold, trained on the other folds (kept in bench/out/tuned, so a rerun reuses them).

    Returns the encoders and the median training time per fold (0 when all were reused).
    """
    config = TuneConfig(epochs=settings.label_tuned_epochs)
    digest = hashlib.sha256(repr((config, d.texts, d.labels)).encode()).hexdigest()[:12]
    encoders, seconds = [], []
    for k in range(fold.max() + 1):
        directory = OUT / "tuned" / f"{d.name}.{digest}" / f"fold{k}"
        if TunedEncoder.exists(directory):
            encoders.append(TunedEncoder.load(directory))
            continue
        train = np.flatnonzero(fold != k)
        started = time.perf_counter()
        encoder = TunedEncoder.train([d.texts[i] for i in train], [d.labels[i] for i in train], config)
        seconds.append(time.perf_counter() - started)
        print(f"{d.name}: tuned fold {k} in {seconds[-1]:.0f} s", flush=True)
        encoder.save(directory)
        encoders.append(encoder)
    return encoders, float(np.median(seconds)) if seconds else 0.0


def tiered_cv(
    d: Dataset,
    vectors: np.ndarray,
    fold: np.ndarray,
    tier_for_fold: Any,
    head: str,
) -> tuple[list[str], np.ndarray, int]:
    """Out-of-fold predictions of one head of the full local tier (frozen heads + escalation), and rows escalated."""
    predicted: list[str] = [""] * len(d)
    confidence = np.zeros(len(d), dtype=np.float32)
    escalated = 0
    for k in range(fold.max() + 1):
        test = np.flatnonzero(fold == k)
        out = tier_for_fold(k).predict(
            vectors[test], [d.texts[i] for i in test], [d.ratings[i] for i in test] if d.ratings else None
        )
        labels, conf = (
            (out.category, out.category_confidence) if head == "category" else (out.sentiment, out.sentiment_confidence)
        )
        for j, i in enumerate(test):
            predicted[i] = labels[j]
        confidence[test] = conf
        escalated += out.escalated
    return predicted, confidence, escalated


def fold_tier(
    settings: Settings, taxonomy: Taxonomy, model: LocalClassifier, head: str, encoder: TunedEncoder | None = None
) -> LocalTier:
    """One fold's local tier: its trained ``head`` (plus that head's tuned encoder), zero-shot for the other head."""
    zero_shot = LocalTier.zero_shot(taxonomy, get_embedder(settings))
    tier = LocalTier(model, zero_shot.sentiment) if head == "category" else LocalTier(zero_shot.category, model)
    if encoder is not None:
        tier.tuned[head] = encoder
        tier.escalate_below = settings.label_tuned_escalate_below
        tier.precision = resolve_precision(settings.label_tuned_precision)
    return tier


def tuned_report(
    d: Dataset,
    vectors: np.ndarray,
    fold: np.ndarray,
    frozen: list[str],
    models: list[LocalClassifier],
    tuned: list[TunedEncoder],
    head: str,
    settings: Settings,
    taxonomy: Taxonomy,
) -> tuple[dict[str, Any], list[str], np.ndarray]:
    """Frozen heads alone, the tuned encoder alone, and the local tier as shipped (frozen + escalation).

    Also returns the shipped tier's out-of-fold predictions and confidences.
    """
    alone: list[str] = [""] * len(d)
    for k, encoder in enumerate(tuned):
        test = np.flatnonzero(fold == k)
        proba = encoder.predict_proba([d.texts[i] for i in test])
        for j, i in enumerate(test):
            alone[i] = encoder.classes[int(proba[j].argmax())]
    shipped, confidence, escalated = tiered_cv(
        d, vectors, fold, lambda k: fold_tier(settings, taxonomy, models[k], head, tuned[k]), head
    )
    report = {
        "local_cv_frozen_heads": macro(d.labels, frozen),
        "tuned_alone_cv": macro(d.labels, alone),
        "local_cv": macro(d.labels, shipped),
        "escalated_share": round(escalated / len(d), 4),
        "escalate_below": settings.label_tuned_escalate_below,
    }
    return report, shipped, confidence


def baseline_logreg(d: Dataset, vectors: np.ndarray, fold: np.ndarray) -> list[str]:
    from sklearn.linear_model import LogisticRegression

    predicted = np.empty(len(d), dtype=object)
    y = np.asarray(d.labels)
    for k in range(fold.max() + 1):
        train, test = fold != k, fold == k
        predicted[test] = LogisticRegression(max_iter=3000).fit(vectors[train], y[train]).predict(vectors[test])
    return list(predicted)


def sample(labels: list[str], n: int) -> np.ndarray:
    """A stratified random sample of n items (proportional, at least 5 per class)."""
    rng = np.random.default_rng(SEED)
    counts = Counter(labels)
    picked = []
    for label, count in sorted(counts.items()):
        take = max(5, round(n * count / len(labels)))
        idx = np.flatnonzero(np.asarray(labels) == label)
        picked += list(rng.choice(idx, size=min(take, len(idx)), replace=False))
    return np.asarray(sorted(picked))


def run_cascade(
    settings: Settings,
    taxonomy: Taxonomy,
    d: Dataset,
    vectors: np.ndarray,
    fold: np.ndarray,
    models: list[LocalClassifier],
    picked: np.ndarray,
    head: str,
    base_url: str,
    tuned: list[TunedEncoder] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The real Cascade over the sample, fold by fold: local tier from the other folds, then the LLM."""
    prompts = PromptSet.load(Path(settings.label_prompt_dir))
    lake = Lake(settings)
    rows: dict[str, dict[str, Any]] = {}
    totals: Counter[str] = Counter()
    model_id = f"llama_cpp/{settings.llm_model}"
    for k, model in enumerate(models):
        members = [i for i in picked if fold[i] == k]
        if not members:
            continue
        tier = fold_tier(settings, taxonomy, model, head, tuned[k] if tuned else None)
        audit = Audit(
            taxonomy.version_id, prompts.version, model_id, "llama_cpp", settings.llm_temperature, "bench", "bench"
        )
        llm = LLMLabeler(settings, taxonomy, prompts, base_url=base_url)
        cache = LabelCache(lake, prompts.version, taxonomy.version_id, model_id)
        examples = None
        if settings.label_llm_examples:  # worked examples come from the other folds only, like the tier
            train = np.flatnonzero(fold != k)
            gold = [d.labels[i] for i in train]
            examples = ExampleBank(
                vectors[train],
                [d.texts[i] for i in train],
                gold if head == "category" else [None] * len(train),
                gold if head == "sentiment" else None,
            )
        cascade = Cascade(settings, taxonomy, tier, audit, llm=llm, cache=cache, examples=examples)
        items = [
            LabelInput(key=str(i), text=d.texts[i], rating=(d.ratings[i] if d.ratings else None), language="en")
            for i in members
        ]
        cascade.run(items, vectors[members], lambda out: rows.update({r["doc_id"]: r for r in out}))
        for key, value in cascade.stats.as_dict().items():
            if isinstance(value, int | float):
                totals[key] += value
    return [rows.get(str(i), {}) for i in picked], dict(totals)


def answered_subset(gold: list[str], local: list[str], rows: list[dict[str, Any]], field: str) -> dict[str, Any]:
    """Local-only vs cascade on the items the cascade labelled (items left queued by an
    unavailable LLM have no label yet and are counted, not scored)."""
    keep = [i for i, r in enumerate(rows) if r]
    return {
        "answered": len(keep),
        "queued_unanswered": len(rows) - len(keep),
        "local_only_on_answered": macro([gold[i] for i in keep], [local[i] for i in keep]),
        "cascade_on_answered": macro([gold[i] for i in keep], [rows[i][field] for i in keep]),
    }


def llm_server(settings: Settings):  # type: ignore[no-untyped-def]
    from feedbackloop.label.llama_server import LlamaServer

    return LlamaServer.from_settings(settings)


def app_reviews_bench(settings: Settings, args: argparse.Namespace, server_url: str | None) -> dict[str, Any]:
    d = app_reviews(settings)
    taxonomy = load_taxonomy(TAXONOMIES / "app_review_types.yaml")
    vectors = embeddings(d, settings)
    fold = folds(d.labels)
    embedder = get_embedder(settings)
    result: dict[str, Any] = {"n": len(d), "classes": dict(Counter(d.labels))}
    zero = LocalTier.zero_shot(taxonomy, embedder).category.predict(vectors)
    result["baseline_minilm_zero_shot"] = macro(d.labels, zero.labels)
    result["baseline_logreg_minilm_cv"] = macro(d.labels, baseline_logreg(d, vectors, fold))
    result["baseline_always_rating_accuracy"] = round(Counter(d.labels)["praise"] / len(d), 4)
    started = time.perf_counter()
    predicted, confidence, models = local_cv(d, vectors, fold)
    result["local_cv"] = macro(d.labels, predicted)
    result["local_cv_accuracy"] = round(scores(d.labels, predicted).accuracy, 4)
    result["local_cv_seconds"] = round(time.perf_counter() - started, 1)
    tuned = None
    if "category" in settings.label_tuned_heads:
        tuned, result["tuned_train_seconds_per_fold"] = tuned_cv(d, fold, settings)
        report, predicted, confidence = tuned_report(
            d, vectors, fold, predicted, models, tuned, "category", settings, taxonomy
        )
        result.update(report)
        result["local_cv_accuracy"] = round(scores(d.labels, predicted).accuracy, 4)
    threshold = settings.label_local_accept_threshold
    confident = confidence >= threshold
    result["local_share_at_threshold"] = round(float(confident.mean()), 4)
    result["local_macro_f1_on_confident"] = macro(
        [d.labels[i] for i in np.flatnonzero(confident)], [predicted[i] for i in np.flatnonzero(confident)]
    )
    if server_url:
        picked = sample(d.labels, args.sample)
        rows, totals = run_cascade(settings, taxonomy, d, vectors, fold, models, picked, "category", server_url, tuned)
        gold = [d.labels[i] for i in picked]
        result["cascade_sample"] = {
            "n": len(picked),
            "local_only": macro(gold, [predicted[i] for i in picked]),
            "cascade": macro(gold, [r.get("category", "") for r in rows]),
            "cascade_auto_only": macro(
                [g for g, r in zip(gold, rows, strict=True) if r.get("status") == "accepted"],
                [r["category"] for r in rows if r.get("status") == "accepted"],
            ),
            "llm_alone_on_llm_items": macro(
                [g for g, r in zip(gold, rows, strict=True) if r.get("tier") == "llm"],
                [r["category"] for r in rows if r.get("tier") == "llm"],
            ),
            **{
                k: totals.get(k, 0)
                for k in ("local", "llm", "review", "queued", "llm_calls", "llm_cache_hits", "llm_calls_saved")
            },
            "review_share": round(sum(r.get("status") == "needs_review" for r in rows) / len(rows), 4),
            **answered_subset(gold, [predicted[i] for i in picked], rows, "category"),
        }
    return result


def amazon_bench(settings: Settings, args: argparse.Namespace, server_url: str | None) -> dict[str, Any]:
    d = amazon_sentiment(settings)
    vectors = embeddings(d, settings)
    fold = folds(d.labels)
    embedder = get_embedder(settings)
    result: dict[str, Any] = {"n": len(d), "classes": dict(Counter(d.labels))}
    compound = vader_scores(d.texts)[:, 3]
    result["baseline_vader"] = macro(
        d.labels, ["positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral" for c in compound]
    )
    prototypes = LocalClassifier.zero_shot(
        {
            "negative": ["a negative review: bad, disappointing, broken, terrible"],
            "neutral": ["a neutral statement of fact with no opinion"],
            "positive": ["a positive review: good, great, works well, love it"],
        },
        embedder.embed,
    )
    result["baseline_minilm_zero_shot"] = macro(d.labels, prototypes.predict(vectors).labels)
    result["baseline_logreg_minilm_cv"] = macro(d.labels, baseline_logreg(d, vectors, fold))
    predicted, confidence, models = local_cv(d, vectors, fold)
    result["local_cv"] = macro(d.labels, predicted)
    taxonomy = load_taxonomy(TAXONOMIES / "default.yaml")
    tuned = None
    if "sentiment" in settings.label_tuned_heads:
        tuned, result["tuned_train_seconds_per_fold"] = tuned_cv(d, fold, settings)
        report, predicted, confidence = tuned_report(
            d, vectors, fold, predicted, models, tuned, "sentiment", settings, taxonomy
        )
        result.update(report)
    threshold = settings.label_local_accept_threshold
    result["local_share_at_threshold"] = round(float((confidence >= threshold).mean()), 4)
    if server_url:
        picked = sample(d.labels, args.sample)
        routed = settings.model_copy(update={"label_local_route_on": ["sentiment"]})
        rows, totals = run_cascade(routed, taxonomy, d, vectors, fold, models, picked, "sentiment", server_url, tuned)
        gold = [d.labels[i] for i in picked]
        result["cascade_sample"] = {
            "n": len(picked),
            "local_only": macro(gold, [predicted[i] for i in picked]),
            "cascade": macro(gold, [r.get("sentiment_label", "") for r in rows]),
            "llm_alone_on_llm_items": macro(
                [g for g, r in zip(gold, rows, strict=True) if r.get("tier") == "llm"],
                [r["sentiment_label"] for r in rows if r.get("tier") == "llm"],
            ),
            **{
                k: totals.get(k, 0)
                for k in ("local", "llm", "review", "queued", "llm_calls", "llm_cache_hits", "llm_calls_saved")
            },
        }
    return result


def clinc_bench(settings: Settings) -> dict[str, Any]:
    d = clinc150(settings)
    vectors = embeddings(d, settings)
    taxonomy = load_taxonomy(TAXONOMIES / "clinc150.yaml")
    embedder = get_embedder(settings)
    split = np.asarray(d.splits)
    labels = np.asarray(d.labels)
    val = np.isin(split, ["val", "oos_val"])
    test = np.isin(split, ["test", "oos_test"])

    def report(predicted: np.ndarray, mask: np.ndarray) -> dict[str, float]:
        gold = labels[mask]
        p = predicted[mask]
        in_scope = gold != "oos"
        return {
            "accuracy_all": round(float(np.mean(p == gold)), 4),
            "accuracy_in_scope": round(float(np.mean(p[in_scope] == gold[in_scope])), 4),
            "oos_recall": round(float(np.mean(p[~in_scope] == "oos")), 4),
            "oos_precision": round(float(np.sum((p == "oos") & ~in_scope) / max(1, np.sum(p == "oos"))), 4),
        }

    result: dict[str, Any] = {
        "test_in_scope": int(np.sum(test & (labels != "oos"))),
        "test_oos": int(np.sum(test & (labels == "oos"))),
    }
    zero = LocalTier.zero_shot(taxonomy, embedder).category
    sims = vectors @ zero.prototypes.T  # type: ignore[union-attr]
    best = np.asarray(zero.classes)[sims.argmax(axis=1)]
    top = sims.max(axis=1)

    def pick_floor(scores_: np.ndarray, names: np.ndarray) -> float:
        grid = np.quantile(scores_[val], np.linspace(0.0, 0.6, 61))
        accuracy = [np.mean(np.where(scores_[val] < f, "oos", names[val]) == labels[val]) for f in grid]
        return float(grid[int(np.argmax(accuracy))])

    floor = pick_floor(top, best)
    result["zero_shot"] = {
        "similarity_floor_from_val": round(floor, 4),
        **report(np.where(top < floor, "oos", best), test),
    }
    result["zero_shot_no_oos_handling"] = report(best, test)
    # 10-shot: ten training utterances per intent; out-of-scope by a confidence floor chosen on val.
    rng = np.random.default_rng(SEED)
    train_idx = []
    for intent in sorted(set(labels[split == "train"])):
        idx = np.flatnonzero((split == "train") & (labels == intent))
        train_idx += list(rng.choice(idx, size=10, replace=False))
    train_idx_a = np.asarray(train_idx)
    started = time.perf_counter()
    model = LocalClassifier.train(
        vectors[train_idx_a], labels[train_idx_a].tolist(), None, [d.texts[i] for i in train_idx_a]
    )
    result["ten_shot_train_seconds"] = round(time.perf_counter() - started, 1)
    out = model.predict(vectors, None, d.texts)
    names = np.asarray(out.labels)
    floor = pick_floor(out.confidence, names)
    result["ten_shot"] = {
        "confidence_floor_from_val": round(floor, 4),
        **report(np.where(out.confidence < floor, "oos", names), test),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", default="", help="packaged GGUF for the cascade's LLM tier, e.g. qwen2.5-coder-1.5b")
    parser.add_argument("--sample", type=int, default=150, help="items per dataset sent through the cascade")
    parser.add_argument("--only", default="app_reviews,amazon,clinc150")
    parser.add_argument(
        "--llm-url",
        default="",
        help="use this endpoint instead of starting one (a dead URL replays only cached answers)",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    examples = Settings().label_llm_examples  # answers are cached per lake: one lake per example count
    settings = Settings(
        lake_uri=str(OUT / f"lake-examples{examples}"),
        llm_endpoint_kind="llama_cpp",
        llm_model=args.llm or "none",
        llm_server_model=args.llm or "smollm2-135m",
        llm_server_port=8781,
        llm_max_in_flight=2,
        llm_timeout_seconds=600,
        llm_max_tokens=400,
        llm_max_attempts=2,
        label_batch_size=1,  # every answer is cached as it arrives: an interrupted run resumes for free
    )
    only = set(args.only.split(","))
    results: dict[str, Any] = {
        "settings": {
            k: getattr(settings, k)
            for k in (
                "label_local_accept_threshold",
                "label_llm_accept_threshold",
                "label_conflict_threshold",
                "llm_max_in_flight",
            )
        }
    }
    server = llm_server(settings).start() if args.llm and not args.llm_url else None
    benches = {"app_reviews": app_reviews_bench, "amazon": amazon_bench}
    try:
        url = args.llm_url or (server.base_url if server else None)
        for name in [n for n in args.only.split(",") if n in benches]:
            results[name] = benches[name](settings, args, url)
            print(json.dumps({name: results[name]}, indent=1), flush=True)
    finally:
        if server:
            server.stop()
    if "clinc150" in only:
        results["clinc150"] = clinc_bench(settings)
        print(json.dumps({"clinc150": results["clinc150"]}, indent=1), flush=True)
    (OUT / f"label_quality{'_' + args.llm if args.llm else ''}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
