"""The simulated world behind the demo: products, their users, release schedules and the planted incidents."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

MS_MINUTE = 60_000
MS_HOUR = 60 * MS_MINUTE
MS_DAY = 24 * MS_HOUR
# the slow dashboard deploy is this far (0..1) towards its worst at once: a lost index, not only growth
PERF_STEP = 0.4
# roll-out time constant of the billing incident's release, pushed to everyone at once
BIG_BANG_ADOPTION_DAYS = 0.2
MASK64 = (1 << 64) - 1

# The labelling taxonomy's categories; "praise" is background only (the taxonomy has no happy-customer label).
CATEGORIES = (
    "billing",
    "login",
    "performance",
    "ux",
    "feature_request",
    "bug",
    "onboarding",
    "trust",
    "account_management",
)

# Star weights (1..5) per category: complaints are J-shaped towards 1, praise towards 5.
RATING_WEIGHTS: dict[str, tuple[float, ...]] = {
    "praise": (0.0, 0.0, 0.02, 0.24, 0.74),
    "feature_request": (0.03, 0.07, 0.25, 0.40, 0.25),
    "ux": (0.15, 0.30, 0.35, 0.15, 0.05),
    "bug": (0.45, 0.30, 0.17, 0.06, 0.02),
    "performance": (0.45, 0.33, 0.15, 0.05, 0.02),
    "billing": (0.70, 0.20, 0.07, 0.02, 0.01),
    "login": (0.62, 0.25, 0.09, 0.03, 0.01),
    "onboarding": (0.30, 0.30, 0.25, 0.10, 0.05),
    "trust": (0.60, 0.25, 0.10, 0.04, 0.01),
    "account_management": (0.50, 0.28, 0.15, 0.05, 0.02),
    "incident": (0.82, 0.13, 0.04, 0.01, 0.0),
}

# Where a complaint of each category lands in the product (Zendesk product_area field).
AREAS: dict[str, tuple[str, ...]] = {
    "billing": ("billing", "checkout"),
    "login": ("login",),
    "performance": ("performance",),
    "ux": ("search", "notifications", "onboarding", "account"),
    "feature_request": ("search", "notifications", "account", "checkout"),
    "bug": ("search", "notifications", "checkout", "account", "performance"),
    "onboarding": ("onboarding",),
    "trust": ("account",),
    "account_management": ("account",),
    "praise": ("account",),
}


@dataclass(frozen=True)
class Product:
    product: str  # id as the sources name it (Play package name, Zendesk product field)
    name: str  # display name used in text
    kind: str  # selects phrase banks: shop, bank, dashboard
    code: int  # leading digit of user ids, so ids never collide across products
    review_mix: tuple[tuple[str, float], ...]
    ticket_mix: tuple[tuple[str, float], ...]
    ticket_weekday: tuple[float, ...]  # Monday..Sunday multipliers
    session_weekday: tuple[float, ...]
    has_checkout: bool


@dataclass(frozen=True)
class Stream:
    """One product on one platform: the unit that ships versions and emits telemetry."""

    product: Product
    platform: str
    review_share: float
    ticket_share: float
    session_share: float
    adoption_days: float  # time constant of a release roll-out; 0 for web (everyone gets the deploy)
    latency_median_ms: float
    crash_rate: float
    users: int = 0  # set from the scale knob

    @property
    def key(self) -> str:
        return f"{self.product.product}/{self.platform}"


def _mix(*percent: float) -> tuple[tuple[str, float], ...]:
    return tuple(zip(("praise", *CATEGORIES), percent, strict=True))


_CONSUMER_TICKETS = (1.08, 1.06, 1.04, 1.02, 0.98, 0.84, 0.78)
# Background mix of feedback categories, in percent, columns in the order of _mix:
#        praise billing login perf  ux  feature bug onboarding trust account
SHOP = Product(
    product="com.acme.shop",
    name="Acme Shop",
    kind="shop",
    code=1,
    review_mix=_mix(54, 5, 3, 5, 8, 8, 9, 2, 3, 3),
    ticket_mix=_mix(2, 26, 10, 6, 8, 6, 20, 4, 5, 13),
    ticket_weekday=_CONSUMER_TICKETS,
    session_weekday=(0.92, 0.90, 0.93, 0.97, 1.04, 1.14, 1.10),
    has_checkout=True,
)
BANK = Product(
    product="com.acme.bank",
    name="Acme Bank",
    kind="bank",
    code=2,
    review_mix=_mix(50, 6, 7, 4, 8, 8, 8, 4, 3, 2),
    ticket_mix=_mix(1, 22, 18, 5, 6, 5, 16, 8, 7, 12),
    ticket_weekday=_CONSUMER_TICKETS,
    session_weekday=(1.08, 1.02, 1.0, 1.0, 1.06, 0.94, 0.90),
    has_checkout=True,
)
DASHBOARD = Product(
    product="com.acme.dashboard",
    name="Acme Dashboard",
    kind="dashboard",
    code=3,
    review_mix=_mix(100, 0, 0, 0, 0, 0, 0, 0, 0, 0),  # a web app has no store reviews
    ticket_mix=_mix(2, 10, 12, 8, 10, 16, 22, 6, 2, 12),
    ticket_weekday=(1.30, 1.28, 1.25, 1.22, 1.10, 0.45, 0.40),  # a B2B tool: quiet weekends
    session_weekday=(1.32, 1.30, 1.28, 1.25, 1.10, 0.40, 0.35),
    has_checkout=False,
)
PRODUCTS = (SHOP, BANK, DASHBOARD)

# Shares of the volume knob per stream, how fast a release reaches its users, and app health.
#       product  platform  reviews tickets sessions adoption_days latency_median_ms crash_rate
STREAMS = (
    Stream(SHOP, "ios", 0.27, 0.15, 0.22, 1.2, 260.0, 0.004),
    Stream(SHOP, "android", 0.33, 0.19, 0.26, 2.0, 310.0, 0.007),  # staged roll-outs adopt slower
    Stream(BANK, "ios", 0.21, 0.14, 0.18, 1.2, 240.0, 0.003),
    Stream(BANK, "android", 0.19, 0.12, 0.16, 2.0, 290.0, 0.006),
    Stream(DASHBOARD, "web", 0.0, 0.40, 0.18, 0.0, 420.0, 0.002),
)

REVIEW_WEEKDAY = (0.95, 0.94, 0.96, 0.97, 1.02, 1.08, 1.08)
# UTC hour weights: Europe's afternoon overlaps the Americas' morning, Asia fills the night.
_MORNING = (2.0, 1.6, 1.3, 1.1, 1.1, 1.3, 1.8, 2.6, 3.4, 4.0, 4.3, 4.5)  # 00-11 UTC
_EVENING = (4.6, 4.8, 5.2, 5.6, 5.8, 5.7, 5.4, 5.0, 4.5, 3.9, 3.2, 2.5)  # 12-23 UTC
HOURLY = (*_MORNING, *_EVENING)
HOUR_SHARE = tuple(w / sum(HOURLY) for w in HOURLY)


@dataclass(frozen=True)
class Locale:
    tag: str
    weight: int
    territory: str  # App Store storefront, ISO 3166 alpha-3
    lang: str
    currency: str


LOCALES = (
    Locale("en-US", 30, "USA", "en", "USD"),
    Locale("en-GB", 11, "GBR", "en", "GBP"),
    Locale("en-CA", 4, "CAN", "en", "CAD"),
    Locale("en-AU", 3, "AUS", "en", "AUD"),
    Locale("de-DE", 13, "DEU", "de", "EUR"),
    Locale("fr-FR", 9, "FRA", "fr", "EUR"),
    Locale("es-ES", 7, "ESP", "es", "EUR"),
    Locale("es-MX", 4, "MEX", "es", "MXN"),
    Locale("pt-BR", 10, "BRA", "pt", "BRL"),
    Locale("ja-JP", 6, "JPN", "ja", "JPY"),
)
# 1000 slots in proportion to the weights: a user's number picks a slot, so a user keeps one locale.
LOCALE_TABLE = tuple(loc for loc in LOCALES for _ in range(loc.weight * 1000 // sum(x.weight for x in LOCALES)))


def user_locale(n: int) -> Locale:
    return LOCALE_TABLE[(n * 40503) % len(LOCALE_TABLE)]


def money(amount: float, currency: str) -> str:
    if currency == "JPY":
        return f"¥{round(amount * 150):,}"
    if currency in {"EUR"}:
        return f"{amount:.2f} €".replace(".", ",")
    if currency == "BRL":
        return f"R$ {amount * 5:.2f}".replace(".", ",")
    symbol = {"USD": "$", "GBP": "£", "CAD": "CA$", "AUD": "A$", "MXN": "MX$"}[currency]
    return f"{symbol}{amount * (17 if currency == 'MXN' else 1):.2f}"


IOS_DEVICES = (
    "iPhone 15",
    "iPhone 15 Pro",
    "iPhone 14",
    "iPhone 13",
    "iPhone 13 mini",
    "iPhone SE",
    "iPhone 16 Pro",
    "iPhone 12",
    "iPad Air",
)
# Play reports name devices by codename; the text names them as people do.
ANDROID_DEVICES = (
    ("shiba", "Pixel 8"),
    ("husky", "Pixel 8 Pro"),
    ("panther", "Pixel 7"),
    ("oriole", "Pixel 6"),
    ("lynx", "Pixel 7a"),
    ("dm1q", "Galaxy S23"),
    ("e3q", "Galaxy S24 Ultra"),
    ("a54x", "Galaxy A54"),
    ("a14", "Galaxy A14"),
    ("OP5958L1", "OnePlus 12"),
    ("sapphire", "Redmi Note 13"),
    ("beyond1", "Galaxy S10"),
)
WEB_DEVICES = ("Chrome on Windows", "Safari on macOS", "Chrome on macOS", "Firefox on Windows", "Edge")


def user_id(product: Product, n: int) -> int:
    # Zendesk requester ids are integers; telemetry carries the same id as a string so the two join.
    return product.code * 10**9 + (n * 2654435761) % 10**9


def ms_of(value: datetime) -> int:
    return int(value.timestamp() * 1000)


_DAY_PREFIX: dict[int, str] = {}


def iso_ms(ms: int, with_millis: bool = False) -> str:
    """ISO-8601 UTC text for epoch milliseconds; strftime per row would dominate at millions of rows."""
    day, rest = divmod(ms, MS_DAY)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = _DAY_PREFIX[day] = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%dT")
    sec = rest // 1000
    text = f"{prefix}{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
    return f"{text}.{rest % 1000:03d}Z" if with_millis else f"{text}Z"


def _midnight(day: date) -> int:
    return ms_of(datetime(day.year, day.month, day.day, tzinfo=UTC))


def _snap(day: date, weekdays: tuple[int, ...], step: int) -> date:
    while day.weekday() not in weekdays:
        day += timedelta(days=step)
    return day


def _release_at(rng: random.Random, day: date) -> int:
    """A mobile release time: Tue-Thu afternoon (UTC), on or before ``day``."""
    return _midnight(_snap(day, (1, 2, 3), -1)) + rng.randrange(14 * 60, 18 * 60) * MS_MINUTE


def new_sha(rng: random.Random) -> str:
    # Real pipelines report short and full SHAs alike; the contract accepts 7..40 hex characters.
    return f"{rng.getrandbits(160):040x}"[: rng.choice((7, 7, 8, 10, 12, 40))]


@dataclass(frozen=True)
class Deploy:
    product: str
    platform: str
    app_version: str
    deploy_sha: str
    at_ms: int
    adoption_days: float | None = None  # this release's roll-out, when not the stream's usual one

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "platform": self.platform,
            "app_version": self.app_version,
            "deploy_sha": self.deploy_sha,
            "deployed_at": iso_ms(self.at_ms),
        }


def mobile_releases(
    rng: random.Random,
    stream: Stream,
    major: int,
    anchor: tuple[int, int],
    first_day: date,
    last_day: date,
    hotfix_ms: int | None = None,
) -> list[Deploy]:
    """Releases every 7-10 days on Tue-Thu afternoons, numbered so the anchor release gets ``major.minor.0``."""
    anchor_ms, anchor_minor = anchor
    anchor_day = datetime.fromtimestamp(anchor_ms / 1000, UTC).date()
    days = [anchor_day]
    while days[0] > first_day:
        days.insert(0, _snap(days[0] - timedelta(days=rng.randint(7, 10)), (1, 2, 3), -1))
    while True:
        nxt = _snap(days[-1] + timedelta(days=rng.randint(7, 10)), (1, 2, 3), 1)
        if nxt > last_day:
            break
        days.append(nxt)
    at = days.index(anchor_day)
    deploys: list[Deploy] = []
    for i, day in enumerate(days):
        minor = anchor_minor + i - at
        when = anchor_ms if i == at else _midnight(day) + rng.randrange(14 * 60, 18 * 60) * MS_MINUTE
        deploys.append(Deploy(stream.product.product, stream.platform, f"{major}.{minor}.0", new_sha(rng), when))
        patch_day = day + timedelta(days=rng.randint(2, 3))
        wants_patch = rng.random() < 0.25 and i != at
        if wants_patch and (i + 1 == len(days) or patch_day < days[i + 1] - timedelta(days=1)):
            when = _midnight(patch_day) + rng.randrange(9 * 60, 17 * 60) * MS_MINUTE
            deploys.append(Deploy(stream.product.product, stream.platform, f"{major}.{minor}.1", new_sha(rng), when))
    if hotfix_ms is not None:
        deploys.append(
            Deploy(stream.product.product, stream.platform, f"{major}.{anchor_minor}.1", new_sha(rng), hotfix_ms)
        )
    last_ms = _midnight(last_day + timedelta(days=1))
    return sorted((d for d in deploys if d.at_ms < last_ms), key=lambda d: d.at_ms)


def web_deploys(
    rng: random.Random, stream: Stream, first_day: date, last_day: date, forced_ms: list[int]
) -> list[Deploy]:
    """Web ships most weekdays; versions are ``yy.isoweek.n``. Forced deploys keep 18h clear around them."""
    times: list[int] = []
    day = first_day
    while day <= last_day:
        if day.weekday() < 5 and rng.random() < 0.55:
            t = _midnight(day) + rng.randrange(9 * 60, 16 * 60) * MS_MINUTE
            if all(abs(t - f) > 18 * MS_HOUR for f in forced_ms):
                times.append(t)
        day += timedelta(days=1)
    deploys: list[Deploy] = []
    per_week: dict[tuple[int, int], int] = {}
    for t in sorted(times + forced_ms):
        iso = datetime.fromtimestamp(t / 1000, UTC).isocalendar()
        n = per_week[(iso.year, iso.week)] = per_week.get((iso.year, iso.week), 0) + 1
        version = f"{iso.year % 100}.{iso.week}.{n}"
        deploys.append(Deploy(stream.product.product, stream.platform, version, new_sha(rng), t))
    return deploys


def version_shares(deploys: list[Deploy], t_ms: int, adoption_days: float) -> list[tuple[str, float]]:
    """Which versions are in use at ``t``: each release takes over exponentially; older ones keep the rest."""
    live = [d for d in deploys if d.at_ms <= t_ms][-4:]
    shares: list[tuple[str, float]] = []
    remaining = 1.0
    for i, deploy in enumerate(reversed(live)):
        tau = deploy.adoption_days if deploy.adoption_days is not None else adoption_days
        if tau <= 0 or i == len(live) - 1:
            taken = remaining
        else:
            taken = remaining * (1 - math.exp(-(t_ms - deploy.at_ms) / (tau * MS_DAY)))
        shares.append((deploy.app_version, taken))
        remaining -= taken
        if remaining <= 1e-9:
            break
    return shares


@dataclass
class Incident:
    """One planted incident and how strongly it shows in complaints and telemetry over time."""

    id: str
    kind: str  # phrase bank key: billing_incident, login_incident, perf_incident
    title: str
    category: str
    stream: Stream
    product_area: str
    app_version: str | None
    deploy_sha: str | None
    onset_ms: int
    end_ms: int
    tail_ms: int  # complaints keep arriving this long after the fix
    review_peak: float  # extra complaints per hour at full intensity, relative to the normal review rate
    ticket_peak: float
    cause: str
    resolution: str
    fixed_by_sha: str | None
    telemetry: list[dict[str, Any]]
    keywords: list[str]
    counts: dict[str, int] = field(default_factory=dict)

    def intensity(self, t_ms: int, affected_share: float) -> float:
        """0..1: how much of the stream is hit at ``t`` (complaints lag the fix by ``tail_ms``)."""
        if t_ms < self.onset_ms or t_ms >= self.end_ms + self.tail_ms:
            return 0.0
        if self.kind == "billing_incident":
            at = affected_share
        elif self.kind == "perf_incident":
            at = self.slowdown(min(t_ms, self.end_ms - 1))  # customers write in as often as it is slow
        else:
            at = 1.0
        if t_ms >= self.end_ms:
            at *= math.exp(-(t_ms - self.end_ms) / (self.tail_ms / 4))
        return at

    def slowdown(self, t_ms: int) -> float:
        """0..1 for the performance incident: a step at the deploy, then a linear creep to 1 at the fix."""
        if not self.is_active(t_ms):
            return 0.0
        progress = (t_ms - self.onset_ms) / (self.end_ms - self.onset_ms)
        return PERF_STEP + (1 - PERF_STEP) * progress

    def is_active(self, t_ms: int) -> bool:
        return self.onset_ms <= t_ms < self.end_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "product": self.stream.product.product,
            "product_area": self.product_area,
            "platform": self.stream.platform,
            "app_version": self.app_version,
            "deploy_sha": self.deploy_sha,
            "onset": iso_ms(self.onset_ms),
            "end": iso_ms(self.end_ms),
            "complaints_until": iso_ms(self.end_ms + self.tail_ms),
            "cause": self.cause,
            "resolution": self.resolution,
            "fixed_by_sha": self.fixed_by_sha,
            "evidence": {
                "telemetry": self.telemetry,
                "complaint_keywords": self.keywords,
                "sources": ["google_play", "zendesk"]
                if self.stream.platform == "android"
                else ["app_store", "zendesk"]
                if self.stream.platform == "ios"
                else ["zendesk"],
                "planted": dict(sorted(self.counts.items())),
            },
        }


@dataclass
class World:
    start_day: date
    end_day: date
    window_start_ms: int
    window_end_ms: int  # exclusive: midnight after the last day
    streams: tuple[Stream, ...]
    deploys: dict[str, list[Deploy]]  # by stream key, sorted by time
    incidents: list[Incident]


def plan_world(seed: int, days: int, end_day: date, reviews_per_day: int) -> World:
    """Release schedules and incident timings; identical for both scenarios so control is a true counterfactual."""
    if days < 14:
        raise ValueError("the demo needs at least 14 days to leave a baseline before each incident")
    rng = random.Random(f"{seed}:world")
    start_day = end_day - timedelta(days=days - 1)
    users = max(2_000, reviews_per_day * 60)
    streams = tuple(
        Stream(
            s.product,
            s.platform,
            s.review_share,
            s.ticket_share,
            s.session_share,
            s.adoption_days,
            s.latency_median_ms,
            s.crash_rate,
            users=users,
        )
        for s in STREAMS
    )
    by_key = {s.key: s for s in streams}
    history_from = start_day - timedelta(days=40)  # releases before the window decide the versions in use

    # (1) billing: Android 5.4.0 double-submits payments; hotfix 5.4.1 about five days later.
    billing_day = _snap(start_day + timedelta(days=int(days * 0.42)), (1, 2, 3), 1)
    # shipped in the European morning, like the team's other releases watched from the office
    billing_onset = _midnight(billing_day) + rng.randrange(8 * 60, 10 * 60 + 30) * MS_MINUTE
    billing_end = billing_onset + 5 * MS_DAY + rng.randrange(-6 * 60, 6 * 60) * MS_MINUTE
    # (2) login: an expired certificate on the iOS auth gateway; no deploy involved.
    login_day = start_day + timedelta(days=int(days * 0.8))
    login_onset = _midnight(login_day) + rng.randrange(6 * 60, 9 * 60) * MS_MINUTE
    login_end = login_onset + rng.randrange(8 * 60, 16 * 60) * MS_MINUTE
    # (3) performance: a dashboard deploy whose report query slows down as its cache table grows.
    # a week in, so the latency it adds is measured against a week of normal days
    perf_day = _snap(start_day + timedelta(days=max(7, int(days * 0.25))), (0, 1, 2, 3), 1)
    perf_onset = _midnight(perf_day) + rng.randrange(9 * 60, 12 * 60) * MS_MINUTE
    perf_fix_day = _snap(perf_day + timedelta(days=min(12, max(3, round(days * 0.2)))), (0, 1, 2, 3), 1)
    perf_end = _midnight(perf_fix_day) + rng.randrange(10 * 60, 16 * 60) * MS_MINUTE

    deploys = {
        "com.acme.shop/android": mobile_releases(
            rng, by_key["com.acme.shop/android"], 5, (billing_onset, 4), history_from, end_day, billing_end
        ),
        "com.acme.shop/ios": mobile_releases(
            rng,
            by_key["com.acme.shop/ios"],
            5,
            (_release_at(rng, billing_day - timedelta(days=2)), 4),
            history_from,
            end_day,
        ),
        # The last bank iOS release is days before the login outage, so a detector must not blame a deploy.
        "com.acme.bank/ios": mobile_releases(
            rng,
            by_key["com.acme.bank/ios"],
            8,
            (_release_at(rng, login_day - timedelta(days=4)), 12),
            history_from,
            end_day,
        ),
        "com.acme.bank/android": mobile_releases(
            rng,
            by_key["com.acme.bank/android"],
            8,
            (_release_at(rng, start_day + timedelta(days=5)), 12),
            history_from,
            end_day,
        ),
        "com.acme.dashboard/web": web_deploys(
            rng, by_key["com.acme.dashboard/web"], history_from, end_day, [perf_onset, perf_end]
        ),
    }

    # 5.4.0 went to 100% of Android users at once, without the usual staged roll-out: most devices
    # auto-update within hours, so the double charge hits checkout the evening it ships.
    deploys["com.acme.shop/android"] = [
        replace(d, adoption_days=BIG_BANG_ADOPTION_DAYS) if d.at_ms == billing_onset else d
        for d in deploys["com.acme.shop/android"]
    ]

    def deploy_at(key: str, t: int) -> Deploy:
        return next(d for d in deploys[key] if d.at_ms == t)

    shop_android, dash = (
        deploy_at("com.acme.shop/android", billing_onset),
        deploy_at("com.acme.dashboard/web", perf_onset),
    )
    incidents = [
        Incident(
            id="inc-billing-android-double-charge",
            kind="billing_incident",
            title=f"Android {shop_android.app_version} charges some checkouts twice",
            category="billing",
            stream=by_key["com.acme.shop/android"],
            product_area="checkout",
            app_version=shop_android.app_version,
            deploy_sha=shop_android.deploy_sha,
            onset_ms=billing_onset,
            end_ms=billing_end,
            tail_ms=36 * MS_HOUR,
            review_peak=0.9,  # charged twice: angry customers write at twice the usual rate
            ticket_peak=1.5,
            cause="the new payments SDK in this release retries a timed-out payment without an idempotency key",
            resolution="hotfix release plus server-side idempotency keys; effect stops at the end timestamp",
            fixed_by_sha=deploy_at("com.acme.shop/android", billing_end).deploy_sha,
            telemetry=[
                {
                    "event_type": "checkout_failed",
                    "platform": "android",
                    "app_version": shop_android.app_version,
                    "expected": "per-session rate jumps by more than an order of magnitude during [onset, end)",
                },
                {
                    "event_type": "api_error",
                    "platform": "android",
                    "app_version": shop_android.app_version,
                    "values": [502, 409],
                    "expected": "payment API errors alongside failed checkouts",
                },
                {"event_type": "deploy", "deploy_sha": shop_android.deploy_sha, "at": iso_ms(billing_onset)},
            ],
            keywords=[
                "charged twice",
                "double charge",
                "two charges",
                "two pending charges",
                "three charges",
                "payment failed",
                "payment error",
                "zweimal",
                "doppelt",
                "deux fois",
                "dos veces",
                "duas vezes",
                "em dobro",
                "二重",
                "二回",
            ],
        ),
        Incident(
            id="inc-login-ios-auth-outage",
            kind="login_incident",
            title="iOS users of Acme Bank cannot log in (expired auth gateway certificate)",
            category="login",
            stream=by_key["com.acme.bank/ios"],
            product_area="login",
            app_version=None,
            deploy_sha=None,
            onset_ms=login_onset,
            end_ms=login_end,
            tail_ms=12 * MS_HOUR,
            review_peak=3.0,
            ticket_peak=6.0,  # a bank outage floods support far more than the store
            cause="the certificate pinned by iOS clients expired on the auth gateway; every app version is hit",
            resolution="certificate rotated on the gateway; no app release, no deploy event",
            fixed_by_sha=None,
            telemetry=[
                {
                    "event_type": "login_failed",
                    "platform": "ios",
                    "app_version": None,
                    "expected": "most iOS bank sessions fail to log in during [onset, end); Android and web unaffected",
                },
                {
                    "event_type": "api_error",
                    "platform": "ios",
                    "values": [503, 401],
                    "expected": "auth API errors on iOS only",
                },
            ],
            keywords=[
                "log in",
                "login",
                "sign in",
                "einloggen",
                "login geht",
                "anmeldung",
                "connecter",
                "connexion",
                "iniciar sesión",
                "entrar",
                "ログイン",
            ],
        ),
        Incident(
            id="inc-performance-dashboard-latency-creep",
            kind="perf_incident",
            title=f"Dashboard {dash.app_version} report queries are slower at once, and slower every day",
            category="performance",
            stream=by_key["com.acme.dashboard/web"],
            product_area="performance",
            app_version=dash.app_version,
            deploy_sha=dash.deploy_sha,
            onset_ms=perf_onset,
            end_ms=perf_end,
            tail_ms=12 * MS_HOUR,
            review_peak=0.0,
            ticket_peak=1.5,
            cause="a report query added in this deploy lost its index and scans a cache table that grows every day",
            resolution="index added and cache pruned in a later deploy; latency drops back at the end timestamp",
            fixed_by_sha=deploy_at("com.acme.dashboard/web", perf_end).deploy_sha,
            telemetry=[
                {
                    "event_type": "latency",
                    "platform": "web",
                    "expected": "median latency: ~1.6x at the deploy, creeping to ~2.5x by the end, then back",
                },
                {
                    "event_type": "api_error",
                    "platform": "web",
                    "values": [504],
                    "expected": "gateway timeouts grow with the latency",
                },
                {"event_type": "deploy", "deploy_sha": dash.deploy_sha, "at": iso_ms(perf_onset)},
            ],
            keywords=["slow", "forever", "time out", "timeout", "30+ seconds", "take minutes", "langsam"],
        ),
    ]
    window_start, window_end = _midnight(start_day), _midnight(end_day + timedelta(days=1))
    for inc in incidents:
        if not window_start < inc.onset_ms < inc.end_ms < window_end:
            raise ValueError(f"incident {inc.id} does not fit the {days}-day window")
    return World(start_day, end_day, window_start, window_end, streams, deploys, incidents)
