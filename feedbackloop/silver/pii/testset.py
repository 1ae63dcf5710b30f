"""A labelled PII test set: real feedback (reviews, multilingual tickets and agent answers) with planted PII.

Base texts come from ``datasets_dir`` (real App Store / Play reviews; synthetic multilingual support
tickets whose agent answers stand in for agent notes); the planted values are generated valid
(Luhn, mod-97, libphonenumber) and every one is labelled with its span. Tricky placements are
their own tags: inside URLs, split across lines, in non-English text, in agent notes. Texts with
look-alikes but no PII (versions, order numbers, dates, amounts) measure false positives.
Generated, not committed: the base datasets' licences do not allow redistributing derivatives.
"""

from __future__ import annotations

import csv
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from feedbackloop.silver.pii.patterns import ACCOUNT, CARD, EMAIL, IBAN, IBAN_LENGTHS, IP, PERSON, PHONE, luhn_ok

FIRST = [
    "Jane", "Oliver", "Amelia", "Priya", "Mohammed", "Sofia", "Lukas", "Chloé", "Mateo", "Yuki", "Aisha", "Liam",
    "Emma", "Noah", "Hannah", "Jürgen", "Camille", "Diego", "Ana", "Wei", "Fatima", "Olumide", "Siobhan", "Ravi",
    "Ingrid", "Tomasz", "Elena", "Kwame", "Mei", "Hugo", "Isabel", "Arjun", "Zoe", "Marta", "Lars", "Nadia",
]  # fmt: skip
LAST = [
    "Doe", "Smith", "Okafor", "Raghunathan", "Müller", "García", "Dubois", "Rossi", "Kowalski", "Nakamura",
    "Haddad", "O'Brien", "Johansson", "Fernandes", "Chen", "Patel", "Schneider", "Moreau", "Lopez", "Novak",
    "Andersson", "Mensah", "Kapoor", "Becker", "Silva", "Ivanova", "Nguyen", "Walsh", "Costa", "Jensen",
]  # fmt: skip
DOMAINS = ["gmail.com", "yahoo.co.uk", "outlook.com", "web.de", "orange.fr", "acme-corp.io", "mail.example.org"]
PHONE_FORMATS = {
    "US": ["+1 415 555 01{d2}", "(415) 555-01{d2}", "415.555.01{d2}", "+1-212-555-01{d2}"],
    "GB": ["+44 20 7946 0{d3}", "020 7946 0{d3}", "07700 900{d3}"],
    "DE": ["+49 30 1234{d3}", "0151 2345{d4}", "+49 (0)89 2345{d3}"],
    "FR": ["06 12 34 {d2} {d2b}", "+33 6 12 34 {d2} {d2b}"],
    "ES": ["+34 612 345 {d3}", "612 34 {d2} {d2b}"],
    "IN": ["+91 98765 4{d4}"],
}
LANG_COUNTRY = {"en": "US", "de": "DE", "fr": "FR", "es": "ES", "pt": "PT"}

