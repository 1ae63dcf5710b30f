"""Feedback text: real sentences from the shared datasets mixed with templated, product-specific complaints."""

from __future__ import annotations

import csv
import html
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from feedbackloop.demo import phrases as P
from feedbackloop.demo.world import money
from feedbackloop.settings import default_datasets_dir

DEFAULT_DATASETS_DIR = default_datasets_dir()

_MAALEJ_LABELS = {"Bug": "bug", "Feature": "feature_request", "UserExperience": "ux", "Rating": "praise"}
# Dataset queue -> (category, who writes such tickets): IT-flavoured queues only suit the B2B dashboard.
_TICKET_QUEUES = {
    "Billing and Payments": ("billing", ("consumer", "business")),
    "Returns and Exchanges": ("billing", ("consumer",)),
    "Customer Service": ("account_management", ("consumer",)),
    "Technical Support": ("bug", ("business",)),
    "IT Support": ("login", ("business",)),
    "Product Support": ("bug", ("business",)),
    "Service Outages and Maintenance": ("performance", ("business",)),
}
# Snippets about other products (DVD players, cameras) would read oddly inside an app review.
_OFF_TOPIC = re.compile(
    r"dvd|camera|player|ipod|mp3|nomad|zen|canon|nikon|disc|lens|jukebox|apex|creative|nokia|router|norton|"
    r"battery|phone|picture|song|music|cell|sound|\d"
)
_PLACEHOLDER = re.compile(
    r"<(name|nombre|your name|tel_num|support_tel_num|customer_service_tel_num|email|"
    r"email_address|acc_num|order_num|ord_num|order_id|company_name|company|date|"
    r"purchase_date|case_id|serial_num|position)>"
)


@dataclass
class Corpora:
    """Real text, indexed the way the generator asks for it. Empty when the datasets are not there."""

    maalej: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)  # category -> (title, text, stars)
    snippets: dict[str, list[str]] = field(default_factory=dict)  # polarity -> sentences
    tickets: dict[tuple[str, str, str], list[tuple[str, str, str]]] = field(default_factory=dict)  # lang, cat, aud
    rows: dict[str, int] = field(default_factory=dict)  # dataset -> rows used, for the manifest


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=4)
def load_corpora(datasets_dir: Path) -> Corpora:
    """Load what exists; a missing or unreadable dataset just means more templated text."""
    corpora = Corpora()
    try:
        seen: set[str] = set()
        for row in _read_csv(datasets_dir / "app_reviews_maalej" / "app_reviews_maalej.csv"):
            text, category = " ".join(row["comment"].split()), _MAALEJ_LABELS.get(row["label"])
            if category and len(text) > 3 and text not in seen and row["rating"].isdigit():
                seen.add(text)
                stars = int(row["rating"])
                if category == "praise" and stars < 4:
                    continue  # "Rating" reviews below four stars are unlabelled complaints, not praise
                corpora.maalej.setdefault(category, []).append((" ".join(row["title"].split()), text, stars))
        corpora.rows["app_reviews_maalej"] = len(seen)
    except (OSError, KeyError, csv.Error):
        pass
    try:
        used = 0
        for row in _read_csv(datasets_dir / "amazon_review_snippets_vader" / "amazon_review_snippets.csv"):
            text = html.unescape(row["text"].strip())
            wanted = row["polarity_derived"] in {"positive", "negative"} and 15 <= len(text) <= 140
            if wanted and not _OFF_TOPIC.search(text.lower()):
                corpora.snippets.setdefault(row["polarity_derived"], []).append(text[0].upper() + text[1:])
                used += 1
        corpora.rows["amazon_review_snippets_vader"] = used
    except (OSError, KeyError, csv.Error):
        pass
    try:
        used = 0
        path = datasets_dir / "support_tickets_synthetic_tobi_bueck" / "tickets_complete_rows.csv"
        for row in _read_csv(path):
            category, audiences = _TICKET_QUEUES.get(row["queue"], (None, ()))
            if row["queue"] == "Product Support" and row["type"] == "Request":
                category = "feature_request"
            if category and row["body"].strip() and row["subject"].strip():
                for audience in audiences:
                    key = (row["language"], category, audience)
                    corpora.tickets.setdefault(key, []).append((row["subject"], row["body"], row["answer"]))
                used += 1
        corpora.rows["support_tickets_synthetic_tobi_bueck"] = used
    except (OSError, KeyError, csv.Error):
        pass
    return corpora


