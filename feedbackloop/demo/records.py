"""Single records of the demo world: one app session's telemetry, one store review, one support ticket.

Every record is appended to the current hour's item list as ``(time_ms, tie_break, sink_key, payload)``;
the generator sorts an hour's items and streams them to the weekly files.
"""

from __future__ import annotations

import base64
import math
import random
from bisect import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from feedbackloop.demo.manifest import Evidence
from feedbackloop.demo.phrases import DEVELOPER_REPLIES
from feedbackloop.demo.text import Slots, TextMaker, html_body, person_for, pick
from feedbackloop.demo.world import (
    ANDROID_DEVICES,
    AREAS,
    IOS_DEVICES,
    LOCALE_TABLE,
    MASK64,
    MS_DAY,
    MS_HOUR,
    MS_MINUTE,
    RATING_WEIGHTS,
    WEB_DEVICES,
    Incident,
    Stream,
    World,
    iso_ms,
    user_id,
    user_locale,
)
from feedbackloop.ingest.zendesk import DEFAULT_CUSTOM_FIELDS

Item = tuple[int, int, str, Any]  # (event time in ms, tie-break, sink key, payload)

# The demo Zendesk instance uses the custom field ids the adapter reads by default.
CUSTOM_FIELDS = {name: int(field_id) for name, field_id in DEFAULT_CUSTOM_FIELDS.items()}
FIRST_TICKET_ID = 48_213
AGENTS = (
    (9_000_000_001, "Maya Chen", "en-US"),
    (9_000_000_002, "Sam Okafor", "en-GB"),
    (9_000_000_003, "Priya Nair", "en-US"),
    (9_000_000_004, "Tobias Wolf", "de-DE"),
    (9_000_000_005, "Claire Petit", "fr-FR"),
    (9_000_000_006, "Carmen Ruiz", "es-ES"),
    (9_000_000_007, "Rafael Lima", "pt-BR"),
    (9_000_000_008, "Kenji Mori", "ja-JP"),
)
_AGENTS_BY_LANG = {lang: [a for a in AGENTS if a[2][:2] == lang] for lang in ("en", "de", "fr", "es", "pt", "ja")}
# Text-level dirt is ingested as is; later stages clean or redact it.
TEXT_DIRT = {"html_in_ticket_body": 0.008, "email_signature": 0.008, "pii_in_text": 0.008}
# A background ticket about one of these categories sometimes comes with the session that went wrong.
_TICKET_TROUBLE = {"bug": "crash", "login": "login_failed", "billing": "checkout_failed", "performance": "latency"}
_API_ERRORS = (500, 502, 503, 504, 429, 401)


class Weighted:
    """A weighted choice that bisects cumulative weights: far cheaper than ``random.choices`` per call."""

    def __init__(self, pairs: Iterable[tuple[Any, float]]) -> None:
        self.values, weights = zip(*pairs, strict=True)
        self.cum, total = [], 0.0
        for w in weights:
            total += w
            self.cum.append(total)
        self.total = total

    def __call__(self, rng: random.Random) -> Any:
        return self.values[bisect(self.cum, rng.random() * self.total)]


