"""Validated patterns for structured PII, as Presidio recognizers.

Each recognizer finds candidates with a regex and keeps only those that pass a real check
(Luhn for cards, ISO 13616 mod-97 for IBANs, libphonenumber for phones, ``ipaddress`` for IPs),
so order numbers, versions and dates do not turn into placeholders. Separators may include one
line break: exports wrap long numbers, and a value split across lines is still that value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import cache

import phonenumbers
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

EMAIL, PHONE, CARD, IBAN, IP, ACCOUNT, PERSON = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "ACCOUNT_ID", "PERSON",
)  # fmt: skip

# Placeholder prefix per entity type: [EMAIL_1], [PHONE_2] ...
PLACEHOLDER_LABELS = {
    EMAIL: "EMAIL", PHONE: "PHONE", CARD: "CARD", IBAN: "IBAN", IP: "IP", ACCOUNT: "ACCOUNT", PERSON: "PERSON",
}  # fmt: skip
# When two findings overlap, the more specific wins (a card number is also a digit run a phone regex sees).
PRIORITY = {EMAIL: 7, IBAN: 6, CARD: 5, IP: 4, ACCOUNT: 3, PHONE: 2, PERSON: 1}

_SEP = r"(?:[ \t\u00a0.\-/]|\r?\n)"  # one separator between digit groups, possibly a line break


class ValidatedRecognizer(EntityRecognizer):
    """A regex finds candidates; ``spans`` keeps the valid ones (and may trim them)."""

    ENTITY: str = ""
    PATTERN: re.Pattern[str]
    QUICK: str | None = None  # a character every match contains: texts without it are skipped
    NEEDS_DIGIT = True  # every match contains a digit: texts without one are skipped

    def __init__(self) -> None:
        super().__init__(supported_entities=[self.ENTITY], name=type(self).__name__, supported_language="en")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if entities and self.ENTITY not in entities:
            return []
        return [RecognizerResult(self.ENTITY, start, end, 1.0) for start, end in self.find(text)]

    def find(self, text: str, region: str | None = None) -> Iterable[tuple[int, int]]:
        if self.QUICK is not None and self.QUICK not in text:
            return
        for match in self.PATTERN.finditer(text):
            span = self.valid_span(text, match, region)
            if span is not None:
                yield span

    def valid_span(self, text: str, match: re.Match[str], region: str | None) -> tuple[int, int] | None:
        raise NotImplementedError


class ValidatedEmailRecognizer(ValidatedRecognizer):
    """Addresses, also percent-encoded in URLs (``%40``), obfuscated (``[at]``) or wrapped after the ``@``."""

    ENTITY = EMAIL
    NEEDS_DIGIT = False
    PATTERN = re.compile(
        r"(?<![\w.%+\-])[\w.+\-]{1,64}"
        r"(?:\s?@\s?|%40|\s?[\[(]at[\])]\s?)"
        r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
        r"(?:(?:\.|\s?[\[(]dot[\])]\s?)[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*"
        r"(?:\.|\s?[\[(]dot[\])]\s?)[A-Za-z]{2,24}(?![\w\-])",
        re.IGNORECASE,
    )

    def find(self, text: str, region: str | None = None) -> Iterable[tuple[int, int]]:
        if "@" not in text and "%40" not in text and "at]" not in text and "at)" not in text:
            return
        yield from super().find(text, region)

    def valid_span(self, text: str, match: re.Match[str], region: str | None) -> tuple[int, int] | None:
        start, end = match.span()
        local = re.split(r"\s?@|%40|\s?[\[(]at", match.group(), maxsplit=1, flags=re.IGNORECASE)[0]
        # A percent-encoded address inside a URL: the local part ends at the previous '=' or '/'.
        if local.startswith(".") or local.endswith(".") or ".." in local:
            return None
        return start, end


class ValidatedPhoneRecognizer(ValidatedRecognizer):
    """Numbers libphonenumber calls valid, read with the doc's country (or + / 00 / %2B international form)."""

    ENTITY = PHONE
    PATTERN = re.compile(
        r"(?<![\w/%.\-+])(?:(?:\+|%2B|00)\s?)?(?:\(\d{1,5}\)\s?)?\d(?:" + _SEP + r"?\(?\d\)?){5,16}(?![\w/]|[.\-]\d)",
        re.IGNORECASE,
    )
    NOT_PHONE_BEFORE = re.compile(
        r"(?:order|invoice|ticket|case|ref|reference|tracking|serial|version|build|v|id|no|nr|#|bestellung|"
        r"commande|pedido|rechnung|factura|facture|transaction|txn|amount|total|eur|usd|\$|€|£)\s*[:#.]?\s*$",
        re.IGNORECASE,
    )
    DATE = re.compile(r"^\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}$")

    def valid_span(self, text: str, match: re.Match[str], region: str | None) -> tuple[int, int] | None:
        raw = match.group()
        digits = re.sub(r"\D", "", raw)
        if not 7 <= len(digits) <= 15 or len(set(digits)) == 1 or self.DATE.match(raw.strip()):
            return None
        if self.NOT_PHONE_BEFORE.search(text[max(0, match.start() - 24) : match.start()]):
            return None
        candidate = raw.replace("%2B", "+").replace("%2b", "+")
        if candidate.startswith("00"):
            candidate = "+" + candidate[2:]
        if is_valid_phone(re.sub(r"\s+", " ", candidate), region):
            return match.span()
        return None


