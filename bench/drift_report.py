"""How long one drift report takes, against the bare statistics it is built on.

Evidently (DataDriftPreset over 8 columns + offline text descriptors + EmbeddingsDrift, HTML and JSON
rendered) versus the raw library baseline: scipy chi-square / K-S per column and the same domain
classifier ROC AUC on the vectors, with no descriptors, no t-SNE plot and no HTML.

    .venv/bin/python -m bench.drift_report --rows 300 1500 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from feedbackloop.drift.config import ReportConfig
from feedbackloop.drift.report import compute_report
from tests.drift_data import ANCHOR, BILLING_STORM, CALM, make_docs

CATEGORICAL = ["category", "sentiment_label", "severity"]
NUMERICAL = ["sentiment_score", "confidence", "rating"]


def frames(rows: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    reference = make_docs("ref", rows, ANCHOR - timedelta(days=7), 28, CALM, seed=1)
    current = make_docs("cur", rows, ANCHOR, 7, BILLING_STORM, seed=2, center=0.3)
    ref, cur = pd.DataFrame(reference), pd.DataFrame(current)
    return ref.drop(columns="vector"), cur.drop(columns="vector"), np.vstack(ref["vector"]), np.vstack(cur["vector"])


def evidently_report(ref: pd.DataFrame, cur: pd.DataFrame, ref_v: np.ndarray, cur_v: np.ndarray) -> float:
    result = compute_report(ref, cur, ReportConfig(), ref_v, cur_v)
    with tempfile.TemporaryDirectory() as tmp:
        result.snapshot.save_html(str(Path(tmp) / "r.html"))
        result.snapshot.dict()
    return float(result.embedding_score or 0.0)


def raw_statistics(ref: pd.DataFrame, cur: pd.DataFrame, ref_v: np.ndarray, cur_v: np.ndarray) -> float:
    from scipy.stats import chi2_contingency, ks_2samp
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        for column in CATEGORICAL:
            table = pd.crosstab(pd.concat([ref[column], cur[column]]), np.r_[np.zeros(len(ref)), np.ones(len(cur))])
            chi2_contingency(table)
        for column in NUMERICAL:
            ks_2samp(ref[column], cur[column])
        x = np.vstack([ref_v, cur_v])
        y = np.r_[np.ones(len(ref_v)), np.zeros(len(cur_v))]
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=42, shuffle=True)
        model = SGDClassifier(loss="log_loss", random_state=42).fit(x_train, y_train)
        return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))


def timed(fn, *args) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[300, 1500], help="rows per window")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    evidently_report(*frames(50))  # imports and first-call set-up are not part of a report
    print(
        "| rows per window | Evidently report (median s) | raw scipy/sklearn (median s) | ratio | AUC evidently / raw |"
    )
    print("|---|---|---|---|---|")
    for rows in args.rows:
        data = frames(rows)
        ev = [timed(evidently_report, *data) for _ in range(args.repeats)]
        raw = [timed(raw_statistics, *data) for _ in range(args.repeats)]
        ev_s, raw_s = statistics.median(t for t, _ in ev), statistics.median(t for t, _ in raw)
        print(f"| {rows:,} | {ev_s:.2f} | {raw_s:.3f} | x{ev_s / raw_s:.0f} | {ev[0][1]:.3f} / {raw[0][1]:.3f} |")


if __name__ == "__main__":
    main()