def mix64(n: int) -> int:
    """splitmix64's finaliser: a bijection, so counters become random-looking ids that never collide."""
    z = (n + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def lognormal(rng: random.Random, mu: float, sigma: float) -> float:
    return math.exp(mu + sigma * rng.gauss(0.0, 1.0))


@dataclass
class Hour:
    """What every record made in one hour shares: its week file, time prefixes, and the versions in use."""

    start_ms: int
    week: str
    utc_prefix: str  # "2026-11-03T14:"; records append minutes and seconds
    pacific_prefix: str  # App Store Connect reports Pacific local time with an offset
    pacific_offset: str
    versions: dict[str, Weighted] = field(default_factory=dict)

    def ts(self, at: int, millis: bool = True) -> str:
        off = at - self.start_ms
        if not 0 <= off < MS_HOUR:
            return iso_ms(at, millis)
        if millis:
            return f"{self.utc_prefix}{off // MS_MINUTE:02d}:{off // 1000 % 60:02d}.{off % 1000:03d}Z"
        return f"{self.utc_prefix}{off // MS_MINUTE:02d}:{off // 1000 % 60:02d}Z"


@dataclass(frozen=True)
class Planted:
    """A complaint caused by an incident: who complains, on which version, from which failing session."""

    incident: Incident
    user: int
    version: str
    session: str | None


class RecordMaker:
    def __init__(
        self,
        world: World,
        incidents: list[Incident],
        text: TextMaker,
        evidence: dict[str, Evidence],
        inc_rng: random.Random,
    ) -> None:
        self.world = world
        self.text = text
        self.inc_rng = inc_rng
        self.window_end = world.window_end_ms
        self.seq = count()
        self.session_ids = count(1)
        # Planted sessions count in their own id space, so background ids are the same in both scenarios.
        self.incident_session_ids = count(1 << 48)
        self.untracked_session_ids = count(1 << 49)
        self.event_ids = count(1 << 50)
        self.app_store_ids = count(1)
        self.play_ids = count(1)
        self.ticket_ids = count(FIRST_TICKET_ID)
        self.comment_ids = count(31_000_000_001)
        self.text_dirt = dict.fromkeys(TEXT_DIRT, 0)
        self.incidents_by_stream = {s.key: [i for i in incidents if i.stream.key == s.key] for s in world.streams}
        self.evidence_by_stream = {
            s.key: [e for e in evidence.values() if e.incident.stream.key == s.key] for s in world.streams
        }
        self.review_mix = {p.product: Weighted(p.review_mix) for p in {s.product for s in world.streams}}
        self.ticket_mix = {p.product: Weighted(p.ticket_mix) for p in {s.product for s in world.streams}}
        self.stars = {c: Weighted(zip((1, 2, 3, 4, 5), w, strict=True)) for c, w in RATING_WEIGHTS.items()}
        self.mobile_channels = Weighted((("mobile_sdk", 55), ("email", 30), ("web", 10), ("chat", 5)))
        self.web_channels = Weighted((("web", 45), ("email", 40), ("chat", 15)))
        self.priorities = Weighted((("low", 20), ("normal", 55), ("high", 20), ("urgent", 5)))

    def next_seq(self) -> int:
        return next(self.seq)

    def deploy(self, items: list[Item], h: Hour, at: int, product: str, version: str, platform: str, sha: str) -> None:
        row = (self._event_id(), h.ts(at), None, None, version, platform, "deploy", None, sha, product)
        items.append((at, next(self.seq), "telemetry", row))

    def _event_id(self) -> str:
        return f"{mix64(next(self.event_ids)):016x}"

    # -- telemetry ------------------------------------------------------------------------------------

    def session(
        self,
        rng: random.Random,
        items: list[Item],
        h: Hour,
        stream: Stream,
        t: int,
        user: int | None = None,
        version: str | None = None,
        complaint_of: Incident | None = None,
        trouble: str | None = None,
    ) -> str:
        """One app session's events. Active incidents add failures from their own random stream."""
        r = rng.random
        if user is None:
            user = int(r() * stream.users) * 2 + (stream.platform == "android")
        if version is None:
            version = h.versions[stream.key](rng)
        ids = self.incident_session_ids if rng is self.inc_rng else self.session_ids
        sid = f"{mix64(next(ids)):016x}"
        uid = str(user_id(stream.product, user))
        incidents = [i for i in self.incidents_by_stream[stream.key] if i.is_active(t)]
        slow = 1.0
        for inc in incidents:
            if inc.kind == "perf_incident":
                slow = 1 + 1.5 * inc.slowdown(t)
        median = stream.latency_median_ms * slow
        events: list[tuple[int, str, float | int | None]] = [(t, "session_start", None)]
        for _ in range(1 + (r() < 0.6) + (r() < 0.3)):
            events.append((t + int(r() * 600_000), "latency", round(lognormal(rng, 0.0, 0.55) * median, 1)))
        if r() < 0.02:
            events.append((t + int(r() * 600_000), "api_error", _API_ERRORS[int(r() * len(_API_ERRORS))]))
        if r() < stream.crash_rate:
            events.append((t + 5000 + int(r() * 900_000), "crash", None))
        if stream.product.has_checkout and r() < 0.2 and r() < 0.02:
            events.append((t + 30_000 + int(r() * 600_000), "checkout_failed", round(lognormal(rng, 3.6, 0.6), 2)))
        if r() < 0.015:
            events.append((t + 1000 + int(r() * 60_000), "login_failed", None))
        for inc in incidents:
            events.extend(_incident_events(self.inc_rng, inc, t, version, inc is complaint_of))
        if trouble:
            events.append((t + 30_000 + int(r() * 270_000), trouble, _trouble_value(rng, trouble, stream)))
        platform, seq, end, product = stream.platform, self.seq, self.window_end, stream.product.product
        for at, event_type, value in events:
            if at < end:  # later events happen after the export was taken
                row = (self._event_id(), h.ts(at), uid, sid, version, platform, event_type, value, None, product)
                items.append((at, next(seq), "telemetry", row))
        for evidence in self.evidence_by_stream[stream.key]:
            evidence.observe(t, events)
        return sid

    # -- reviews ---------------------------------------------------------------------------------------

    def review(
        self, rng: random.Random, items: list[Item], h: Hour, stream: Stream, t: int, planted: Planted | None = None
    ) -> None:
        product, r = stream.product, rng.random
        if planted:
            inc, category = planted.incident, planted.incident.kind
            stars, n, version = self.stars["incident"](rng), planted.user, planted.version
            locale = user_locale(n)
            counter = "google_play_reviews" if stream.platform == "android" else "app_store_reviews"
            inc.counts[counter] = inc.counts.get(counter, 0) + 1
        else:
            category = self.review_mix[product.product](rng)
            stars, version = self.stars[category](rng), h.versions[stream.key](rng)
            n = int(r() * stream.users)
            locale = LOCALE_TABLE[int(r() * len(LOCALE_TABLE))]
        if stream.platform == "android":
            codename, device = ANDROID_DEVICES[int(r() * len(ANDROID_DEVICES))]
        else:
            codename, device = "", IOS_DEVICES[int(r() * len(IOS_DEVICES))]
        person = person_for(locale.lang, n)
        slots = Slots(rng, product.kind, person, app=product.name, device=device, version=version)
        slots.update(lang=locale.lang, currency=locale.currency)
        title, body, stars = self.text.review(rng, product.kind, category, locale.lang, stars, slots)
        if r() < TEXT_DIRT["pii_in_text"]:
            body = f"{body} {self.text.pii_sentence(rng, locale.lang, slots)}"
            self.text_dirt["pii_in_text"] += 1
        off = t - h.start_ms
        mmss = f"{off // MS_MINUTE:02d}:{off // 1000 % 60:02d}"
        if stream.platform == "ios":
            rid = str(10**10 + (next(self.app_store_ids) * 2654435761) % 10**10)
            created = f"{h.pacific_prefix}{mmss}{h.pacific_offset}"
            row: list[Any] = [rid, stars, title, body, _nickname(person, rng), created, locale.territory]
            items.append((t, next(self.seq), f"app_store/{product.product}", row))
            return
        reply_text, reply_at, reply_ms = "", "", ""
        if r() < (0.2 if stars <= 2 else 0.06):
            replied = t + 4 * MS_HOUR + int(r() * 56 * MS_HOUR)
            if replied < self.window_end:
                reply_text = _developer_reply(rng, stars, planted.incident.kind if planted else None)
                reply_at, reply_ms = iso_ms(replied), str(replied)
        key = next(self.play_ids)
        raw = (
            mix64(key * 3).to_bytes(8, "big")
            + mix64(key * 3 + 1).to_bytes(8, "big")
            + mix64(key * 3 + 2).to_bytes(8, "big")
        )
        review_id = "gp:AOqpTO" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
        major, minor, patch = (int(x) for x in version.split("."))
        submitted = f"{h.utc_prefix}{mmss}Z"
        link = (
            "https://play.google.com/console/u/0/developers/5012345678901234567/app/"
            f"{4970000000000000000 + product.code}/user-feedback/review-details?reviewId={review_id}"
        )
        row = [
            product.product, str(major * 10000 + minor * 100 + patch), version, locale.tag, codename,
            submitted, str(t), submitted, str(t), stars, title if r() < 0.1 else "", body,
            reply_at, reply_ms, reply_text, link,
        ]  # fmt: skip
        items.append((t, next(self.seq), f"google_play/{product.product}", row))

    # -- tickets ---------------------------------------------------------------------------------------

    def ticket(
        self, rng: random.Random, items: list[Item], h: Hour, stream: Stream, t: int, planted: Planted | None = None
    ) -> None:
        product, r = stream.product, rng.random
        session: str | None = None
        if planted:
            inc = planted.incident
            category, label, area = inc.kind, inc.category, inc.product_area
            n, version, session = planted.user, planted.version, planted.session
            inc.counts["tickets"] = inc.counts.get("tickets", 0) + 1
            linked = inc.counts.get("tickets_linked_to_telemetry", 0) + (session is not None)
            inc.counts["tickets_linked_to_telemetry"] = linked
        else:
            category = label = self.ticket_mix[product.product](rng)
            area = pick(rng, AREAS[category])
            if area == "checkout" and not product.has_checkout:
                area = "billing"
            n = int(r() * stream.users) * 2 + (stream.platform == "android")
            version = h.versions[stream.key](rng)
            trouble = _TICKET_TROUBLE.get(category)
            if trouble and r() < 0.2 and (trouble != "checkout_failed" or product.has_checkout):
                started = max(h.start_ms, t - (5 + int(r() * 35)) * MS_MINUTE)
                session = self.session(rng, items, h, stream, started, user=n, version=version, trouble=trouble)
        locale = user_locale(n)
        lang, uid, person = locale.lang, user_id(product, n), person_for(locale.lang, n)
        device = (
            WEB_DEVICES[n % len(WEB_DEVICES)] if stream.platform == "web"
            else ANDROID_DEVICES[n % len(ANDROID_DEVICES)][1] if stream.platform == "android"
            else IOS_DEVICES[n % len(IOS_DEVICES)]
        )  # fmt: skip
        slots = Slots(rng, product.kind, person, app=product.name, device=device, version=version)
        slots.update(lang=lang, currency=locale.currency)
        subject, body, answer = self.text.ticket(rng, product.kind, category, lang, slots)
        body = self._dirty(rng, lang, body, slots)
        channel = (self.web_channels if stream.platform == "web" else self.mobile_channels)(rng)
        if session is None and channel in {"mobile_sdk", "chat"}:
            # The SDK attaches the session, but telemetry is sampled: most such sessions are not in it.
            session = f"{mix64(next(self.untracked_session_ids)):016x}"
        agents = _AGENTS_BY_LANG.get(lang) or _AGENTS_BY_LANG["en"]
        agent_id, agent_name, agent_locale = agents[int(r() * len(agents))]
        comments = self._comments(rng, t, uid, agent_id, category, lang, person, version, answer, body)
        age_days = (self.window_end - t) / MS_DAY
        has_reply = any(author == agent_id and public for _, author, public, _ in comments)
        status = (
            "new" if not has_reply else "pending" if age_days < 2 else "solved" if age_days < 6
            else pick(rng, ("solved", "closed", "closed"))
        )  # fmt: skip
        platform = stream.platform if channel != "email" or r() > 0.05 else None  # agents forget fields
        fields = {"product": product.product, "product_area": area, "app_version": version, "platform": platform,
                  "session_id": session}  # fmt: skip
        ticket = {
            "id": None,  # numbered when written, so ids grow with time as Zendesk's do
            "url": None,
            "created_at": iso_ms(t),
            "updated_at": iso_ms(comments[-1][0]),
            # Agents mark outage tickets as incidents, but also plenty of others: the type is no giveaway.
            "type": pick(
                rng, ("incident", "incident", "problem") if planted else ("problem", "question", "task", "incident")
            ),
            "subject": subject,
            "description": body,
            "priority": self.priorities(rng),
            "status": status,
            "requester_id": uid,
            "submitter_id": uid,
            "assignee_id": agent_id,
            "organization_id": 7_000_000 + n % 240 if product.kind == "dashboard" else None,
            "via": {"channel": channel},
            "tags": sorted({product.kind, stream.platform, label}),
            "custom_fields": [{"id": CUSTOM_FIELDS[k], "value": v} for k, v in fields.items()],
            "comments": [
                {"id": None, "author_id": author, "public": public, "body": text, "created_at": iso_ms(at)}
                for at, author, public, text in comments
            ],
        }
        users = [
            {"id": uid, "name": f"{person[0]} {person[1]}", "email": slots["email"], "role": "end-user",
             "locale": locale.tag},
            {"id": agent_id, "name": agent_name, "email": f"{agent_name.split()[0].lower()}@acme.example",
             "role": "agent", "locale": agent_locale},
        ]  # fmt: skip
        items.append((t, next(self.seq), "zendesk", (ticket, users)))

    def _dirty(self, rng: random.Random, lang: str, body: str, slots: Slots) -> str:
        if rng.random() < TEXT_DIRT["pii_in_text"]:
            body = f"{body}\n\n{self.text.pii_sentence(rng, lang, slots)}"
            self.text_dirt["pii_in_text"] += 1
        if rng.random() < TEXT_DIRT["email_signature"]:
            body = f"{body}\n\n{self.text.signature(rng, lang, slots)}"
            self.text_dirt["email_signature"] += 1
        if rng.random() < TEXT_DIRT["html_in_ticket_body"]:
            body = html_body(body)
            self.text_dirt["html_in_ticket_body"] += 1
        return body

    def _comments(
        self,
        rng: random.Random,
        t: int,
        uid: int,
        agent_id: int,
        category: str,
        lang: str,
        person: tuple[str, str, int],
        version: str,
        answer: str | None,
        body: str,
    ) -> list[tuple[int, int, bool, str]]:
        """(at, author, public, body): the request, maybe an internal note, the reply, maybe a follow-up."""
        r = rng.random
        comments = [(t, uid, True, body)]
        replied = t + (30 + int(r() * 1170)) * MS_MINUTE
        if r() < 0.3:
            note = self.text.internal_note(rng, category, Slots(rng, "shop", person, version=version))
            comments.append((t + (10 + int(r() * 590)) * MS_MINUTE, agent_id, False, note))
        reply = answer or self.text.agent_reply(rng, lang, category, Slots(rng, "shop", person, name=person[0]))
        comments.append((replied, agent_id, True, reply))
        if r() < 0.2:
            follow_up = pick(rng, ("Thanks, that worked.", "Still not working.", "Any update?"))
            comments.append((replied + (2 + int(r() * 28)) * MS_HOUR, uid, True, follow_up))
        return sorted(c for c in comments if c[0] < self.window_end)


def _incident_events(
    rng: random.Random, inc: Incident, t: int, version: str, complaining: bool
) -> list[tuple[int, str, float | int | None]]:
    """Failures an active incident adds to a session; a complaining customer's session always has them."""
    out: list[tuple[int, str, float | int | None]] = []
    r = rng.random
    if inc.kind == "billing_incident" and version == inc.app_version and (complaining or r() < 0.06):
        at = t + 30_000 + int(r() * 370_000)
        amount = round(lognormal(rng, 3.6, 0.6), 2)
        for attempt in range(1 + (r() < 0.5)):  # customers retry a failed payment
            out.append((at + attempt * 40_000, "checkout_failed", amount))
            if r() < 0.7:
                out.append((at + attempt * 40_000 + 300, "api_error", 502 if r() < 0.75 else 409))
    elif inc.kind == "login_incident" and (complaining or r() < 0.6):
        at = t + 1000 + int(r() * 19_000)
        for attempt in range(1 + int(r() * 3)):
            out.append((at + attempt * 15_000, "login_failed", None))
            if r() < 0.6:
                out.append((at + attempt * 15_000 + 200, "api_error", 503 if r() < 0.7 else 401))
    elif inc.kind == "perf_incident":
        ramp = inc.slowdown(t)
        if complaining:
            for i in range(3):
                out.append((t + 20_000 * (i + 1), "latency", round((4000 + r() * 11000) * (0.1 + ramp), 1)))
        if complaining or r() < 0.05 * ramp:
            out.append((t + 30_000 + int(r() * 270_000), "api_error", 504))
    return out


def _trouble_value(rng: random.Random, event_type: str, stream: Stream) -> float | int | None:
    if event_type == "checkout_failed":
        return round(lognormal(rng, 3.6, 0.6), 2)
    if event_type == "latency":
        return round(stream.latency_median_ms * (6 + rng.random() * 14), 1)
    return None


def _developer_reply(rng: random.Random, stars: int, incident_kind: str | None) -> str:
    if incident_kind == "billing_incident":
        return "We're very sorry. Duplicate charges are refunded automatically; please update the app."
    return DEVELOPER_REPLIES[0] if stars >= 4 else pick(rng, DEVELOPER_REPLIES[1:])


def _nickname(person: tuple[str, str, int], rng: random.Random) -> str:
    first, last, n = person
    style = int(rng.random() * 4)
    if style == 0:
        return f"{first}{n % 100}"
    if style == 1:
        return f"{first} {last[0]}."
    if style == 2:
        return f"{first.lower()}_{last.lower()[:4]}{n % 10}"
    return pick(rng, ("Happy customer", "Anonymous", "Reviewer", "A user")) + f" {n % 1000}"
