"""The taxonomy is versioned YAML config: the default, a custom one, and the 150-intent CLINC file."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedbackloop.label.decision import decision_schema
from feedbackloop.label.taxonomy import TaxonomyError, load_taxonomy
from feedbackloop.settings import PROJECT_ROOT

TAXONOMIES = PROJECT_ROOT / "config" / "taxonomies"


def test_default_taxonomy_has_the_required_categories() -> None:
    taxonomy = load_taxonomy(TAXONOMIES / "default.yaml")
    assert {
        "billing", "login", "performance", "ux", "feature_request", "bug",
        "onboarding", "trust", "account_management", "praise", "other",
    } == set(taxonomy.names)  # fmt: skip
    assert all(c.description for c in taxonomy.categories)


@pytest.mark.parametrize(
    ("file", "categories"),
    [pytest.param("airline.yaml", 8, id="airline"), pytest.param("clinc150.yaml", 151, id="clinc150")],
)
def test_custom_taxonomies_load_and_drive_the_schema_enum(file: str, categories: int) -> None:
    taxonomy = load_taxonomy(TAXONOMIES / file)
    assert len(taxonomy.names) == categories
    assert decision_schema(taxonomy.names)["properties"]["category"]["enum"] == taxonomy.names


def test_version_id_changes_when_the_file_changes_even_without_a_version_bump(tmp_path: Path) -> None:
    original = (TAXONOMIES / "airline.yaml").read_text()
    path = tmp_path / "t.yaml"
    path.write_text(original)
    before = load_taxonomy(path).version_id
    path.write_text(original.replace("Lost, delayed", "Lost or delayed"))
    after = load_taxonomy(path).version_id
    assert before != after
    assert before.split("+")[0] == after.split("+")[0] == "airline@0.1.0"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("name: x\nversion: 1\nfallback_category: a\ncategories: [", "not valid YAML", id="bad-yaml"),
        pytest.param("- a\n- b\n", "expected a mapping", id="not-a-mapping"),
        pytest.param(
            "name: x\nversion: 1\nfallback_category: zzz\ncategories:\n"
            "  - {name: a, description: A}\n  - {name: b, description: B}\n",
            "fallback_category 'zzz' is not one of the categories",
            id="unknown-fallback",
        ),
        pytest.param(
            "name: x\nversion: 1\nfallback_category: a\ncategories:\n"
            "  - {name: a, description: A}\n  - {name: a, description: B}\n",
            "duplicate category names",
            id="duplicate-names",
        ),
        pytest.param(
            "name: x\nversion: 1\nfallback_category: a\ncategories:\n"
            "  - {name: a, description: A, default_action: page_someone}\n  - {name: b, description: B}\n",
            "default_action",
            id="unknown-action",
        ),
    ],
)
def test_an_invalid_taxonomy_is_rejected_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(TaxonomyError, match=rf"bad\.yaml.*{message}"):
        load_taxonomy(path)


def test_a_missing_taxonomy_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "nope.yaml")
