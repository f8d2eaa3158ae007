"""Interactive docs at /api/v1/docs that work without internet: Swagger UI from django-ninja's bundled assets.

django-ninja serves its bundled copy only when ``ninja`` is in INSTALLED_APPS, through ``{% static %}``, which
needs a static file server in production (daphne serves none). Here the API serves the few asset files itself,
from the installed ninja package, so the page loads on a machine without internet in every deployment.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ninja
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.html import escape
from ninja.openapi.docs import DocsBase

from .errors import not_found_view

if TYPE_CHECKING:
    from ninja import NinjaAPI

ASSET_DIR = Path(ninja.__file__).parent / "static" / "ninja"
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-init.js", "favicon.svg", "favicon.png"})
ASSET_URL_NAME = "docs-asset"

_PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    <link type="text/css" rel="stylesheet" href="{css}">
    <link rel="icon" href="{favicon}" type="image/svg+xml">
    <title>{title}</title>
</head>
<body data-csrf-token="" data-api-csrf="">
    <script type="application/json" id="swagger-settings">{settings}</script>
    <div id="swagger-ui"></div>
    <script src="{bundle}"></script>
    <script src="{init}"></script>
</body>
</html>
"""


class LocalSwagger(DocsBase):
    """Swagger UI whose CSS and JavaScript come from this API's own URLs (no CDN)."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings: dict[str, Any] = {"layout": "BaseLayout", "deepLinking": True, **(settings or {})}

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        def asset(name: str) -> str:
            return escape(reverse(f"{api.urls_namespace}:{ASSET_URL_NAME}", kwargs={"name": name}))

        config = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        # JSON inside a <script> element: "<" escaped so no string can close the element.
        settings_json = json.dumps(config).replace("<", "\\u003c")
        html = _PAGE.format(
            css=asset("swagger-ui.css"),
            favicon=asset("favicon.svg"),
            bundle=asset("swagger-ui-bundle.js"),
            init=asset("swagger-ui-init.js"),
            title=escape(api.title),
            settings=settings_json,
        )
        return HttpResponse(html, content_type="text/html; charset=utf-8")


def docs_asset(request: HttpRequest, name: str) -> HttpResponseBase:
    """One of the bundled Swagger UI files; anything else is a 404 (the name never reaches the file system)."""
    if name not in ASSETS:
        return not_found_view(request)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse((ASSET_DIR / name).open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response
