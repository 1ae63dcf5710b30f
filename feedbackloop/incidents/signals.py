"""Rule evaluation over rolling windows: one row per (rule, subject) with its numbers.

``Complaints`` holds every negative or high-severity item up to the run's as-of time, sorted by
time. A window is ``[end - window_days, end)``; quorum windows end at ``as_of``, ``as_of - step``,
... . A baseline that reaches back before the monitored history is *missing*: the rule records
its numbers but cannot fire, so a fresh lake or a brand-new category never pages on its first day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from feedbackloop.incidents.rules import Rule

US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000


@dataclass
class Complaints:
    """Column arrays of the monitored items, sorted by ``event_us``; ``vectors`` row-aligned (unit rows)."""

    frame: pd.DataFrame  # doc_id, event_us, category, product, platform, product_area, app_version,
    #                     source_system, cluster_id
    vectors: np.ndarray
    history_start_us: int  # the earliest monitored event: baselines before it do not exist
    # telemetry session_start counts per (platform, app_version, hour_us): release_regression's denominator
    sessions: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.frame)


SESSION_COLUMNS = ["platform", "app_version", "hour_us", "sessions"]
HIT_COLUMNS = [
    "rule_id", "rule_kind", "subject", "subject_json", "window_start_us", "window_end_us",
    "observed", "baseline", "threshold", "volume", "is_above_floor", "has_baseline", "is_significant",
    "windows_met", "sources", "is_quorum_met", "is_fired", "cluster_id",
]  # fmt: skip


def _subject_codes(frame: pd.DataFrame, rule: Rule) -> tuple[np.ndarray, list[dict[str, str]]]:
    cols = rule.subject_columns
    if not cols:
        return np.zeros(len(frame), np.int64), [{}]
    keys = frame[cols].astype("string").fillna("unknown")
    groups = keys.groupby(cols, sort=True)
    codes = groups.ngroup().to_numpy(np.int64)
    subjects = [dict(zip(cols, (k if isinstance(k, tuple) else (k,)), strict=True)) for k in groups.groups]
    return codes, subjects


def _span(t: np.ndarray, lo: int, hi: int) -> slice:
    return slice(int(np.searchsorted(t, lo, "left")), int(np.searchsorted(t, hi, "left")))


def _counts(codes: np.ndarray, s: slice, n: int) -> np.ndarray:
    return np.bincount(codes[s], minlength=n).astype(np.float64)


def _evaluate_window(
    rule: Rule, c: Complaints, codes: np.ndarray, subjects: list[dict[str, str]], end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str | None], np.ndarray]:
    """(observed, baseline, volume, has_baseline, cluster per subject, significant) for the window at ``end``."""
    n = len(subjects)
    t = c.frame["event_us"].to_numpy()
    w = int(rule.window_days * US_PER_DAY)
    cur = _span(t, end - w, end)
    volume = _counts(codes, cur, n)
    clusters: list[str | None] = [None] * n
    if rule.kind == "volume_change":
        # a previous window only partly inside the monitored history is scaled up from the part
        # it covers; under 40% covered there is no baseline
        covered = (end - w) - max(end - 2 * w, c.history_start_us)
        has_base = np.full(n, covered >= 0.4 * w)
        prev = _counts(codes, _span(t, end - 2 * w, end - w), n) * (w / max(covered, 1))
        # no baseline volume (a brand-new category): growth is measured against the floor
        observed = (volume - prev) / np.maximum(prev, rule.min_volume)
        z = (volume - prev) / np.sqrt(np.maximum(volume + prev, 1.0))
        return observed, prev, volume, has_base, clusters, z >= rule.min_z
    if rule.kind == "zscore":
        b = int(rule.baseline_days * US_PER_DAY)
        start = max(end - w - b, c.history_start_us)
        buckets = max(1, int((end - w - start) // w))
        has_base = np.full(n, buckets >= 3)
        per_bucket = np.stack(
            [_counts(codes, _span(t, end - w - (i + 1) * w, end - w - i * w), n) for i in range(buckets)]
        )
        mean, std = per_bucket.mean(axis=0), per_bucket.std(axis=0)
        # counts are Poisson-ish: a quiet baseline's std is floored at sqrt(mean) and at 1
        observed = (volume - mean) / np.maximum(np.maximum(std, np.sqrt(mean)), 1.0)
        return observed, mean, volume, has_base, clusters, np.ones(n, bool)
    if rule.kind == "release_regression":
        observed, baseline, has_base, z = _release_regression(rule, c, subjects, volume, end - w, end)
        return observed, baseline, volume, has_base, clusters, z >= rule.min_z
    if rule.kind == "cluster_share":
        cl = c.frame["cluster_id"].to_numpy()[cur]
        sub = codes[cur]
        observed = np.zeros(n)
        if len(cl):
            pairs = pd.DataFrame({"s": sub, "c": cl}).value_counts().reset_index(name="k")
            top = pairs.sort_values(["s", "k", "c"], ascending=[True, False, True]).drop_duplicates("s")
            for s_code, cid, k in top.itertuples(index=False):
                observed[s_code] = k / volume[s_code]
                clusters[s_code] = cid
        return observed, np.full(n, np.nan), volume, np.ones(n, bool), clusters, np.ones(n, bool)
    # centroid_drift: cosine distance between the window's centroid and the long baseline's, and
    # how unusual that is next to the drift of the baseline's own windows (a small window's centroid
    # always wanders; only wandering beyond what the baseline shows counts)
    b = int(rule.baseline_days * US_PER_DAY)
    base = _span(t, end - w - b, end - w)
    base_volume = _counts(codes, base, n)
    has_base = (base_volume >= rule.min_volume) & (end - w - b // 2 >= c.history_start_us)
    base_sum = _indicator(codes[base], n) @ c.vectors[base]
    observed = _drift(_indicator(codes[cur], n) @ c.vectors[cur], base_sum)
    past = []
    for i in range(1, int(b // w) + 1):
        s = _span(t, end - w - i * w, end - w - (i - 1) * w)
        past.append(
            np.where(
                _counts(codes, s, n) >= rule.min_volume / 2,
                _drift(_indicator(codes[s], n) @ c.vectors[s], base_sum),
                np.nan,
            )
        )
    stack = np.vstack(past) if past else np.full((1, n), np.nan)
    enough = np.sum(~np.isnan(stack), axis=0) >= 2
    filled = np.where(np.isnan(stack), 0.0, stack)
    k = np.maximum(np.sum(~np.isnan(stack), axis=0), 1)
    mean = filled.sum(axis=0) / k
    std = np.sqrt(np.maximum((filled**2).sum(axis=0) / k - mean**2, 0.0))
    # few baseline windows make a shaky std: never less than half the usual drift
    significant = enough & (observed >= mean + rule.min_z * np.maximum(std, 0.5 * mean))
    return observed, base_volume, volume, has_base & enough, clusters, significant


def _release_regression(
    rule: Rule, c: Complaints, subject_keys: list[dict[str, str]], volume: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rate ratio, expected complaints, has_baseline, z) of each version against its siblings.

    Siblings are the other versions of the same product, platform and version major (plus the rule's
    group_by) in the same window. Under "the version is no worse", its share of the pooled complaints is
    binomial with p = its share of the pooled sessions; z is the one-sided binomial tail as a normal
    quantile, so 5 complaints on a version that holds 17% of the sessions against 3 on its siblings are
    significant while the same counts on one holding half are not. Siblings without complaints (a
    brand-new category) count as one.
    """
    from scipy import stats

    subjects = pd.DataFrame(subject_keys, columns=rule.subject_columns).fillna("unknown")
    sessions = c.sessions if c.sessions is not None else pd.DataFrame(columns=SESSION_COLUMNS)
    in_window = sessions[(sessions["hour_us"] >= lo) & (sessions["hour_us"] < hi)]
    per_version = in_window.groupby(["platform", "app_version"])["sessions"].sum()
    pairs = zip(subjects["platform"], subjects["app_version"], strict=True)
    s_v = np.array([float(per_version.get(pair, 0.0)) for pair in pairs])
    major = subjects["app_version"].astype(str).str.split(".").str[0]
    version_major = per_version.reset_index()
    version_major["major"] = version_major["app_version"].astype(str).str.split(".").str[0]
    per_major = version_major.groupby(["platform", "major"])["sessions"].sum()
    s_all = np.array([float(per_major.get((p, m), 0.0)) for p, m in zip(subjects["platform"], major, strict=True)])
    s_o = s_all - s_v
    pool = [*[g for g in rule.group_by if g not in ("platform", "app_version")], "product", "platform"]
    keys = subjects[pool].astype(str).agg("|".join, axis=1) + "|" + major
    known = (subjects["app_version"] != "unknown").to_numpy()
    k_v = volume
    k_all = pd.Series(np.where(known, k_v, 0.0)).groupby(keys.to_numpy()).transform("sum").to_numpy()
    k_o = np.where(known, k_all - k_v, 0.0)
    has_base = known & (s_v >= rule.min_sessions) & (s_o >= rule.min_sessions)
    share = np.where(has_base, s_v / np.maximum(s_all, 1.0), 1.0)
    observed = np.where(has_base, (k_v / np.maximum(s_v, 1.0)) / (np.maximum(k_o, 1.0) / np.maximum(s_o, 1.0)), 0.0)
    total = (k_v + k_o).astype(np.int64)
    tail = stats.binom.sf(k_v.astype(np.int64) - 1, np.maximum(total, 1), np.clip(share, 1e-9, 1.0))
    z = np.where(has_base & (k_v > 0), stats.norm.isf(np.clip(tail, 1e-300, 1.0)), 0.0)
    return observed, np.where(has_base, share * (k_v + k_o), 0.0), has_base, z


