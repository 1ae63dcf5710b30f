"""End to end: the console served by uvicorn over real HTTP, driven in Debian's headless Chromium.

Screenshots of every test land in tests/artifacts/console/ (gitignored; the path is printed).
`make setup` installs chromium and chromedriver (scripts/install_chromium.sh); nothing is downloaded here.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from feedbackloop.settings import PROJECT_ROOT, Settings
from tests.console_data import DOCS, INCIDENT_ID, reviews, write_contract_tables, write_feedback
from tests.servers import free_port
from tests.test_console import index_lake

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.slow]
SHOTS = PROJECT_ROOT / "tests" / "artifacts" / "console"


@contextmanager
def console_server(settings: Settings) -> Iterator[str]:
    """``feedbackloop ui``'s app on a real uvicorn server (a thread of this process); yields its URL."""
    import uvicorn

    from feedbackloop.console.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the console did not start within 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """The console over a small indexed lake."""
    write_feedback(settings)
    write_contract_tables(settings, tmp_path / "reports")
    index_lake(settings)
    with console_server(settings) as url:
        yield url, settings


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[object]:
    """Headless Debian chromium through its own chromedriver; a screenshot is saved after each test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("chromium and chromedriver are missing: run `make setup` (scripts/install_chromium.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600",
                "--disable-gpu", "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"{request.node.name}.png"
        driver.save_screenshot(str(shot))
        print(f"screenshot: {shot}")
        driver.quit()


def click_and_wait_for_page(browser: Any, element: Any) -> None:
    """Click something that loads a new page, and return once that page has loaded.

    Selenium's click returns as soon as the click is dispatched; reading right away can still see the
    old page (this failed once on a busy machine). The old page is told apart by a mark set on its
    window, not by an element going stale: asked mid-navigation, chromedriver can answer a staleness
    check with "Node with given id does not belong to the document" (an unknown error, which failed
    CI once), so errors while the page changes are retried until the wait runs out.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__feedbackloopOldPage = true;")
    element.click()
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda b: b.execute_script(
            "return window.__feedbackloopOldPage === undefined && document.readyState === 'complete';"
        )
    )


def test_overview_renders_with_data(served: tuple[str, Settings], browser: object) -> None:
    from selenium.webdriver.common.by import By

    url, _ = served
    browser.get(url + "/")
    assert browser.find_element(By.ID, "total-feedback").text == str(len(DOCS))
    volume_bars = browser.find_elements(By.CSS_SELECTOR, "#volume-chart svg rect")
    assert len(volume_bars) > 5  # one segment per day and source, plus the legend
    assert browser.find_element(By.CSS_SELECTOR, "#sentiment-chart svg").is_displayed()
    incident = browser.find_element(By.CSS_SELECTOR, f'#incidents a[href="/incidents/{INCIDENT_ID}"]')
    assert incident.text == "Checkout freezes at payment"
    click_and_wait_for_page(browser, incident)
    assert browser.find_element(By.CSS_SELECTOR, "#linked-ticket a").text == "SHOP-42"


def test_a_search_returns_filtered_results(served: tuple[str, Settings], browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, _ = served
    browser.get(url + "/search")
    box = browser.find_element(By.NAME, "q")
    box.send_keys("payment screen freezes")
    Select(browser.find_element(By.NAME, "platform")).select_by_value("ios")
    Select(browser.find_element(By.NAME, "category")).select_by_value("bug")
    click_and_wait_for_page(browser, browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]"))
    results = browser.find_elements(By.CSS_SELECTOR, "#results .result")
    doc_ids = [r.get_attribute("data-doc-id") for r in results]
    assert set(doc_ids[:2]) == {"checkout-ios", "pay-spinner"}
    assert "payment-android" not in doc_ids  # the closest paraphrase, but on android: filtered out
    assert all(DOCS[d][2] == "ios" and DOCS[d][3] == "bug" for d in doc_ids)
    assert "platform=ios" in browser.find_element(By.ID, "search-summary").text


def test_a_review_correction_persists(served: tuple[str, Settings], browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, settings = served
    browser.get(url + "/review")
    item = browser.find_element(By.CSS_SELECTOR, '.review-item[data-doc-id="payment-android"]')
    item.find_element(By.NAME, "reviewer").send_keys("kim")
    Select(item.find_element(By.NAME, "category")).select_by_value("performance")
    click_and_wait_for_page(browser, item.find_element(By.CSS_SELECTOR, 'button[value="correct"]'))
    assert browser.find_element(By.ID, "review-message").text == "corrected payment-android"
    assert not browser.find_elements(By.CSS_SELECTOR, '.review-item[data-doc-id="payment-android"]')
    [stored] = reviews(settings)
    assert (stored["doc_id"], stored["action"], stored["category"]) == ("payment-android", "correct", "performance")
    assert (stored["reviewer"], stored["review_source"]) == ("kim", "console")
    browser.get(url + "/review")  # still gone after a reload: read back from the store
    assert not browser.find_elements(By.CSS_SELECTOR, '.review-item[data-doc-id="payment-android"]')


def test_markup_typed_into_search_is_shown_as_text_and_never_runs(
    served: tuple[str, Settings], browser: object
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    url, _ = served
    payload = "<img src=x onerror=alert(1)> checkout' OR 1=1 --"
    browser.get(url + "/search")
    browser.find_element(By.NAME, "q").send_keys(payload)
    click_and_wait_for_page(browser, browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]"))
    assert payload in browser.find_element(By.ID, "search-summary").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#search-summary img")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is how selenium asks whether an alert is open
    stored = browser.find_element(By.CSS_SELECTOR, '.result[data-doc-id="xss"] .text').text
    assert stored.startswith("<script>alert('pwned')</script>")  # the stored payload, shown as text


def test_the_first_run_overview_renders_in_the_browser(settings: Settings, browser: object) -> None:
    from selenium.webdriver.common.by import By

    with console_server(settings) as url:
        browser.get(url + "/")
        assert "No feedback yet" in browser.find_element(By.ID, "first-run").text
