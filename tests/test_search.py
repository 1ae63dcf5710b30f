"""Search and more-like-this through the API and the CLI, on the default world (MiniLM + local index)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from feedbackloop.cli import app
from feedbackloop.embed.model import get_embedder
from feedbackloop.embed.stage import embed_new_texts
from feedbackloop.embed.texts import INPUTS
from feedbackloop.index import open_index
from feedbackloop.index.base import UnknownFilterError, make_filters
from feedbackloop.index.search import SearchSpaceError, more_like_this, search
from feedbackloop.index.sync import sync_index
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.index_data import gold_row, write_gold

pytestmark = [pytest.mark.model]

TEXTS = {
    "checkout": "Checkout hangs on iPhone 15 when I try to pay",
    "payment": "Payment screen freezes right after I tap the pay button",
    "darkmode": "Love the new dark mode, the colours are beautiful",
    "login": "Cannot log in since the update, it says wrong password",
    "refund": "I was charged twice and still have no refund",
    "photos": "The app crashes every time I upload photos",
}
LABELS = pa.table({"doc_id": ["checkout", "payment", "refund"], "category": ["bug", "bug", "billing"],
                   "severity": ["high", "high", "medium"], "sentiment_label": ["negative"] * 3})  # fmt: skip


@pytest.fixture
def indexed(settings: Settings) -> Settings:
    """A lake whose gold holds TEXTS, embedded with the packaged MiniLM and synced to the local index."""
    rows = [gold_row(doc_id, text, i, platform="android" if doc_id == "payment" else "ios")
            for i, (doc_id, text) in enumerate(TEXTS.items())]  # fmt: skip
    write_gold(settings, rows)
    inputs = pa.Table.from_pylist(
        [{"doc_id": d, "text_kind": "text", "text": t, "input_hash": d} for d, t in TEXTS.items()], schema=INPUTS
    )
    embed_new_texts(settings, get_embedder(settings), "test", inputs=inputs)
    Lake(settings).append("silver", "feedback_labels", LABELS)
    sync_index(settings, open_index(settings))
    return settings


def test_search_finds_feedback_that_means_the_same_in_other_words(indexed: Settings) -> None:
    results = search(indexed, "payment screen freezes", k=3)
    assert [r.doc_id for r in results[:2]] == ["payment", "checkout"]


def test_results_show_text_labels_score_and_why(indexed: Settings) -> None:
    top = search(indexed, "payment freezes", k=1, filters=make_filters({"platform": "android"}))[0]
    assert top.text == TEXTS["payment"]
    assert top.labels == {"category": "bug", "severity": "high", "sentiment_label": "negative"}
    assert 0 < top.score <= 1
    assert top.why[0].startswith("meaning: cosine similarity")
    assert "words in common: payment, freezes" in top.why
    assert "passes filters: platform=android" in top.why


def test_filters_restrict_results(indexed: Settings) -> None:
    results = search(
        indexed, "payment screen freezes", k=5, filters=make_filters({"severity": "high", "platform": "ios"})
    )
    assert [r.doc_id for r in results] == ["checkout"]


def test_more_like_this_finds_the_paraphrase_and_not_the_doc_itself(indexed: Settings) -> None:
    results = more_like_this(indexed, "checkout", k=2)
    assert results[0].doc_id == "payment"
    assert "checkout" not in [r.doc_id for r in results]
    assert results[0].why[0].endswith("to doc checkout")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        pytest.param(lambda s: search(s, "", k=5), ValueError, "search text is empty", id="empty-text"),
        pytest.param(lambda s: search(s, "  \n", k=5), ValueError, "search text is empty", id="blank-text"),
        pytest.param(lambda s: search(s, "pay", k=0), ValueError, "k must be at least 1, got 0", id="k-zero"),
        pytest.param(lambda s: search(s, "pay", k=-3), ValueError, "k must be at least 1, got -3", id="k-negative"),
        pytest.param(
            lambda s: search(s, "pay", k=10**6),
            ValueError,
            "k=1000000 is more than the allowed maximum of 1000",
            id="k-huge",
        ),
        pytest.param(
            lambda s: search(s, "pay", filters=make_filters({"colour": "red"})),
            UnknownFilterError,
            "unknown filter field 'colour'; filterable fields: app_version, category",
            id="unknown-filter",
        ),
        pytest.param(
            lambda s: search(s, "pay", filters=make_filters(since="last tuesday")),
            ValueError,
            "since must be an ISO date or timestamp, got 'last tuesday'",
            id="bad-date",
        ),
        pytest.param(
            lambda s: search(s, "pay", filters=make_filters(since="2026-10-02", until="2026-10-01")),
            ValueError,
            r"since \(2026-10-02T00:00:00\+00:00\) must be before until",
            id="empty-window",
        ),
        pytest.param(
            lambda s: more_like_this(s, "no-such-doc"),
            LookupError,
            "doc_id 'no-such-doc' is not in the local index",
            id="unknown-doc",
        ),
    ],
)
def test_bad_search_input_gets_a_clear_error(indexed: Settings, call, error: type[Exception], message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        call(indexed)


def test_an_index_of_another_embedding_space_is_refused(indexed: Settings) -> None:
    other = indexed.model_copy(update={"embedding_backend": "openai", "embedding_model": "embed-v2"})
    with pytest.raises(SearchSpaceError, match=r"holds vectors of 'sentence-transformers/all-MiniLM-L6-v2@gt-0\.1\.0'"):
        search(other, "pay", k=3)


def test_searching_before_anything_is_indexed_says_so(settings: Settings) -> None:
    with pytest.raises(LookupError, match="the local index is empty: run `feedbackloop index`"):
        search(settings, "pay", k=3)


def test_cli_search_prints_text_labels_score_and_why(indexed: Settings) -> None:
    result = CliRunner().invoke(app, ["search", "payment screen freezes", "--platform", "android", "-k", "2"])
    assert result.exit_code == 0, result.output
    assert "1. payment" in result.output
    assert TEXTS["payment"] in result.output
    assert "labels: category=bug, severity=high, sentiment_label=negative" in result.output
    assert "score 0." in result.output
    assert "why: meaning: cosine similarity" in result.output


def test_cli_search_filters_take_several_values(indexed: Settings) -> None:
    result = CliRunner().invoke(app, ["search", "something broke", "--category", "bug,billing", "--json", "-k", "10"])
    assert result.exit_code == 0, result.output
    assert sorted(r["doc_id"] for r in json.loads(result.output)) == ["checkout", "payment", "refund"]


def test_cli_more_like_this_lists_similar_docs(indexed: Settings) -> None:
    result = CliRunner().invoke(app, ["more-like-this", "checkout", "-k", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["doc_id"] for r in json.loads(result.output)] == ["payment"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["search", "", "-k", "3"], "search text is empty", id="empty-text"),
        pytest.param(["search", "pay", "-k", "0"], "k must be at least 1", id="k-zero"),
        pytest.param(["search", "pay", "-k", "5000"], "more than the allowed maximum", id="k-huge"),
        pytest.param(["search", "pay", "--since", "soon"], "since must be an ISO date", id="bad-since"),
        pytest.param(["more-like-this", "nope"], "doc_id 'nope' is not in the local index", id="unknown-doc"),
    ],
)
def test_cli_bad_input_exits_2_with_the_reason(indexed: Settings, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
