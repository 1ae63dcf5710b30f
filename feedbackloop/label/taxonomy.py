"""The label taxonomy as versioned YAML config: categories with a description, sublabels and examples."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from feedbackloop.label.decision import ACTIONS, Action


class Category(BaseModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = Field(min_length=1)
    sublabels: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    default_action: Action = "no_action"


class Taxonomy(BaseModel):
    name: str
    version: str
    fallback_category: str
    categories: list[Category] = Field(min_length=2)
    content_hash: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> str:
        return str(value)

    @model_validator(mode="after")
    def _check(self) -> Taxonomy:
        names = [c.name for c in self.categories]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate category names: {duplicates}")
        if self.fallback_category not in names:
            raise ValueError(f"fallback_category {self.fallback_category!r} is not one of the categories")
        return self

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.categories]

    @property
    def version_id(self) -> str:
        """``name@version+hash``: editing the file without bumping the version still changes the id."""
        return f"{self.name}@{self.version}+{self.content_hash}"

    def category(self, name: str) -> Category:
        for category in self.categories:
            if category.name == name:
                return category
        raise KeyError(name)

    def default_action(self, name: str) -> Action:
        return self.category(name).default_action


class TaxonomyError(ValueError):
    """The taxonomy file is missing or invalid; the message names the file and the problem."""


def load_taxonomy(path: Path | str) -> Taxonomy:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise TaxonomyError(f"taxonomy {path}: cannot read ({error.strerror})") from error
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise TaxonomyError(f"taxonomy {path}: not valid YAML ({error})") from error
    if not isinstance(data, dict):
        raise TaxonomyError(f"taxonomy {path}: expected a mapping with name, version, categories")
    try:
        return Taxonomy(**data, content_hash=hashlib.sha256(raw).hexdigest()[:12])
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise TaxonomyError(f"taxonomy {path}: {problems}") from error


__all__ = ["ACTIONS", "Category", "Taxonomy", "TaxonomyError", "load_taxonomy"]