TEMPLATES: dict[str, dict[str, list[str]]] = {
    "en": {
        EMAIL: ["You can reach me at {v}.", "My email is {v} if you need more info.", "Contact: {v}"],
        PHONE: ["Call me on {v} please.", "My number is {v}.", "Phone: {v}"],
        CARD: ["The charge was on my card {v}.", "Card number {v} was billed twice.", "I paid with {v}"],
        IBAN: ["Please refund to IBAN {v}.", "My bank account is {v}.", "IBAN: {v}"],
        IP: ["The error came from IP {v}.", "Logged in from {v} and got blocked.", "Server said my IP {v} is banned."],
        ACCOUNT: ["My account id is {v}.", "Customer ID: {v}", "Ref account {v} please."],
        PERSON: [
            "My name is {v}.",
            "{v} from your team was very helpful.",
            "I spoke with {v} yesterday.",
            "Thanks, {v}",
            "Please ask {v} to call me back.",
            "This is {v}, the account owner.",
        ],
    },
    "de": {
        EMAIL: ["Meine E-Mail: {v}", "Schreiben Sie mir an {v}."],
        PHONE: ["Erreichbar unter {v}.", "Meine Telefonnummer ist {v}."],
        CARD: ["Die Karte {v} wurde doppelt belastet."],
        IBAN: ["Bitte erstatten Sie auf IBAN {v}."],
        IP: ["Meine IP-Adresse ist {v}."],
        ACCOUNT: ["Meine Kundennummer: {v}"],
        PERSON: ["Mein Name ist {v}.", "Mit freundlichen Grüßen\n{v}", "Herr {v} hat mir nicht geholfen."],
    },
    "fr": {
        EMAIL: ["Mon e-mail : {v}", "Écrivez-moi à {v}."],
        PHONE: ["Mon numéro : {v}.", "Appelez-moi au {v}."],
        CARD: ["Ma carte {v} a été débitée deux fois."],
        IBAN: ["Merci de rembourser sur l'IBAN {v}."],
        IP: ["Mon adresse IP est {v}."],
        ACCOUNT: ["Mon numéro client : {v}"],
        PERSON: ["Je m'appelle {v}.", "Cordialement,\n{v}", "Mme {v} n'a pas répondu."],
    },
    "es": {
        EMAIL: ["Mi correo: {v}", "Escríbanme a {v}."],
        PHONE: ["Mi teléfono es {v}.", "Llámenme al {v}."],
        CARD: ["Mi tarjeta {v} fue cobrada dos veces."],
        IBAN: ["Reembolsen a la cuenta IBAN {v}."],
        IP: ["Mi dirección IP es {v}."],
        ACCOUNT: ["Número de cliente: {v}"],
        PERSON: ["Me llamo {v}.", "Saludos,\n{v}", "Sra. {v} no contestó."],
    },
    "pt": {
        EMAIL: ["Meu e-mail: {v}"],
        PHONE: ["Meu telefone: {v}."],
        CARD: ["Meu cartão {v} foi cobrado duas vezes."],
        IBAN: ["Por favor reembolsem para o IBAN {v}."],
        IP: ["Meu IP é {v}."],
        ACCOUNT: ["Número de cliente: {v}"],
        PERSON: ["Meu nome é {v}.", "Obrigado,\n{v}"],
    },
}
AGENT_NOTES = [
    "Internal: spoke with {name} ({email}), refund issued to card {card}.",
    "Called back {name} on {phone}; cust id {account} verified.",
    "Escalated to billing. Customer {name} wants refund to {iban}.",
    "Fraud check: login from {ip} for {account}, customer {name} confirmed.",
]
LOOKALIKES = [
    "Updated to version 5.4.0.1 and it still crashes.",
    "Order #1234567890 never arrived, tracking 9400111899562537866361.",
    "Charged $1,234.56 on 2026-10-03 at 10:30:00, then again on 03/10/2026.",
    "Build 10.2.1.5 broke the login on iOS 17.2.1.",
    "Invoice 2026-000417 shows 3 items, total 149.99 EUR.",
    "Error code 0x80070057 after the 4.12 update, ticket 55012345.",
    "I have been a customer since 2015, 4 stars until the redesign.",
    "The reset link expired after 15 minutes, tried 3 times.",
]


@dataclass
class Planted:
    start: int
    end: int
    entity_type: str
    value: str


@dataclass
class LabeledText:
    text: str
    language: str
    country: str
    tags: list[str]
    spans: list[Planted] = field(default_factory=list)


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return next(body + d for d in string.digits if luhn_ok(body + d))


def make_iban(country: str, rng: random.Random) -> str:
    length = IBAN_LENGTHS[country]
    bban = "".join(rng.choice(string.digits) for _ in range(length - 4))
    number = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