def _drift(cur_sum: np.ndarray, base_sum: np.ndarray) -> np.ndarray:
    num = (cur_sum * base_sum).sum(axis=1)
    den = np.linalg.norm(cur_sum, axis=1) * np.linalg.norm(base_sum, axis=1)
    return np.where(den > 0, 1.0 - num / np.maximum(den, 1e-12), 0.0)


def _indicator(codes: np.ndarray, n: int) -> sparse.csr_matrix:
    return sparse.csr_matrix((np.ones(len(codes), np.float32), (codes, np.arange(len(codes)))), shape=(n, len(codes)))


def _sources(rule: Rule, c: Complaints, codes: np.ndarray, n: int, end: int) -> np.ndarray:
    """Distinct source systems with at least two of the subject's items in the latest window."""
    t = c.frame["event_us"].to_numpy()
    cur = _span(t, end - int(rule.window_days * US_PER_DAY), end)
    pairs = pd.DataFrame({"s": codes[cur], "src": c.frame["source_system"].to_numpy()[cur]}).value_counts()
    pairs = pairs[pairs >= 2].reset_index()
    return np.bincount(pairs["s"].to_numpy(np.int64), minlength=n) if len(pairs) else np.zeros(n, np.int64)


def evaluate_rule(rule: Rule, c: Complaints, as_of_us: int) -> pd.DataFrame:
    """One row per subject seen in the rule's reach; empty input gives an empty frame, never an error."""
    if len(c) == 0:
        return pd.DataFrame(columns=HIT_COLUMNS)
    codes, subjects = _subject_codes(c.frame, rule)
    n = len(subjects)
    step = int(rule.quorum.step_hours * US_PER_HOUR)
    met = np.zeros(n, np.int64)
    latest = None
    for k in range(rule.quorum.consecutive_windows):
        end = as_of_us - k * step
        observed, baseline, volume, has_base, clusters, significant = _evaluate_window(rule, c, codes, subjects, end)
        ok = (observed >= rule.threshold) & (volume >= rule.min_volume) & has_base & significant
        met += ok & (met == k)  # counts only an unbroken run of windows back from the latest
        if latest is None:
            latest = (observed, baseline, volume, has_base, clusters, end, significant)
    assert latest is not None
    observed, baseline, volume, has_base, clusters, end, significant = latest
    sources = _sources(rule, c, codes, n, as_of_us)
    above = volume >= rule.min_volume
    quorum = (met >= rule.quorum.consecutive_windows) & (sources >= rule.quorum.min_sources)
    fired = quorum & above & has_base & significant & (observed >= rule.threshold)
    frame = pd.DataFrame(
        {
            "rule_id": rule.id,
            "rule_kind": rule.kind,
            "subject": [",".join(f"{k}={v}" for k, v in s.items()) or "all" for s in subjects],
            "subject_json": [json.dumps(s, sort_keys=True) for s in subjects],
            "window_start_us": end - int(rule.window_days * US_PER_DAY),
            "window_end_us": end,
            "observed": observed.astype(float),
            "baseline": baseline.astype(float),
            "threshold": float(rule.threshold),
            "volume": volume.astype(np.int64),
            "is_above_floor": above,
            "has_baseline": has_base,
            "is_significant": significant,
            "windows_met": met,
            "sources": sources.astype(np.int64),
            "is_quorum_met": quorum,
            "is_fired": fired,
            "cluster_id": clusters,
        }
    )
    # subjects with nothing in the latest window and no baseline say nothing: keep the table readable
    return frame[(frame["volume"] > 0) | (np.nan_to_num(frame["baseline"].to_numpy(float)) > 0)].reset_index(drop=True)