@cache
def _fallback_regions(region: str | None) -> tuple[str | None, ...]:
    # The doc's own country first; then the markets feedback most often comes from.
    regions = [region, "US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "BR", "CA", "AU", "JP", "MX", "PT", "BE", "CH"]
    return tuple(dict.fromkeys(r for r in regions if r))


@cache
def is_valid_phone(number: str, region: str | None) -> bool:
    try:
        if number.lstrip().startswith("+"):
            return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
        for candidate_region in _fallback_regions(region):
            if phonenumbers.is_valid_number(phonenumbers.parse(number, candidate_region)):
                return True
    except phonenumbers.NumberParseException:
        return False
    return False


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class ValidatedCardRecognizer(ValidatedRecognizer):
    """13-19 digit payment card numbers from the major networks that pass the Luhn check."""

    ENTITY = CARD
    PATTERN = re.compile(r"(?<![\d\-])\d(?:(?:[ \-]|\r?\n)?\d){12,18}(?![\d\-])")

    def valid_span(self, text: str, match: re.Match[str], region: str | None) -> tuple[int, int] | None:
        digits = re.sub(r"\D", "", match.group())
        if digits[0] not in "23456" or len(set(digits)) == 1 or not luhn_ok(digits):
            return None
        return match.span()


# ISO 13616 lengths of the IBAN countries customers most often write from (SEPA plus a few).
IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
    "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "AE": 23, "BR": 29, "IL": 23,
    "SA": 24, "MU": 30, "UA": 29,
}  # fmt: skip


def iban_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


class ValidatedIbanRecognizer(ValidatedRecognizer):
    """IBANs with the right length for their country and a valid mod-97 checksum, grouped or not."""

    ENTITY = IBAN
    PATTERN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:(?:[ \-]|\r?\n)?[A-Za-z0-9]){11,30}")

    def valid_span(self, text: str, match: re.Match[str], region: str | None) -> tuple[int, int] | None:
        country = match.group()[:2].upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            return None
        # The regex is greedy over groups; cut the match at exactly the country's length.
        seen, end = 0, match.start()
        for i in range(match.start(), match.end()):
            if text[i].isalnum():
                seen += 1
                if seen == length:
                    end = i + 1
                    break
        else:
            return None
        if end < len(text) and text[end].isalnum():
            return None
        compact = re.sub(r"[^A-Za-z0-9]", "", text[match.start() : end]).upper()
        return (match.start(), end) if compact[2:4].isdigit() and iban_ok(compact) else None


