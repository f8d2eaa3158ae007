"""The interactive docs at /api/v1/docs work on a machine without internet: a real browser (Debian's chromium,
driven by Playwright) loads them from a live server with every request off 127.0.0.1 blocked, and sees the
operations rendered.

Skipped when chromium is not installed, unless BRIGADA_REQUIRE_BROWSER=1 (CI sets it): then it fails.
"""

from __future__ import annotations

import os
import shutil
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
REQUIRED = os.environ.get("BRIGADA_REQUIRE_BROWSER") == "1"


def _browser_missing() -> str | None:
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (dev extra)"
    return None


@pytest.fixture
def browser_page() -> Any:
    missing = _browser_missing()
    if missing:
        if REQUIRED:
            pytest.fail(f"BRIGADA_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


@pytest.mark.django_db(transaction=True)
def test_the_docs_load_offline_and_show_the_operations(live_server: Any, browser_page: Any) -> None:
    page = browser_page
    blocked: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", only_local)
    assert urlsplit(live_server.url).hostname in {"127.0.0.1", "localhost"}
    base = live_server.url.replace("localhost", "127.0.0.1")

    response = page.goto(f"{base}/api/v1/docs", wait_until="load", timeout=30_000)
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)

    assert response is not None and response.status == 200
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/crm/imports/{job_id}" in [p.replace("\u200b", "") for p in paths]
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Brigada API")
    assert blocked == [], f"the docs page tried to reach the internet: {blocked}"