def evaluate_rules(
    rules: list[Rule], c: Complaints, as_of_us: int, telemetry: TelemetryBuckets | None = None
) -> pd.DataFrame:
    frames = []
    for rule in rules:
        if rule.kind != "telemetry_zscore":
            frames.append(evaluate_rule(rule, c, as_of_us))
        elif telemetry is not None:  # no telemetry tables yet: the rule has nothing to say
            frames.append(evaluate_telemetry_rule(rule, telemetry, as_of_us, c.history_start_us))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=HIT_COLUMNS)


class TelemetryBuckets:
    """Telemetry per (platform, version major) and hour, as cumulative sums: any window is two lookups.

    Built once per run from ``feedbackloop.incidents.telemetry.hourly_buckets``. The window's p95
    latency is the sample-weighted mean of its hours' p95s (exact percentiles would need every sample).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        # frame: platform, version_major, hour_us, error_events, p95_latency_ms, latency_n
        keys = frame[["platform", "version_major"]].astype(str)
        groups = keys.groupby(["platform", "version_major"], sort=True)
        self.groups = list(groups.groups)
        self.hours = np.sort(frame["hour_us"].unique()) if len(frame) else np.zeros(0, np.int64)
        g = groups.ngroup().to_numpy() if len(frame) else np.zeros(0, np.int64)
        h = np.searchsorted(self.hours, frame["hour_us"].to_numpy())
        shape = (len(self.groups), len(self.hours) + 1)
        self.cum = {}
        for name, values in (
            ("error_events", frame["error_events"].to_numpy(float)),
            ("latency_n", frame["latency_n"].to_numpy(float)),
            ("weighted", (frame["p95_latency_ms"].fillna(0) * frame["latency_n"]).to_numpy(float)),
        ):
            grid = np.zeros(shape)
            np.add.at(grid, (g, h + 1), values)
            self.cum[name] = np.cumsum(grid, axis=1)

    def window(self, lo: int, hi: int) -> pd.DataFrame:
        a, b = np.searchsorted(self.hours, lo), np.searchsorted(self.hours, hi)
        part = {name: cum[:, b] - cum[:, a] for name, cum in self.cum.items()}
        n = part["latency_n"]
        return pd.DataFrame(
            {
                "platform": [p for p, _ in self.groups],
                "version_major": [v for _, v in self.groups],
                "error_events": part["error_events"],
                "latency_n": n,
                "p95_latency_ms": np.where(n > 0, part["weighted"] / np.maximum(n, 1), np.nan),
            }
        )


def evaluate_telemetry_rule(rule: Rule, tb: TelemetryBuckets, as_of_us: int, history_start_us: int) -> pd.DataFrame:
    """z of the metric in the latest window against the same metric in the baseline's windows."""
    w = int(rule.window_days * US_PER_DAY)
    b = int(rule.baseline_days * US_PER_DAY)
    step = int(rule.quorum.step_hours * US_PER_HOUR)
    rows: dict[tuple[str, str], dict] = {}
    for k in range(rule.quorum.consecutive_windows):
        end = as_of_us - k * step
        cur = tb.window(end - w, end)
        start = max(end - w - b, history_start_us)
        buckets = [
            tb.window(end - w - (i + 1) * w, end - w - i * w) for i in range(max(0, int((end - w - start) // w)))
        ]
        metric = rule.metric or "error_events"
        base = (
            pd.concat([x[(x["error_events"] > 0) | (x["latency_n"] > 0)] for x in buckets])
            if buckets
            else (pd.DataFrame())
        )
        for r in cur[(cur["error_events"] > 0) | (cur["latency_n"] > 0)].itertuples(index=False):
            key = (str(r.platform), str(r.version_major))
            past = (
                base[(base["platform"] == r.platform) & (base["version_major"] == r.version_major)]
                if len(base)
                else base
            )
            values = past[metric].dropna().to_numpy(float) if len(past) else np.zeros(0)
            if metric == "error_events":  # hours with no errors are absent, not missing: pad to all buckets
                values = np.concatenate([values, np.zeros(max(0, len(buckets) - len(values)))])
            mean = float(values.mean()) if len(values) else 0.0
            std = float(values.std()) if len(values) else 0.0
            floor = np.sqrt(mean) if metric == "error_events" else 0.05 * mean
            observed = (getattr(r, metric) - mean) / max(std, floor, 1.0 if metric == "error_events" else 1e-6)
            volume = int(r.error_events if metric == "error_events" else r.latency_n)
            ok = observed >= rule.threshold and volume >= rule.min_volume and len(values) >= 3
            entry = rows.setdefault(key, {"met": 0})
            if k == 0:
                entry.update(
                    observed=float(observed), baseline=mean, volume=volume, has_baseline=len(values) >= 3, end=end
                )
            if ok and entry["met"] == k:
                entry["met"] += 1
    out = [
        {
            "rule_id": rule.id, "rule_kind": rule.kind,
            "subject": f"platform={p},version_major={v}",
            "subject_json": json.dumps({"platform": p, "version_major": v}, sort_keys=True),
            "window_start_us": e["end"] - w, "window_end_us": e["end"],
            "observed": e["observed"], "baseline": e["baseline"], "threshold": float(rule.threshold),
            "volume": e["volume"], "is_above_floor": e["volume"] >= rule.min_volume,
            "has_baseline": e["has_baseline"], "is_significant": True, "windows_met": e["met"], "sources": 1,
            "is_quorum_met": e["met"] >= rule.quorum.consecutive_windows,
            "is_fired": e["met"] >= rule.quorum.consecutive_windows, "cluster_id": None,
        }
        for (p, v), e in sorted(rows.items())
        if "end" in e
    ]  # fmt: skip
    return pd.DataFrame(out, columns=HIT_COLUMNS)
