"""Deterministic demo data: source export files with planted incidents, written into an ingest inbox.

``write_demo_inbox(DemoConfig(), Path("lake/inbox"))`` writes weekly App Store and Google Play review
reports, Zendesk ticket exports and app telemetry in exactly the formats ``feedbackloop.ingest`` reads,
and returns a manifest (also saved as ``<inbox>/../demo_manifest.json``) listing the planted incidents
later stages must find. The same config always produces byte-identical files: all randomness comes from
seeded ``random.Random`` streams and nothing reads the clock. ``docs/demo-scenario.md`` tells the story.

The world is simulated hour by hour. Each hour makes background sessions, reviews and tickets, adds the
complaints of any active incident (each preceded by the customer's failing session), sorts the hour's
records by time and streams them to the weekly files, so memory stays flat at any scale.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from feedbackloop.demo.manifest import Evidence, counterfactual_window, dirt_section, incident_entry
from feedbackloop.demo.records import TEXT_DIRT, Hour, Item, Planted, RecordMaker, Weighted
from feedbackloop.demo.sinks import TelemetrySink, WeeklySink, ZendeskSink, app_store_sink, google_play_sink
from feedbackloop.demo.text import DEFAULT_DATASETS_DIR, TextMaker, load_corpora
from feedbackloop.demo.world import (
    HOUR_SHARE,
    MS_DAY,
    MS_HOUR,
    MS_MINUTE,
    REVIEW_WEEKDAY,
    Incident,
    Stream,
    iso_ms,
    plan_world,
    version_shares,
)

EVENTS_PER_SESSION = 2.95  # mean telemetry rows of a background session: turns rows into sessions


@dataclass
class DemoConfig:
    seed: int = 7
    days: int = 60
    end_date: date = date(2026, 11, 20)
    reviews_per_day: int = 120  # the scale knob; tickets and telemetry follow through the two ratios below
    scenario: str = "incidents"  # "incidents" (planted incidents) or "control" (same volume, no incident)
    tickets_per_review: float = 1 / 3
    telemetry_per_review: float = 20.0
    datasets_dir: Path | None = None  # None: ../shared/datasets beside the repository; missing means templates only
    real_text_share: float = 0.35  # share of English background reviews and tickets that reuse real text

    @classmethod
    def from_settings(cls, settings: Any) -> DemoConfig:
        return cls(
            seed=settings.demo_seed,
            days=settings.demo_days,
            end_date=date.fromisoformat(settings.demo_end_date),
            reviews_per_day=settings.demo_reviews_per_day,
            datasets_dir=settings.datasets_dir,
        )


def write_demo_inbox(config: DemoConfig, inbox: Path) -> dict[str, Any]:
    """Write the demo export files into ``inbox``; return the manifest, also saved next to the inbox."""
    if config.scenario not in {"incidents", "control"}:
        raise ValueError(f"unknown scenario {config.scenario!r}; use 'incidents' or 'control'")
    inbox = Path(inbox)
    manifest_path = inbox.parent / "demo_manifest.json"
    _remove_previous_files(manifest_path, inbox)
    manifest = _Generator(config, inbox).run()
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def _remove_previous_files(manifest_path: Path, inbox: Path) -> None:
    # A regenerated demo must not mix with a stale one, but only files an earlier run listed are removed:
    # anything else in the inbox belongs to someone else.
    try:
        previous = json.loads(manifest_path.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError):
        return
    root = inbox.resolve()
    for rel in previous:
        path = (inbox / rel).resolve()
        if root in path.parents and path.is_file():
            path.unlink()


class _Generator:
    def __init__(self, config: DemoConfig, inbox: Path) -> None:
        self.config = config
        self.inbox = inbox
        self.world = plan_world(config.seed, config.days, config.end_date, config.reviews_per_day)
        self.incidents = self.world.incidents if config.scenario == "incidents" else []
        self.bg = random.Random(f"{config.seed}:background")
        # Incidents draw from their own stream, so the background is identical in both scenarios.
        self.inc_rng = random.Random(f"{config.seed}:incidents")
        self.corpora = load_corpora(Path(config.datasets_dir or DEFAULT_DATASETS_DIR))
        self.evidence = {inc.id: Evidence(inc, self.world.window_start_ms) for inc in self.incidents}
        text = TextMaker(self.corpora, config.real_text_share)
        self.records = RecordMaker(self.world, self.incidents, text, self.evidence, self.inc_rng)
        self.pending: list[tuple[int, int, str, Planted]] = []  # complaints written some time after their session
        self.share_at_fix: dict[str, float] = {}
        self.deploys = sorted(
            (d for ds in self.world.deploys.values() for d in ds
             if self.world.window_start_ms <= d.at_ms < self.world.window_end_ms),
            key=lambda d: (d.at_ms, d.product, d.platform),
        )  # fmt: skip
        self._plan_dirt(random.Random(f"{config.seed}:dirt"))

    def _plan_dirt(self, rng: random.Random) -> None:
        """Choose which rows and week boundaries carry file-level dirt (see the manifest's dirt section)."""
        cfg = self.config
        weeks = sorted({_week(self.world.start_day + timedelta(days=i)) for i in range(cfg.days)})

        def overlaps() -> set[str]:
            return set(rng.sample(weeks[1:], min(2, len(weeks) - 1)))

        inbox = self.inbox
        self.sinks: dict[str, WeeklySink] = {
            "app_store/com.acme.shop": app_store_sink(inbox, "com.acme.shop", overlaps()),
            "app_store/com.acme.bank": app_store_sink(inbox, "com.acme.bank", overlaps()),
            "google_play/com.acme.shop": google_play_sink(inbox, "com.acme.shop", overlaps()),
            "google_play/com.acme.bank": google_play_sink(inbox, "com.acme.bank", overlaps()),
            "zendesk": ZendeskSink(inbox, "zendesk", "tickets", overlaps()),
            "telemetry": TelemetrySink(inbox, "telemetry", "events", overlaps()),
        }
        self.sinks["telemetry"].truncate_week = weeks[len(weeks) // 2]
        reviews = cfg.reviews_per_day * cfg.days
        expected = {
            "app_store": reviews * 0.48,
            "google_play": reviews * 0.52,
            "zendesk": reviews * cfg.tickets_per_review,
            "telemetry": reviews * cfg.telemetry_per_review,
        }

        def rows(source: str, n: int) -> set[int]:
            # Ordinals within the first 70% of the expected rows, so every planned row is surely written.
            hi = max(10, int(expected[source] * 0.7))
            return set(rng.sample(range(5, hi), min(n, hi - 5)))

        self.bad_rows = {
            "app_store": ("app_store_missing_id", rows("app_store", max(2, int(expected["app_store"] / 4000)))),
            "google_play": ("google_play_unparseable_timestamp", rows("google_play", 1)),
            "zendesk": ("zendesk_missing_ticket_id", rows("zendesk", 1)),
            "telemetry": ("telemetry_missing_event_id", rows("telemetry", max(2, int(expected["telemetry"] / 40000)))),
        }
        self.bad_counts = {kind: 0 for kind, _ in self.bad_rows.values()}
        self.ordinal = dict.fromkeys(self.bad_rows, 0)

    # -- the hour loop --------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        cfg, world, bg, rec = self.config, self.world, self.bg, self.records
        sessions_per_day = cfg.reviews_per_day * cfg.telemetry_per_review / EVENTS_PER_SESSION
        next_deploy = 0
        for day_index in range(cfg.days):
            day = world.start_day + timedelta(days=day_index)
            weekday, growth = day.weekday(), 1 + 0.003 * day_index
            # Day-to-day wobble per stream, so no two Tuesdays look alike.
            noise = {s.key: [math.exp(bg.gauss(0, 0.08)) * growth for _ in range(3)] for s in world.streams}
            for hour in range(24):
                h = self._hour(day, hour)
                items: list[Item] = []
                end = h.start_ms + MS_HOUR
                while next_deploy < len(self.deploys) and self.deploys[next_deploy].at_ms < end:
                    d = self.deploys[next_deploy]
                    rec.deploy(items, h, d.at_ms, d.product, d.app_version, d.platform, d.deploy_sha)
                    next_deploy += 1
                for stream in world.streams:
                    n_sessions, n_reviews, n_tickets = noise[stream.key]
                    weight = stream.session_share * stream.product.session_weekday[weekday] * HOUR_SHARE[hour]
                    for _ in range(_round(bg, sessions_per_day * weight * n_sessions)):
                        rec.session(bg, items, h, stream, h.start_ms + int(bg.random() * MS_HOUR))
                    for _ in range(_round(bg, self._review_rate(stream, weekday, hour) * n_reviews)):
                        rec.review(bg, items, h, stream, h.start_ms + int(bg.random() * MS_HOUR))
                    for _ in range(_round(bg, self._ticket_rate(stream, weekday, hour) * n_tickets)):
                        rec.ticket(bg, items, h, stream, h.start_ms + int(bg.random() * MS_HOUR))
                for inc in self.incidents:
                    self._plant(inc, items, h, weekday, hour)
                while self.pending and self.pending[0][0] < end:
                    at, _, channel, planted = heapq.heappop(self.pending)
                    make = rec.review if channel == "review" else rec.ticket
                    make(self.inc_rng, items, h, planted.incident.stream, at, planted)
                items.sort()
                self._write(h, items)
        for sink in self.sinks.values():
            sink.close()
        return self._manifest()

    def _hour(self, day: date, hour: int) -> Hour:
        start = self.world.window_start_ms + (day - self.world.start_day).days * MS_DAY + hour * MS_HOUR
        offset = _pacific_offset(datetime.fromtimestamp(start / 1000, UTC))
        local = datetime.fromtimestamp(start / 1000 + offset * 3600, UTC)
        h = Hour(
            start, _week(day), f"{day.isoformat()}T{hour:02d}:", local.strftime("%Y-%m-%dT%H:"), f"{offset:03d}:00"
        )
        for stream in self.world.streams:
            shares = version_shares(self.world.deploys[stream.key], start + MS_HOUR // 2, stream.adoption_days)
            h.versions[stream.key] = Weighted(shares or [("1.0.0", 1.0)])
        return h

    def _review_rate(self, stream: Stream, weekday: int, hour: int) -> float:
        return self.config.reviews_per_day * stream.review_share * REVIEW_WEEKDAY[weekday] * HOUR_SHARE[hour]

    def _ticket_rate(self, stream: Stream, weekday: int, hour: int) -> float:
        per_day = self.config.reviews_per_day * self.config.tickets_per_review
        return per_day * stream.ticket_share * stream.product.ticket_weekday[weekday] * HOUR_SHARE[hour]

    # -- incidents ------------------------------------------------------------------------------------

    def _plant(self, inc: Incident, items: list[Item], h: Hour, weekday: int, hour: int) -> None:
        """Schedule this hour's extra complaints; each customer first has a failing session."""
        mid = h.start_ms + MS_HOUR // 2
        stream, rng = inc.stream, self.inc_rng
        affected = 1.0
        if inc.kind == "billing_incident":
            if mid < inc.end_ms:
                versions = h.versions[stream.key]
                affected = sum(
                    (hi - lo) / versions.total
                    for v, lo, hi in zip(versions.values, [0.0, *versions.cum], versions.cum, strict=False)
                    if v == inc.app_version
                )
                self.share_at_fix[inc.id] = affected
            else:  # complaints after the fix come from customers charged twice before it
                affected = self.share_at_fix.get(inc.id, 0.0)
        strength = inc.intensity(mid, affected)
        if strength <= 0:
            return
        for channel, expected in (
            ("review", self._review_rate(stream, weekday, hour) * inc.review_peak * strength),
            ("ticket", self._ticket_rate(stream, weekday, hour) * inc.ticket_peak * strength),
        ):
            for _ in range(_round(rng, expected)):
                user = int(rng.random() * stream.users) * 2 + (stream.platform == "android")
                t = h.start_ms + int(rng.random() * (MS_HOUR - 10 * MS_MINUTE))
                version = inc.app_version if inc.kind == "billing_incident" else h.versions[stream.key](rng)
                assert version is not None
                session = None
                if inc.is_active(t) and rng.random() < (0.75 if channel == "ticket" else 0.5):
                    session = self.records.session(rng, items, h, stream, t, user, version, complaint_of=inc)
                delay = (5 + int(rng.random() * 115)) if channel == "ticket" else (10 + int(rng.random() * 470))
                planted = Planted(inc, user, version, session)
                heapq.heappush(self.pending, (t + delay * MS_MINUTE, self.records.next_seq(), channel, planted))

    # -- writing ---------------------------------------------------------------------------------------

    def _write(self, h: Hour, items: list[Item]) -> None:
        rec = self.records
        for _, _, key, payload in items:
            source = key.split("/", 1)[0]
            self.ordinal[source] += 1
            kind, bad = self.bad_rows[source]
            clean = self.ordinal[source] not in bad
            if not clean:
                self.bad_counts[kind] += 1
                payload = _spoil(kind, payload)
            if source == "zendesk":
                ticket = payload[0]
                if clean:  # the spoiled ticket keeps no id
                    ticket["id"] = next(rec.ticket_ids)
                    ticket["url"] = f"https://acme.zendesk.com/api/v2/tickets/{ticket['id']}.json"
                for comment in ticket["comments"]:
                    comment["id"] = next(rec.comment_ids)
            self.sinks[key].write(h.week, payload, clean)

    def _manifest(self) -> dict[str, Any]:
        cfg, world = self.config, self.world
        totals: dict[str, dict[str, int]] = {}
        duplicates: dict[str, int] = {}
        files: list[str] = []
        for sink in self.sinks.values():
            total = totals.setdefault(sink.source.split("/")[0], {"files": 0, "rows": 0})
            total["files"] += len(sink.files)
            total["rows"] += sink.rows
            source = sink.source.split("/")[0]
            duplicates[source] = duplicates.get(source, 0) + sink.duplicate_rows
            files += [p.relative_to(self.inbox).as_posix() for p in sink.files]
        truncated = sum(s.truncated_lines for s in self.sinks.values() if isinstance(s, TelemetrySink))
        return {
            "generator": "feedbackloop.demo",
            "format_version": 1,
            "config": {
                "seed": cfg.seed,
                "days": cfg.days,
                "end_date": cfg.end_date.isoformat(),
                "reviews_per_day": cfg.reviews_per_day,
                "scenario": cfg.scenario,
                "tickets_per_review": round(cfg.tickets_per_review, 4),
                "telemetry_per_review": cfg.telemetry_per_review,
            },
            "window": {"start": iso_ms(world.window_start_ms), "end": iso_ms(world.window_end_ms)},
            "products": [{"product": s.product.product, "platform": s.platform} for s in world.streams],
            "totals": totals,
            "incidents": [incident_entry(inc, self.evidence[inc.id]) for inc in self.incidents],
            # Where the incidents sit in the other scenario: in control, a detector must stay quiet there.
            "counterfactual_windows": [] if self.incidents else [counterfactual_window(i) for i in world.incidents],
            "deploys": [d.as_dict() for d in self.deploys],
            # Telemetry rows carry no product: the version scheme of each product tells them apart.
            "app_versions": {
                key: [d.app_version for d in deploys if d.at_ms < world.window_end_ms]
                for key, deploys in sorted(world.deploys.items())
            },
            "dirt": dirt_section(self.bad_counts, truncated, duplicates, self.records.text_dirt, TEXT_DIRT),
            "real_text": {"share_of_english_background": cfg.real_text_share, "rows_available": self.corpora.rows},
            "files": sorted(files),
        }


def _round(rng: random.Random, expected: float) -> int:
    # Stochastic rounding: small configs would otherwise round every hour's expectation down to zero.
    whole = int(expected)
    return whole + (rng.random() < expected - whole)


def _spoil(kind: str, payload: Any) -> Any:
    """Turn a good row into the planted bad row of ``kind``."""
    if kind == "app_store_missing_id":
        return ["", *payload[1:]]
    if kind == "google_play_unparseable_timestamp":
        row = list(payload)
        row[5], row[6] = "2026-11-31T25:61:00Z", ""  # no millis to fall back on, and no such day or hour
        return row
    if kind == "telemetry_missing_event_id":
        return ("", *payload[1:])
    return payload  # zendesk_missing_ticket_id: _write leaves the id out


def _week(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _pacific_offset(at: datetime) -> int:
    """App Store Connect reports Pacific time: UTC-7 during US daylight saving time, else UTC-8."""
    march = datetime(at.year, 3, 8, 10, tzinfo=UTC)  # DST starts on the second Sunday of March, 02:00 PST
    march += timedelta(days=(6 - march.weekday()) % 7)
    november = datetime(at.year, 11, 1, 9, tzinfo=UTC)  # and ends on the first Sunday of November, 02:00 PDT
    november += timedelta(days=(6 - november.weekday()) % 7)
    return -7 if march <= at < november else -8