class Slots(dict[str, str]):
    """Placeholder values, picked only when a template asks for them (fewer random draws per item)."""

    def __init__(self, rng: random.Random, kind: str, person: tuple[str, str, int], **given: str) -> None:
        super().__init__(given)
        self.rng, self.kind, self.person = rng, kind, person

    def __missing__(self, key: str) -> str:
        rng = self.rng
        first, last, n = self.person
        if key in P.SLOTS[self.kind]:
            value = pick(rng, P.SLOTS[self.kind][key])
        elif key == "name":
            value = f"{first} {last}"
        elif key == "email":
            local = f"{first}.{last}".lower().translate(_ASCII)
            value = f"{local}{n % 97}@{P.EMAIL_DOMAINS[n % len(P.EMAIL_DOMAINS)]}"
        elif key == "phone":
            lang = self.get("lang", "en")
            value = pick(rng, P.PHONE_FORMATS.get(lang, P.PHONE_FORMATS["en"])).format(nn=f"{n % 100:02d}")
        elif key == "amount":  # drawn only when a template mentions money
            value = money(round(math.exp(3.6 + 0.6 * rng.gauss(0.0, 1.0)), 2), self.get("currency", "USD"))
        elif key == "ticket_ref":
            value = str(1000 + n % 9000)
        else:
            value = ""
        self[key] = value
        return value


_ASCII = str.maketrans(
    {
        "ä": "a",
        "ö": "o",
        "ü": "u",
        "ß": "ss",
        "é": "e",
        "è": "e",
        "ê": "e",
        "à": "a",
        "á": "a",
        "í": "i",
        "ó": "o",
        "ú": "u",
        "ñ": "n",
        "ç": "c",
        "ã": "a",
        "õ": "o",
        " ": "_",
    }
)


