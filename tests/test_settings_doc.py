"""Every setting is documented (docs/settings.md, generated) and listed in .env.example."""

from __future__ import annotations

import re

import pytest

from feedbackloop.settings import PROJECT_ROOT, Settings
from feedbackloop.settings_doc import DOC_PATH, render, sections

SETTINGS = sorted(Settings.model_fields)
ENV_EXAMPLE = (PROJECT_ROOT / ".env.example").read_text()


def test_docs_settings_md_is_generated_from_the_settings_class() -> None:
    assert DOC_PATH.read_text() == render(), "docs/settings.md is out of date: run `feedbackloop settings-doc`"


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_says_what_it_is_for(name: str) -> None:
    assert (Settings.model_fields[name].description or "").strip(), f"give {name} a Field(description=...)"


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_in_the_settings_reference(name: str) -> None:
    assert f"| `FEEDBACKLOOP_{name.upper()}` |" in DOC_PATH.read_text()


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_in_env_example(name: str) -> None:
    assert re.search(rf"^#?\s*FEEDBACKLOOP_{name.upper()}=", ENV_EXAMPLE, re.M), f"add FEEDBACKLOOP_{name.upper()}"


def test_env_example_names_no_setting_that_does_not_exist() -> None:
    named = set(re.findall(r"^#?\s*FEEDBACKLOOP_([A-Z0-9_]+)=", ENV_EXAMPLE, re.M))
    assert named <= {name.upper() for name in SETTINGS} | {"HOME"}


def test_every_setting_belongs_to_a_section() -> None:
    assert sorted(n for names in sections().values() for n in names) == SETTINGS