class ValidatedIpRecognizer(ValidatedRecognizer):
    """IPv4 and IPv6 addresses that parse; dotted version numbers (``version 10.2.1.5``) are not addresses."""

    ENTITY = IP
    PATTERN = re.compile(
        r"(?<![\w.:])(?:(?:\d{1,3}\.){3}\d{1,3}|(?=[0-9a-f:]*:[0-9a-f:]*:)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7})"
        r"(?![\w:]|\.\d)",
        re.IGNORECASE,
    )
    VERSION_BEFORE = re.compile(r"(?:version|ver|build|release|v|firmware|ios|android)\s*[:.]?\s*$", re.IGNORECASE)

    def find(self, text: str, region: str | None = None) -> Iterable[tuple[int, int]]:
        if "." not in text and ":" not in text:
            return
        yield from super().find(text, region)

    def valid_span(self, text: str, match: re.Match[str], region: str | None) -> tuple[int, int] | None:
        value = match.group()
        if ":" in value and value.count(":") < 2:
            return None
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return None
        if address.version == 4 and self.VERSION_BEFORE.search(text[max(0, match.start() - 16) : match.start()]):
            return None
        if address.version == 6 and re.fullmatch(r"[\d:]+", value) and len(value) <= 8:
            return None  # 10:30:00 is a time of day
        return match.span()


class ValidatedAccountIdRecognizer(ValidatedRecognizer):
    """Account, customer and member ids: prefixed forms (ACC-123456) and ids after an id label."""

    ENTITY = ACCOUNT
    PREFIXED = r"(?<![\w\-])((?:acc|acct|cust|cus|usr|uid|mbr|member|client|kd|kdnr)[\-_#]?\d{4,12})(?![\w\-])"
    LABELLED = (
        r"(?:account|acct|customer|member|client|user|subscriber|kunden|kunde|konto|cliente|compte|abonné|utente)"
        r"[ \-]?(?:id|no\.?|nr\.?|number|num\.?|#|nummer|número|numéro|numero|n°|nº)\s*[:#]?\s*"
        r"([A-Za-z]{0,4}[\-_]?\d[\dA-Za-z\-]{3,19})(?![\w\-])"
    )
    PATTERN = re.compile(f"{PREFIXED}|{LABELLED}", re.IGNORECASE)

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        super().__init__()
        self.extra = [re.compile(p) for p in extra_patterns]

    CUES = re.compile(
        r"acc|cust|cus|usr|uid|mbr|member|client|kd|user|subscriber|kunde|konto|compte|abonn|utente", re.IGNORECASE
    )

    def find(self, text: str, region: str | None = None) -> Iterable[tuple[int, int]]:
        if self.extra:
            yield from self._find(text, self.extra)
        if self.CUES.search(text):
            yield from self._find(text, [self.PATTERN])

    def _find(self, text: str, patterns: Iterable[re.Pattern[str]]) -> Iterable[tuple[int, int]]:
        for pattern in patterns:
            for match in pattern.finditer(text):
                group = next((i for i in range(1, (match.lastindex or 0) + 1) if match.group(i)), 0)
                if sum(ch.isdigit() for ch in match.group(group)) >= 4:
                    yield match.span(group)

    def valid_span(self, text: str, match: re.Match[str], region: str | None) -> tuple[int, int] | None:
        return match.span()


def pattern_recognizers(account_patterns: Iterable[str] = ()) -> list[ValidatedRecognizer]:
    return [
        ValidatedEmailRecognizer(),
        ValidatedIbanRecognizer(),
        ValidatedCardRecognizer(),
        ValidatedIpRecognizer(),
        ValidatedAccountIdRecognizer(account_patterns),
        ValidatedPhoneRecognizer(),
    ]