def person_for(lang: str, n: int) -> tuple[str, str, int]:
    """A stable fake name for user number ``n``: the same customer signs every ticket the same way."""
    firsts, lasts = P.FIRST_NAMES.get(lang, P.FIRST_NAMES["en"]), P.LAST_NAMES.get(lang, P.LAST_NAMES["en"])
    return firsts[(n * 7) % len(firsts)], lasts[(n * 13 // 7) % len(lasts)], n


def _merged(table: dict[tuple[str, str], P.Bank]) -> dict[tuple[str, str, str], list[str]]:
    out: dict[tuple[str, str, str], list[str]] = {}
    for (lang, category), bank in table.items():
        for kind in P.SLOTS:
            merged = [*bank.get("*", []), *bank.get(kind, [])]
            if merged:
                out[(lang, category, kind)] = merged
    return out


def pick(rng: random.Random, options: list[str] | tuple[str, ...]) -> str:
    # random() is several times cheaper than choice()/randrange(), which matters at millions of rows.
    return options[int(rng.random() * len(options))]


def _mood(category: str, stars: int) -> str:
    if category in {"praise", "feature_request"}:
        return "pos" if stars >= 4 else "mid"
    return "neg" if stars <= 3 else "mid"  # a four-star complaint still does not say "Thanks!"


def subject_from(sentence: str, lang: str) -> str:
    """A subject line the way customers write one: the start of what they have to say."""
    if lang == "ja":
        return sentence[:16].rstrip("。、")
    words, out = sentence.split(), ""
    for word in words:
        if len(out) + len(word) > 42:
            break
        out = f"{out} {word}" if out else word
    return out.rstrip(".,!?;:") or sentence[:42]


class TextMaker:
    """Composes review and ticket text in a customer's language, preferring real text where it fits."""

    def __init__(self, corpora: Corpora, real_text_share: float = 0.35) -> None:
        self.corpora = corpora
        self.real_share = real_text_share
        self.sentences = _merged(P.REVIEW)
        self.titles = _merged(P.TITLES)

    def _bank(self, lang: str, category: str, kind: str) -> list[str]:
        found = self.sentences.get((lang, category, kind)) or self.sentences.get(("en", category, kind))
        return found or self.sentences[("en", "bug", kind)]

    def _core(self, rng: random.Random, lang: str, category: str, kind: str, slots: Slots, two: bool) -> list[str]:
        bank = self._bank(lang, category, kind)
        first = int(rng.random() * len(bank))
        picked = [bank[first]]
        if two and len(bank) > 1:
            picked.append(bank[(first + 1 + int(rng.random() * (len(bank) - 1))) % len(bank)])
        return [s.format_map(slots) for s in picked]

    def _title(self, rng: random.Random, lang: str, category: str, kind: str, slots: Slots, first: str) -> str:
        bank = self.titles.get((lang, category, kind))
        if bank is None or rng.random() < 0.25:
            return subject_from(first, lang)  # no title bank in this language, or the customer just began typing
        return pick(rng, bank).format_map(slots)

    def _detail(self, rng: random.Random, lang: str, negative: bool, slots: Slots) -> str:
        details = P.DETAILS.get(lang, P.DETAILS["en"])
        options = details["neg"] if negative and rng.random() < 0.35 else details["any"]
        return pick(rng, options).format_map(slots)

    def review(
        self, rng: random.Random, kind: str, category: str, lang: str, stars: int, slots: Slots
    ) -> tuple[str, str, int]:
        """(title, body, stars). Real reviews keep their own stars so text and rating agree."""
        if lang == "en" and rng.random() < self.real_share:
            pool = self.corpora.maalej.get(category)
            if pool:
                title, text, real_stars = pool[int(rng.random() * len(pool))]
                return title, text, real_stars
        if (lang, category, kind) not in self.sentences:
            lang = "en"  # nothing to say in the customer's language: they write English, as many do
        incident = category.endswith("_incident")
        mood = _mood(category, stars)
        parts = self._core(rng, lang, category, kind, slots, rng.random() < 0.35)
        detail = self._detail(rng, lang, mood == "neg", slots)
        if incident and rng.random() < 0.5:
            demands = P.INCIDENT_DEMANDS.get(lang, P.INCIDENT_DEMANDS["en"])
            ending = pick(rng, demands.get(category, demands["*"]))
        else:
            ending = pick(rng, P.CLOSERS.get(lang, P.CLOSERS["en"])[mood])
        if lang == "en" and not incident and mood != "mid" and rng.random() < 0.08:
            snippets = self.corpora.snippets.get("positive" if mood == "pos" else "negative")
            if snippets:
                parts.append(pick(rng, snippets))
        body = (" " if lang != "ja" else "").join(p for p in (*parts, detail, ending) if p)
        return self._title(rng, lang, category, kind, slots, parts[0]), body, stars

    def ticket(
        self, rng: random.Random, kind: str, category: str, lang: str, slots: Slots
    ) -> tuple[str, str, str | None]:
        """(subject, first comment, the agent's answer if the text came with one)."""
        if not category.endswith("_incident") and rng.random() < self.real_share:
            pool = self.corpora.tickets.get((lang, category, "business" if kind == "dashboard" else "consumer"))
            if pool:
                subject, body, answer = pool[int(rng.random() * len(pool))]
                fill = _placeholder_filler(slots)
                return _PLACEHOLDER.sub(fill, subject), _PLACEHOLDER.sub(fill, body), _PLACEHOLDER.sub(fill, answer)
        if (lang, category, kind) not in self.sentences:
            lang = "en"
        greet = pick(rng, P.GREETINGS.get(lang, P.GREETINGS["en"])).format_map(slots)
        core = self._core(rng, lang, category, kind, slots, rng.random() < 0.5)
        detail = self._detail(rng, lang, category != "praise" and category != "feature_request", slots)
        ask = pick(rng, P.ASKS.get(lang, P.ASKS["en"]))
        sep = "" if lang == "ja" else " "
        body = "\n\n".join(p for p in (greet, sep.join(x for x in (*core, detail) if x), ask) if p)
        return self._title(rng, lang, category, kind, slots, core[0]), body, None

    @staticmethod
    def agent_reply(rng: random.Random, lang: str, category: str, slots: Slots) -> str:
        replies = P.AGENT_REPLIES.get(lang, P.AGENT_REPLIES["en"])
        options = replies["*"] + (replies.get("billing", []) if category.startswith("billing") else [])
        return pick(rng, options).format_map(slots)

    @staticmethod
    def internal_note(rng: random.Random, category: str, slots: Slots) -> str:
        return pick(rng, P.INTERNAL_NOTES.get(category, P.INTERNAL_NOTES["*"])).format_map(slots)

    @staticmethod
    def signature(rng: random.Random, lang: str, slots: Slots) -> str:
        return pick(rng, P.SIGNATURES.get(lang, P.SIGNATURES["en"])).format_map(slots)

    @staticmethod
    def pii_sentence(rng: random.Random, lang: str, slots: Slots) -> str:
        return pick(rng, P.PII_SENTENCES.get(lang, P.PII_SENTENCES["en"])).format_map(slots)


def _placeholder_filler(slots: Slots) -> Callable[[re.Match[str]], str]:
    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in {"name", "nombre", "your name"}:
            return slots["name"]
        if key.endswith("tel_num"):
            return slots["phone"]
        if key.startswith("email"):
            return slots["email"]
        if key in {"company_name", "company"}:
            return slots["app"]
        if key in {"date", "purchase_date"}:
            return slots.get("date", "last week")
        return f"{slots['ticket_ref']}{slots.person[2] % 1000:03d}"  # order, account, case and serial numbers

    return fill


def html_body(text: str) -> str:
    """How some mail clients hand bodies to Zendesk: paragraphs in <p>, line breaks as <br>, & escaped."""
    text = text.replace("&", "&amp;").replace(" and ", " &amp; ", 1)
    return "".join(f"<p>{para.replace(chr(10), '<br>')}</p>" for para in text.split("\n\n"))
