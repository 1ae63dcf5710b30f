"""The operator console's pages, review and search, over a small real lake (Starlette's test client).

The browser tests (test_console_browser.py) drive the same app in headless Chromium over real HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from feedbackloop.cli import app as cli
from feedbackloop.console import charts
from feedbackloop.console.app import create_app
from feedbackloop.embed.model import get_embedder
from feedbackloop.embed.stage import embed_new_texts
from feedbackloop.embed.texts import INPUTS
from feedbackloop.index import open_index
from feedbackloop.index.base import StopWordsOnlyError, check_query_words
from feedbackloop.index.sync import sync_index
from feedbackloop.settings import Settings
from tests.console_data import DOCS, INCIDENT_ID, reviews, write_contract_tables, write_feedback

XSS = "<script>alert('x')</script>"
SQLI = "'; drop table gold.fct_feedback; --"


def client_for(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, warm=False)) as client:
        yield client


@pytest.fixture
def empty_client(settings: Settings) -> Iterator[TestClient]:
    yield from client_for(settings)


@pytest.fixture
def lake(settings: Settings, tmp_path: Path) -> Settings:
    write_feedback(settings)
    write_contract_tables(settings, tmp_path / "reports")
    return settings


@pytest.fixture
def client(lake: Settings) -> Iterator[TestClient]:
    yield from client_for(lake)


def index_lake(settings: Settings) -> None:
    """Embed DOCS with the packaged MiniLM and sync the local index, as the embed and index stages do."""
    import pyarrow as pa

    inputs = pa.Table.from_pylist(
        [{"doc_id": d, "text_kind": "text", "text": v[0], "input_hash": d} for d, v in DOCS.items()], schema=INPUTS
    )
    embed_new_texts(settings, get_embedder(settings), "test", inputs=inputs)
    sync_index(settings, open_index(settings))


def csrf(client: TestClient) -> str:
    page = client.get("/review").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the review page carries a CSRF token in its forms"
    return found.group(1)


# -- first run ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/incidents", "/actions", "/review", "/search", "/drift", "/health"])
def test_every_page_renders_on_an_empty_lake(empty_client: TestClient, path: str) -> None:
    response = empty_client.get(path)
    assert response.status_code == 200, response.text


def test_overview_on_a_first_run_says_there_is_no_feedback_yet(empty_client: TestClient) -> None:
    page = empty_client.get("/").text
    assert "No feedback yet" in page
    assert "No incidents yet" in page


def test_search_before_anything_is_indexed_says_to_run_the_pipeline(empty_client: TestClient) -> None:
    response = empty_client.get("/search", params={"q": "checkout freezes"})
    assert response.status_code == 200
    assert "index is empty: run `feedbackloop index`" in response.text.replace("&#96;", "`")


def test_overview_without_issue5_tables_shows_feedback_and_no_incidents_yet(settings: Settings) -> None:
    write_feedback(settings)
    with TestClient(create_app(settings, warm=False)) as client:
        page = client.get("/").text
    assert 'id="total-feedback">11<' in page
    assert "No incidents yet" in page
    assert "No drift report yet" in page


# -- overview, incidents, actions, drift -------------------------------------------------------------
def test_overview_shows_counts_charts_top_incident_and_themes(client: TestClient) -> None:
    page = client.get("/").text
    assert 'id="total-feedback">11<' in page
    assert page.count("<svg") >= 5  # volume, sentiment, by source, by category, sparklines
    assert "zendesk: " in page and "app_store: " in page  # tooltips of the source bars
    assert f'href="/incidents/{INCIDENT_ID}"' in page and "Checkout freezes at payment" in page
    assert "5.0 h" in page  # detected 5 hours after it was first seen
    assert 'href="/drift/drift-1"' in page


def test_incident_page_shows_members_evidence_telemetry_and_the_linked_ticket(client: TestClient) -> None:
    page = client.get(f"/incidents/{INCIDENT_ID}").text
    for doc_id in ("checkout-ios", "payment-android", "pay-spinner"):
        assert f"/search?like={doc_id}" in page
    assert "Payment screen freezes" in page  # member text
    assert "“Checkout hangs on iPhone 15 when I try" in page  # evidence quote
    assert "abc1234" in page and "2300.0" in page  # telemetry evidence
    assert 'href="https://jira.example/browse/SHOP-42"' in page and ">SHOP-42<" in page
    assert "Error-like events per day around the incident" in page and "api_error" in page


def test_an_unknown_incident_is_a_404_page(client: TestClient) -> None:
    response = client.get("/incidents/nope")
    assert response.status_code == 404
    assert "There is no incident nope" in response.text


def test_actions_list_filters_by_status(client: TestClient) -> None:
    failed = client.get("/actions", params={"status": "failed"}).text
    assert "HTTP 503" in failed and "SHOP-42" not in failed
    everything = client.get("/actions").text
    assert "SHOP-42" in everything and "HTTP 503" in everything


def test_a_javascript_ticket_url_is_never_rendered_as_a_link(settings: Settings, tmp_path: Path) -> None:
    write_feedback(settings)
    write_contract_tables(settings, tmp_path / "reports", external_url="javascript:alert(1)")
    with TestClient(create_app(settings, warm=False)) as client:
        page = client.get("/actions").text
    assert "javascript:" not in page
    assert "SHOP-42" in page


def test_drift_page_links_the_latest_evidently_report_and_serves_it(client: TestClient) -> None:
    assert 'href="/drift/drift-1"' in client.get("/drift").text
    latest = client.get("/drift/latest")
    assert latest.status_code == 200 and "Evidently data drift report" in latest.text
    assert client.get("/drift/other").status_code == 404


def test_pages_forbid_scripts_through_a_content_security_policy(client: TestClient) -> None:
    assert "default-src 'none'" in client.get("/").headers["content-security-policy"]


# -- review ------------------------------------------------------------------------------------------
def test_review_queue_lists_items_with_the_models_proposal(client: TestClient) -> None:
    page = client.get("/review").text
    assert "payment-android" in page and "invoice" in page
    assert "Payment screen freezes right after I tap the pay button" in page


def test_a_correction_from_the_page_lands_in_the_clis_review_store(client: TestClient, lake: Settings) -> None:
    form = {"csrf": csrf(client), "reviewer": "kim", "action": "correct", "category": "billing",
            "severity": "high", "sentiment_label": "negative", "recommended_action": "engineering_ticket",
            "note": "wrong team"}  # fmt: skip
    response = client.post("/review/payment-android", data=form, follow_redirects=False)
    assert response.status_code == 303
    [stored] = reviews(lake)
    assert (stored["doc_id"], stored["action"], stored["reviewer"]) == ("payment-android", "correct", "kim")
    assert stored["category"] == "billing" and stored["severity"] is None  # only what changed is a correction
    assert stored["review_source"] == "console" and stored["note"] == "wrong team"
    assert "payment-android" not in client.get("/review").text.split("<h1>")[1].split("review-message")[-1]


def test_accept_from_the_page_records_an_accept(client: TestClient, lake: Settings) -> None:
    form = {"csrf": csrf(client), "reviewer": "kim", "action": "accept"}
    client.post("/review/invoice", data=form, follow_redirects=False)
    assert [(r["doc_id"], r["action"]) for r in reviews(lake)] == [("invoice", "accept")]


def test_a_correction_that_changes_nothing_is_refused_with_a_message(client: TestClient, lake: Settings) -> None:
    form = {"csrf": csrf(client), "reviewer": "kim", "action": "correct", "category": "billing", "severity": "low",
            "sentiment_label": "neutral", "recommended_action": "no_action"}  # fmt: skip
    response = client.post("/review/invoice", data=form)
    assert response.status_code == 400
    assert "nothing was changed; use Accept instead" in response.text
    assert reviews(lake) == []


def test_an_invalid_category_is_refused_naming_the_doc(client: TestClient, lake: Settings) -> None:
    form = {"csrf": csrf(client), "reviewer": "kim", "action": "correct", "category": "teleport"}
    response = client.post("/review/invoice", data=form)
    assert response.status_code == 400
    assert "review of doc invoice: category &#39;teleport&#39; is not in taxonomy" in response.text
    assert reviews(lake) == []


def test_a_review_without_the_forms_token_is_refused(client: TestClient, lake: Settings) -> None:
    response = client.post("/review/invoice", data={"reviewer": "mallory", "action": "accept"})
    assert response.status_code == 403
    assert reviews(lake) == []


def test_markup_and_sql_in_review_fields_are_stored_verbatim_and_shown_escaped(
    client: TestClient, lake: Settings
) -> None:
    form = {"csrf": csrf(client), "reviewer": XSS, "action": "accept", "note": SQLI}
    client.post("/review/xss", data=form, follow_redirects=False)
    [stored] = reviews(lake)
    assert (stored["reviewer"], stored["note"]) == (XSS, SQLI)
    page = client.get("/review").text
    assert "<script>" not in page
    assert "&lt;script&gt;" in page or "xss" not in page  # the doc left the queue; nothing unescaped remains
    assert client.get("/").status_code == 200  # and gold.fct_feedback is still there


def test_review_of_a_doc_with_markup_in_its_id_is_refused_and_escaped(client: TestClient) -> None:
    doc_id = "<img src=x onerror=alert(1)>"
    response = client.post(f"/review/{doc_id}", data={"csrf": csrf(client), "reviewer": "kim", "action": "accept"})
    assert response.status_code == 400
    assert doc_id not in response.text
    assert "review of doc &lt;img src=x onerror=alert(1)&gt;: no label exists for this doc" in response.text


# -- search ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("the and", id="english-stop-words"),
        pytest.param("what is it", id="short-function-words"),
        pytest.param("?!  ...", id="no-words"),
    ],
)
def test_stop_word_only_text_is_rejected_with_a_clear_message(text: str) -> None:
    with pytest.raises(StopWordsOnlyError, match="search text"):
        check_query_words(text)


@pytest.mark.parametrize("text", ["checkout", "is it slow", "支払い"])
def test_text_with_a_meaningful_word_is_searchable(text: str) -> None:
    check_query_words(text)


def test_stop_word_only_search_shows_a_message_not_an_error(client: TestClient) -> None:
    response = client.get("/search", params={"q": "the and of"})
    assert response.status_code == 200
    assert "has only common words (the, and, of): add a word that carries meaning" in response.text


def test_an_unknown_filter_value_range_is_a_400_with_the_reason(client: TestClient) -> None:
    response = client.get("/search", params={"q": "checkout", "since": "yesterday"})
    assert response.status_code == 400
    assert "since must be an ISO date" in response.text


@pytest.mark.model
def test_search_returns_knn_results_restricted_by_filters(lake: Settings) -> None:
    index_lake(lake)
    with TestClient(create_app(lake, warm=False)) as client:
        body = client.get("/api/search", params={"q": "payment screen freezes", "platform": "android", "k": 5}).json()
    assert body["error"] is None
    assert [r["doc_id"] for r in body["results"]][:1] == ["payment-android"]
    assert {r["fields"]["platform"] for r in body["results"]} == {"android"}


@pytest.mark.model
def test_markup_and_sql_in_search_text_are_escaped_and_harmless(lake: Settings) -> None:
    index_lake(lake)
    with TestClient(create_app(lake, warm=False)) as client:
        response = client.get("/search", params={"q": XSS + " checkout " + SQLI, "category": "bug"})
        assert client.get("/").status_code == 200  # gold.fct_feedback survived the "drop table"
    assert response.status_code == 200
    assert "<script>" not in response.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in response.text  # in the box and the summary
    assert 'data-doc-id="xss"' in response.text  # the stored doc with markup is found and shown escaped


# -- charts and CLI ----------------------------------------------------------------------------------
def test_chart_labels_are_escaped() -> None:
    svg = str(charts.hbars("t", [(XSS, 3)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_charts_without_data_say_so() -> None:
    assert "no data yet" in str(charts.stacked_bars("t", [], {}))


def test_the_cli_has_a_ui_command() -> None:
    result = CliRunner().invoke(cli, ["ui", "--help"])
    assert result.exit_code == 0 and "operator console" in result.output
