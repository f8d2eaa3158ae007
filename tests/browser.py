"""A real headless browser for tests: Debian's chromium driven by Playwright (never `playwright install`).

Skipped when chromium is not installed, unless BRIGADA_REQUIRE_BROWSER=1 (CI sets it): then it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
REQUIRED = os.environ.get("BRIGADA_REQUIRE_BROWSER") == "1"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def browser_missing() -> str | None:
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (dev extra)"
    return None


@pytest.fixture
def browser() -> Iterator[Any]:
    """A launched chromium (Playwright ``Browser``)."""
    missing = browser_missing()
    if missing:
        if REQUIRED:
            pytest.fail(f"BRIGADA_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def local_only(page: Any) -> list[str]:
    """Block every request off 127.0.0.1 on ``page``; the returned list collects what was blocked."""
    blocked: list[str] = []

    def route(handler: Any) -> None:
        url = handler.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            handler.continue_()
        else:
            blocked.append(url)
            handler.abort()

    page.route("**/*", route)
    return blocked
