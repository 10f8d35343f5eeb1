"""The web page and the OpenAPI page of `tcli serve` in a real browser: Debian's headless Chromium, driven by
Playwright (its Python package only; the system browser, never a downloaded one). Every request the
pages make is checked to stay on the server: they work offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from servers import make_app, running

from translate_cli.core.checkpoint import load_model
from translate_cli.core.translator import Translator

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (.ci/run installs it)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.is_file(), "Debian's chromium is missing: apt-get install chromium (as .ci/run does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser_page(browser):
    page = browser.new_page()
    page.set_default_timeout(180_000)  # generous: on a busy 2-core machine Chromium parses Swagger UI slowly
    try:
        yield page
    finally:
        page.close()


def watch_requests(page, origin: str) -> list[str]:
    """Requests leaving the server's origin are recorded and blocked."""
    outside: list[str] = []

    def route(request_route) -> None:
        url = request_route.request.url
        if url.startswith(origin) or url.startswith("data:"):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    page.route("**/*", route)
    return outside


def test_type_a_sentence_click_translate_and_read_the_translation(browser_page, multi_model_dir, tmp_path):
    loaded = load_model(multi_model_dir)
    sentence = "Where is the station?"
    expected = Translator(loaded, "ja").translate([sentence], loaded.info.decode)[0].text
    app, _ = make_app(loaded)
    with running(app) as listener:
        page = browser_page
        outside = watch_requests(page, listener.url)
        page.goto(listener.url + "/")
        page.wait_for_function("document.querySelectorAll('#target option').length == 2")
        assert page.locator("#model").inner_text().startswith("model ")
        page.select_option("#target", "ja")
        page.fill("#source", sentence)
        page.click("#translate")
        page.wait_for_function("document.querySelector('#result').textContent.length > 0")
        assert page.locator("#result").inner_text() == expected
        assert page.locator("#error").inner_text() == ""
        page.screenshot(path=str(tmp_path / "page.png"))
        assert outside == []


def test_pick_a_document_translate_it_and_download_it(browser_page, single_model_dir, tmp_path):
    from translate_cli.core.documents import markdown

    guide = Path(__file__).parent / "fixtures" / "documents" / "guide.md"
    app, _ = make_app(load_model(single_model_dir))
    with running(app) as listener:
        page = browser_page
        outside = watch_requests(page, listener.url)
        page.goto(listener.url + "/")
        page.wait_for_function("document.querySelectorAll('#target option').length == 1")
        page.set_input_files("#file", str(guide))
        page.click("#translate-file")
        page.wait_for_selector("#download:not(.hidden)")
        assert page.locator("#download").inner_text() == "Download guide.ja.md"
        with page.expect_download() as download:
            page.click("#download")
        saved = tmp_path / "guide.ja.md"
        download.value.save_as(saved)
        assert markdown.structure(saved.read_text(encoding="utf-8")) == markdown.structure(guide.read_text())
        assert page.locator("#error").inner_text() == "" and outside == []


def test_an_error_from_the_api_is_shown_on_the_page(browser_page, single_model_dir):
    app, _ = make_app(load_model(single_model_dir), max_chars=10)
    with running(app) as listener:
        page = browser_page
        page.goto(listener.url + "/")
        page.wait_for_function("document.querySelectorAll('#target option').length == 1")
        page.fill("#source", "This sentence is longer than ten characters.")
        page.click("#translate")
        page.wait_for_function("document.querySelector('#error').textContent.length > 0")
        assert "takes at most 10 per string" in page.locator("#error").inner_text()


def test_the_openapi_page_renders_offline(browser_page, single_model_dir):
    app, _ = make_app(load_model(single_model_dir))
    with running(app) as listener:
        page = browser_page
        outside = watch_requests(page, listener.url)
        page.goto(listener.url + "/docs")
        page.wait_for_selector("text=/translate")
        assert page.locator(".opblock").count() >= 4  # /health, /info, /languages, /translate
        assert outside == []
