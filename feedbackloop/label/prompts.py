"""Prompt files under prompts/label/, versioned by content hash, rendered with the taxonomy.

Feedback text is untrusted: it goes only into the user message, inside a <feedback> element whose
closing tag cannot be forged from within the text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from feedbackloop.label.examples import Example
from feedbackloop.label.taxonomy import Taxonomy

PROMPT_FILES = ("system.md", "user.md", "repair.md")
_TAG = re.compile(r"<\s*(/?)\s*(feedback|example)\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class PromptSet:
    name: str
    system: Template
    user: Template
    repair: Template
    version: str  # "<name>@<sha256[:12] of the files>": recorded on every label

    @classmethod
    def load(cls, directory: Path) -> PromptSet:
        missing = [f for f in PROMPT_FILES if not (directory / f).is_file()]
        if missing:
            raise FileNotFoundError(f"prompt set {directory} lacks {', '.join(missing)}")
        texts = {f: (directory / f).read_text(encoding="utf-8") for f in PROMPT_FILES}
        digest = hashlib.sha256("\0".join(texts[f] for f in PROMPT_FILES).encode()).hexdigest()[:12]
        return cls(
            name=directory.name,
            system=Template(texts["system.md"]),
            user=Template(texts["user.md"]),
            repair=Template(texts["repair.md"]),
            version=f"{directory.name}@{digest}",
        )

    def system_message(self, taxonomy: Taxonomy) -> str:
        lines = []
        for category in taxonomy.categories:
            line = f"- {category.name}: {category.description}"
            if category.sublabels:
                line += f" Sublabels: {', '.join(category.sublabels)}."
            lines.append(line)
        return self.system.substitute(
            taxonomy_name=taxonomy.name,
            taxonomy_version=taxonomy.version,
            fallback_category=taxonomy.fallback_category,
            categories="\n".join(lines),
        )

    def user_message(
        self, text: str, metadata: dict[str, object] | None = None, examples: list[Example] | None = None
    ) -> str:
        meta = {k: v for k, v in (metadata or {}).items() if v not in (None, "")}
        shown = "\n".join(f"<example{e.attributes()}>{neutralise_tags(e.text)}</example>" for e in examples or [])
        return self.user.substitute(
            metadata=f"metadata: {json.dumps(meta, default=str, ensure_ascii=False)}" if meta else "",
            examples=f"Similar feedback, as reviewers labelled it:\n{shown}" if shown else "",
            text=neutralise_tags(text),
        )

    def repair_message(self, errors: str) -> str:
        return self.repair.substitute(errors=errors[:1500])


def neutralise_tags(text: str) -> str:
    """Defuse <feedback>/<example> tags inside customer text so it cannot close or forge a data element."""
    return _TAG.sub(lambda m: f"<{m.group(1)}{m.group(2).lower()}-text>", text)
