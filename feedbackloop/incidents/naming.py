"""Readable cluster names from representative terms (class-based TF-IDF, offline, no LLM needed).

A term represents a cluster when it is frequent inside it and rare across the other clusters:
``tf(term, cluster) * log(1 + avg_words_per_cluster / tf(term, all clusters))``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from math import log

_WORD = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)
# Redaction placeholders (<EMAIL>, <PERSON>) and words that say nothing about what broke.
_STOP_WORDS = """the and for you your this that with have has had was were are not but all any can cant can't
    from they them their there then than its it's i'm ive i've just get got very really also still
    what when which who why how been being will would should could does did doesn't don't didn't
    won't isn't wasn't app apps please thanks thank hello dear regards best sent iphone android
    our out one two more most some only even every again after before into onto over about here
    now today yesterday since because while each other same like use using used email person phone
    account_id url ip_address credit_card iban date_time location"""
_STOP = frozenset(_STOP_WORDS.split())


def tokens(text: str | None) -> list[str]:
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(text or "")) if w not in _STOP]


def representative_terms(texts_by_cluster: Mapping[str, Iterable[str]], top: int = 4) -> dict[str, list[str]]:
    """cluster id -> its ``top`` terms, best first (ties broken alphabetically for stable names)."""
    counts = {cid: Counter(t for text in texts for t in tokens(text)) for cid, texts in texts_by_cluster.items()}
    overall: Counter[str] = Counter()
    for c in counts.values():
        overall.update(c)
    if not counts:
        return {}
    avg_words = sum(overall.values()) / len(counts)
    out: dict[str, list[str]] = {}
    for cid, c in counts.items():
        total = sum(c.values()) or 1
        scored = sorted(((n / total) * log(1 + avg_words / overall[term]), term) for term, n in c.items() if n >= 1)
        ranked = sorted(scored, key=lambda st: (-st[0], st[1]))
        out[cid] = [term for _, term in ranked[:top]]
    return out


def cluster_name(terms: list[str], category: str | None) -> str:
    head = (category or "feedback").replace("_", " ")
    return f"{head}: {' / '.join(terms)}" if terms else head
