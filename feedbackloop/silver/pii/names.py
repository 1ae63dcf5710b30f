"""Person names: context patterns in several languages, plus the rules for which text needs NER at all.

spaCy's NER is the expensive step, so it only sees sentences that could hold a name: one with a
capitalised word that is neither sentence-initial nor a stop word. The patterns catch what a small
English model misses (``ich heiße``, ``Mme``, agent notes naming the customer) at regex speed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from feedbackloop.silver.pii.patterns import PERSON

UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"
LOWER = "a-zß-öø-ÿā-ž"
NAME = rf"[{UPPER}][{LOWER}]+(?:[\-'’][{UPPER}]?[{LOWER}]+)?"
PARTICLE = r"(?:van|von|der|de|da|del|di|le|la|bin|al)"
# A line break may split first and last name (a wrapped signature).
FULL_NAME = rf"{NAME}(?:(?:[ \t]+|[ \t]*\r?\n[ \t]*)(?:{PARTICLE}[ \t]+)?{NAME}){{0,2}}"

_INTRO = (
    r"my name is|my name's|this is|name:|signed|ich heiße|ich heisse|mein name ist|je m'appelle|je m’appelle|"
    r"mon nom est|me llamo|mi nombre es|meu nome é|mi chiamo|il mio nome è|mijn naam is|ik ben"
)
_HONORIFIC = (
    r"mr|mrs|ms|miss|mx|dr|prof|herr|frau|mme|mlle|monsieur|madame|sr|sra|srta|señor|señora|sig|sig\.ra|dhr|mevr"
)
_MENTION = (
    r"customer|client|caller|requester|spoke to|spoke with|talked to|called|emailed|contacted|assigned to|"
    r"escalated to|cc|attn|kunde|kundin|cliente|le client|la cliente|klant"
)
_SIGN_OFF = (
    r"thanks|thank you|many thanks|regards|best|best wishes|cheers|sincerely|kind regards|warm regards|"
    r"cordialement|bien à vous|merci|danke|grüße|gruß|viele grüße|mit freundlichen grüßen|saludos|atentamente|"
    r"gracias|obrigado|obrigada|cumprimentos|grazie|cordiali saluti|groeten|met vriendelijke groet"
)
CONTEXT = re.compile(
    rf"(?:\b(?:{_INTRO})[ \t]*:?[ \t]+(?P<intro>{FULL_NAME}))"
    rf"|(?:\b(?:{_HONORIFIC})\.?[ \t]+(?P<honorific>{FULL_NAME}))"
    rf"|(?:\b(?:{_MENTION})[ \t]*:?[ \t]+(?P<mention>{FULL_NAME}))"
    rf"|(?:\b(?:{_SIGN_OFF})[ \t]*[,!.\-–—]?[ \t]*(?:\r?\n[ \t]*|[ \t]+)(?:[\-–—][ \t]*)?(?P<signoff>{FULL_NAME})"
    rf"[ \t]*(?:$|\r?\n|[.!]))",
    re.IGNORECASE | re.MULTILINE,
)
# Every alternative of CONTEXT starts with one of these words.
CUES = frozenset(
    cue.replace("\\.", ".").split()[0].strip(":").split(".")[0]
    for group in (_INTRO, _HONORIFIC, _MENTION, _SIGN_OFF)
    for cue in group.split("|")
)
_WORDS = re.compile(rf"(?<![\w'])[{UPPER}{LOWER}']+")
# IGNORECASE makes NAME match any word; the captured name must still look like a name.
_CAPITALISED = re.compile(rf"^[{UPPER}]")

# Capitalised words that are never names in feedback: product vocabulary, calendar words, platforms.
NOT_NAMES = frozenset(
    [
        "i", "im", "i'm", "ive", "i've", "id", "i'd", "ill", "i'll", "app", "apps", "android", "ios", "iphone", "ipad",
        "ipod", "mac", "macos", "windows", "google", "apple", "play", "store", "app-store", "playstore", "support",
        "team", "thanks", "thank", "hello", "hi", "hey", "dear", "please", "great", "good", "bad", "love", "monday",
        "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april",
        "may", "june", "july", "august", "september", "october", "november", "december", "today", "yesterday",
        "tomorrow", "ok", "okay", "yes", "no", "wifi", "bluetooth", "facebook", "instagram", "twitter", "whatsapp",
        "youtube", "gmail", "outlook", "paypal", "visa", "mastercard", "amex", "stripe", "chrome", "firefox", "safari",
        "samsung", "pixel", "galaxy", "huawei", "xiaomi", "premium", "pro", "plus", "free", "update", "version",
        "login", "checkout", "account", "customer", "client", "service", "refund", "order", "payment", "card", "bank",
        "hallo", "bonjour", "hola", "gracias", "danke", "merci", "bitte", "support-team", "kunde", "kundin", "cliente",
        "user", "admin", "agent", "wtf", "lol", "omg",
        # salutations, which a small model reads as part of the name they precede
        "cher", "chère", "caro", "cara", "olá", "ola", "estimado", "estimada", "querido", "querida", "liebe",
        "lieber", "geehrte", "geehrter", "buongiorno", "ciao", "prezado", "prezada", "bonsoir", "salut",
    ]
)  # fmt: skip


def looks_like_name(value: str) -> bool:
    words = value.split()
    if not words or not all(_CAPITALISED.match(w) or re.fullmatch(PARTICLE, w) for w in words):
        return False
    # A name starts and ends with a name word ("de la Tienda", "Llámenme al" are not names), has at
    # most four words, and none in capitals only ("AWS").
    if len(words) > 4 or any(re.fullmatch(PARTICLE, w, re.IGNORECASE) for w in (words[0], words[-1])):
        return False
    if any(w.isupper() and len(w) > 1 for w in words):
        return False
    return not any(w.lower().strip("'’") in NOT_NAMES for w in words)


# Endings of abstract nouns, which German capitalises and a small English model then calls names.
NOUN_ENDINGS = re.compile(
    r"(?:ung|heit|keit|schaft|tät|ion|ción|ção|ment|mente|dade|dad|ware|nummer|ía|ia|ogie|prozess|team|service)$", re.I
)


class ContextPersonRecognizer(EntityRecognizer):
    """Names introduced by their context: 'my name is', 'Mme', 'customer Jane Roe', a sign-off line."""

    def __init__(self) -> None:
        super().__init__(supported_entities=[PERSON], name="ContextPersonRecognizer", supported_language="en")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if entities and PERSON not in entities:
            return []
        return [RecognizerResult(PERSON, start, end, 0.9) for start, end in self.find(text)]

    def find(self, text: str, region: str | None = None) -> Iterator[tuple[int, int]]:
        # The full pattern is slow to try at every position: try it only where a cue word starts.
        for cue in _WORDS.finditer(text):
            if cue.group().lower() not in CUES:
                continue
            match = CONTEXT.match(text, cue.start())
            if match is None:
                continue
            group = match.lastgroup
            if group is None:
                continue
            start, end = match.span(group)
            value = text[start:end]
            # Trim trailing words that are not names ("Jane Roe Thanks" -> "Jane Roe").
            words = value.split()
            while words and not looks_like_name(words[-1]):
                words.pop()
            if not words or not looks_like_name(" ".join(words)):
                continue
            if len(words) == 1 and NOUN_ENDINGS.search(words[0]):
                continue  # "Viele Grüße, Kundenserviceteam" signs off a team, not a person
            last = list(re.finditer(r"\S+", value))[len(words) - 1]
            yield start, start + last.end()


SENTENCE_BREAK = re.compile(r"(?<=[.!?;:])\s+|\r?\n+|(?<=\S)\s+[\-–—|]\s+")
CANDIDATE = re.compile(rf"(?<![\w@.#/])[{UPPER}][{LOWER}]+")


@cache
def _stop_words() -> frozenset[str]:
    """Stop words of the languages feedback arrives in; a name is never made of them."""
    from importlib import import_module

    words: set[str] = set(NOT_NAMES)
    for lang in ("en", "de", "fr", "es", "pt", "it", "nl"):
        words |= import_module(f"spacy.lang.{lang}.stop_words").STOP_WORDS
    return frozenset(words - {"van", "von", "der", "de", "da", "del", "di", "le", "la", "bin", "al"})


def ner_candidates(text: str, dictionary: frozenset[str] = frozenset()) -> Iterator[tuple[int, str]]:
    """(offset, sentence) for each sentence that could contain a name the patterns cannot see.

    A sentence qualifies with a capitalised word that is not sentence-initial, not a stop word and
    not a dictionary word, or with two capitalised words in a row ("Grace Baker"). A lone
    capitalised dictionary word ("Settings") would be dropped after NER anyway (``person_spans``).
    """
    stop = _stop_words()
    pos = 0
    for part in SENTENCE_BREAK.split(text):
        offset = text.find(part, pos)
        pos = offset + len(part)
        if not part.strip():
            continue
        previous_end = -2
        for word in CANDIDATE.finditer(part):
            lower = word.group().lower()
            if lower in stop:
                previous_end = -2
                continue
            adjacent = part[previous_end : word.start()].strip() == "" and previous_end >= 0
            initial = word.start() == 0 or not part[: word.start()].strip()
            if adjacent or (not initial and lower not in dictionary and lower.removesuffix("s") not in dictionary):
                yield offset, part
                break
            previous_end = word.end()


def in_dictionary(word: str, dictionary: frozenset[str]) -> bool:
    """Is the word, or its stem without an English inflection, a dictionary word ("crashes", "using")?"""
    w = word.lower()
    stems = {w, w.removesuffix("s"), w.removesuffix("es"), w.removesuffix("ed"), w.removesuffix("d")}
    if w.endswith("ing"):
        stems |= {w[:-3], w[:-3] + "e"}
    return not stems.isdisjoint(dictionary)


def _trim_salutation(text: str, start: int, end: int) -> int:
    """Start of the name once leading salutations ("Caro Pedro Santos") are dropped."""
    for word in re.finditer(r"\S+", text[start:end]):
        if word.group().lower().strip(",") not in NOT_NAMES:
            return start + word.start()
    return end


def person_spans(
    entities: Iterable[tuple[int, int, str]],
    text: str,
    english: bool = True,
    dictionary: frozenset[str] = frozenset(),
    allow_words: frozenset[str] = frozenset(),
) -> Iterator[tuple[int, int]]:
    """NER PERSON spans that survive the name checks (a small English model tags product words too).

    A lone capitalised word that is an English dictionary word ("Settings") is not taken on NER's
    word alone. Outside English a lone capitalised word is never enough (German capitalises every
    noun): a name needs two words, none a stop word or an abstract-noun ending.
    """
    stop = _stop_words()
    for start, end, label in entities:
        if label != "PERSON":
            continue
        start = _trim_salutation(text, start, end)
        value = text[start:end].strip(" .,:;!?'\"()")
        if not value or len(value) <= 2 or any(ch.isdigit() for ch in value) or not looks_like_name(value):
            continue
        words = [w.lower().strip("'’") for w in value.split()]
        if any(w in stop for w in words if not re.fullmatch(PARTICLE, w)):
            continue
        if not english and (len(words) < 2 or any(NOUN_ENDINGS.search(w) for w in words)):
            continue
        if len(words) == 1 and in_dictionary(words[0], dictionary):
            continue
        if not allow_words.isdisjoint(words):
            continue
        start = text.index(value, start)
        yield start, start + len(value)
