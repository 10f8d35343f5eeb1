"""Screenshot of `tcli serve`'s web page after translating three sentences and a file (the README's picture).

    python scripts/serve_screenshot.py --model runs/en-ja/best -o docs/images/serve-page.png

The file (default: tests/fixtures/documents/guide.md) goes through the page's file picker and
/translate_file, so the picture shows the picker and the download link of the translated file.

Serves the model in-process on a free loopback port and drives Debian's Chromium through Playwright,
exactly as tests/test_serve_browser.py does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from translate_cli.core.native import load_native
from translate_cli.core.serving.batcher import BatchSettings
from translate_cli.core.serving.limits import ServerLimits
from translate_cli.core.serving.service import TranslationService
from translate_cli.server.app import create_app
from translate_cli.server.listener import Listener

REPO = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--output", "-o", required=True)
    parser.add_argument("--text", default="Where is the station?\nI'm in the tennis club.\nIt's raining today.")
    parser.add_argument("--file", default=str(REPO / "tests/fixtures/documents/guide.md"))
    args = parser.parse_args()
    loaded = load_native(args.model)
    service = TranslationService(loaded, loaded.info.decode, BatchSettings(), "native")
    listener = Listener(create_app(service, ServerLimits()), "127.0.0.1", 0)
    listener.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 900, "height": 480})
            page.goto(listener.url + "/")
            page.wait_for_function("document.querySelectorAll('#target option').length > 0")
            page.fill("#source", args.text)
            page.click("#translate")
            page.wait_for_function("document.querySelector('#result').textContent.length > 0")
            page.set_input_files("#file", args.file)
            page.click("#translate-file")
            page.wait_for_function("!document.querySelector('#download').classList.contains('hidden')", timeout=120_000)
            page.screenshot(path=args.output)
            print(page.locator("#result").inner_text())
            browser.close()
    finally:
        listener.stop()
        listener.join(60)


if __name__ == "__main__":
    main()
