"""The interactive docs at /api/v1/docs work on a machine without internet: a real browser (Debian's chromium,
driven by Playwright) loads them from a live server with every request off 127.0.0.1 blocked, and sees the
operations rendered.

Skipped when chromium is not installed, unless BRIGADA_REQUIRE_BROWSER=1 (CI sets it): then it fails.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser import local_only


@pytest.fixture
def browser_page(browser: Any) -> Any:
    return browser.new_page()


@pytest.mark.django_db(transaction=True)
def test_the_docs_load_offline_and_show_the_operations(live_server: Any, browser_page: Any) -> None:
    page = browser_page
    blocked = local_only(page)
    assert urlsplit(live_server.url).hostname in {"127.0.0.1", "localhost"}
    base = live_server.url.replace("localhost", "127.0.0.1")

    response = page.goto(f"{base}/api/v1/docs", wait_until="load", timeout=30_000)
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)

    assert response is not None and response.status == 200
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/crm/imports/{job_id}" in [p.replace("\u200b", "") for p in paths]
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Brigada API")
    assert blocked == [], f"the docs page tried to reach the internet: {blocked}"