class ValueFactory:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def name(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def email(self) -> str:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        local = self.rng.choice(
            [f"{first}.{last}", f"{first[0]}{last}{self.rng.randint(1, 99)}", f"{first}+shop", f"{last}_{first}"]
        )
        ascii_local = local.lower().translate(str.maketrans("üéíçö'", "ueico_")).replace("_", ".")
        return f"{ascii_local.strip('.')}@{self.rng.choice(DOMAINS)}"

    def phone(self, country: str) -> str:
        formats = PHONE_FORMATS.get(country) or PHONE_FORMATS["US"]
        r = self.rng
        return r.choice(formats).format(
            d2=f"{r.randint(0, 99):02d}", d2b=f"{r.randint(10, 99):02d}", d3=f"{r.randint(0, 999):03d}",
            d4=f"{r.randint(0, 9999):04d}",
        )  # fmt: skip

    def card(self) -> str:
        prefix, length = self.rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16), ("2221", 16)])
        digits = luhn_complete(prefix, length, self.rng)
        style = self.rng.choice(["space", "dash", "plain"])
        if style == "plain" or length == 15:
            return digits
        sep = " " if style == "space" else "-"
        return sep.join(digits[i : i + 4] for i in range(0, 16, 4))

    def iban(self) -> str:
        compact = make_iban(self.rng.choice(["DE", "FR", "GB", "ES", "NL", "IT", "AT", "BE"]), self.rng)
        if self.rng.random() < 0.6:
            return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
        return compact

    def ip(self) -> str:
        if self.rng.random() < 0.2:
            return f"2001:db8:{self.rng.randint(1, 0xFFFF):x}::{self.rng.randint(1, 0xFFFF):x}"
        return ".".join(str(self.rng.randint(1, 254)) for _ in range(4))

    def account(self) -> str:
        r = self.rng
        return r.choice(
            [f"ACC-{r.randint(0, 99999999):08d}", f"CUST-{r.randint(1000, 999999)}", f"USR_{r.randint(10000, 99999)}"]
        )

    def of(self, entity_type: str, country: str) -> str:
        return {
            EMAIL: self.email, PHONE: lambda: self.phone(country), CARD: self.card, IBAN: self.iban,
            IP: self.ip, ACCOUNT: self.account, PERSON: self.name,
        }[entity_type]()  # fmt: skip


class Builder:
    """Assembles one text from parts, keeping the offsets of every planted value."""

    def __init__(self) -> None:
        self.text = ""
        self.spans: list[Planted] = []

    def add(self, part: str) -> None:
        self.text += part

    def plant(self, template: str, entity_type: str, value: str, shown: str | None = None) -> None:
        before, after = template.split("{v}")
        self.text += before
        shown = shown if shown is not None else value
        self.spans.append(Planted(len(self.text), len(self.text) + len(shown), entity_type, value))
        self.text += shown + after


def _base_texts(datasets_dir: Path) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """(English reviews, ticket bodies per language, agent answers); empty when datasets are absent."""
    reviews: list[str] = []
    tickets: dict[str, list[str]] = {}
    answers: list[str] = []
    review_csv = datasets_dir / "app_reviews_maalej" / "app_reviews_maalej.csv"
    if review_csv.exists():
        with review_csv.open(encoding="utf-8") as fh:
            reviews = [f"{r['title']}. {r['comment']}".strip(". ") for r in csv.DictReader(fh) if r["comment"]]
    ticket_csv = datasets_dir / "support_tickets_synthetic_tobi_bueck" / "tickets_complete_rows.csv"
    if ticket_csv.exists():
        with ticket_csv.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["body"]:
                    tickets.setdefault(row["language"], []).append(row["body"][:600])
                if row["answer"]:
                    answers.append(row["answer"][:400])
    if not reviews:  # keeps the builder usable on a machine without the shared datasets
        reviews = [t for t in LOOKALIKES for _ in range(3)]
    return reviews, tickets, answers


def build_testset(datasets_dir: Path, per_type: int = 120, negatives: int = 300, seed: int = 13) -> list[LabeledText]:
    rng = random.Random(seed)
    values = ValueFactory(rng)
    reviews, tickets, answers = _base_texts(datasets_dir)
    out: list[LabeledText] = []
    types = [EMAIL, PHONE, CARD, IBAN, IP, ACCOUNT, PERSON]

    def planted_review(entity_type: str, lang: str = "en") -> LabeledText:
        country = LANG_COUNTRY.get(lang, "US") if lang != "en" else rng.choice(["US", "GB"])
        base = rng.choice(tickets.get(lang) or reviews) if lang != "en" else rng.choice(reviews)
        value = values.of(entity_type, country)
        b = Builder()
        b.add(base.rstrip() + ("\n" if rng.random() < 0.3 else " "))
        b.plant(rng.choice(TEMPLATES[lang][entity_type]), entity_type, value)
        return LabeledText(b.text, lang, country, ["plain" if lang == "en" else "non_english"], b.spans)

    for entity_type in types:
        for _ in range(per_type):
            out.append(planted_review(entity_type))
        for lang in ("de", "fr", "es", "pt"):
            for _ in range(max(1, per_type // 8)):
                out.append(planted_review(entity_type, lang))
    out.extend(_tricky(rng, values, reviews, per_type // 4))
    out.extend(_agent_notes(rng, values, answers, per_type // 2))
    for _ in range(negatives):
        base = rng.choice(reviews)
        text = base if rng.random() < 0.6 else f"{base} {rng.choice(LOOKALIKES)}"
        out.append(LabeledText(text, "en", "US", ["no_pii"]))
    return out


def _tricky(rng: random.Random, values: ValueFactory, reviews: list[str], n: int) -> Iterator[LabeledText]:
    makers: list[Callable[[], LabeledText]] = []

    def url_email() -> LabeledText:
        email = values.email()
        b = Builder()
        b.add(rng.choice(reviews) + " The reset link ")
        shape = rng.choice(["query", "path", "mailto"])
        if shape == "query":
            b.plant("https://app.acme.example/reset?email={v}&token=8f2c", EMAIL, email, quote(email, safe=""))
        elif shape == "path":
            b.plant("https://acme.example/users/{v}/settings", EMAIL, email)
        else:
            b.plant("<mailto:{v}>", EMAIL, email)
        b.add(" is broken.")
        return LabeledText(b.text, "en", "US", ["url"], b.spans)

    def url_phone() -> LabeledText:
        phone = values.phone("US")
        digits = "".join(ch for ch in phone if ch.isdigit())
        digits = digits if digits.startswith("1") else "1" + digits
        b = Builder()
        b.add(rng.choice(reviews) + " Tapping ")
        if rng.random() < 0.5:
            b.plant("tel:{v}", PHONE, phone, "+" + digits)
        else:
            b.plant("https://acme.example/callback?phone={v}&x=1", PHONE, phone, "%2B" + digits)
        b.add(" does nothing.")
        return LabeledText(b.text, "en", "US", ["url"], b.spans)

    def split_lines() -> LabeledText:
        entity_type = rng.choice([EMAIL, PHONE, CARD, IBAN, PERSON])
        value = values.of(entity_type, "DE")
        if entity_type == EMAIL:
            at = value.index("@")
            shown = value[: at + 1] + "\n" + value[at + 1 :]
        elif entity_type == PERSON:
            shown = value.replace(" ", "\n", 1)
        else:
            seps = [i for i, ch in enumerate(value) if ch == " "] or [len(value) // 2]
            cut = rng.choice(seps)
            shown = value[:cut] + "\n" + value[cut + 1 :] if value[cut] == " " else value[:cut] + "\n" + value[cut:]
        template = {EMAIL: "Email me:\n{v}\nthanks", PERSON: "Regards,\n{v}"}.get(entity_type, "Details:\n{v}\nthanks")
        b = Builder()
        b.add(rng.choice(reviews) + "\n")
        b.plant(template, entity_type, value, shown)
        return LabeledText(b.text, "en", "DE", ["split_line"], b.spans)

    def obfuscated() -> LabeledText:
        email = values.email()
        local, domain = email.split("@")
        b = Builder()
        b.add(rng.choice(reviews) + " Write to ")
        b.plant("{v} please.", EMAIL, email, f"{local} [at] {domain.replace('.', ' [dot] ')}")
        return LabeledText(b.text, "en", "US", ["obfuscated"], b.spans)

    makers += [url_email, url_phone, split_lines, split_lines, obfuscated]
    for _ in range(n * len(makers) // 2):
        yield rng.choice(makers)()


def _agent_notes(rng: random.Random, values: ValueFactory, answers: list[str], n: int) -> Iterator[LabeledText]:
    fields = {"name": PERSON, "email": EMAIL, "card": CARD, "phone": PHONE, "account": ACCOUNT, "iban": IBAN, "ip": IP}
    for _ in range(n):
        template = rng.choice(AGENT_NOTES)
        b = Builder()
        if answers:
            b.add(rng.choice(answers).rstrip() + "\n\n")
        rest = template
        while "{" in rest:
            before, _, after = rest.partition("{")
            key, _, rest = after.partition("}")
            b.plant(before + "{v}", fields[key], values.of(fields[key], "US"))
        b.add(rest)
        yield LabeledText(b.text, "en", "US", ["agent_note"], b.spans)
