"""The versioned API at /api/v1: routers per domain, one error envelope, bearer auth, throttles."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import URLPattern, URLResolver, re_path
from django.urls import path as url_path
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.throttling import AnonRateThrottle, AuthRateThrottle

from .auth.router import router as auth_router
from .booking.router import router as booking_router
from .booking.slots import router as booking_slots_router
from .catalog.router import router as catalog_router
from .crm.router import router as crm_router
from .docs import ASSET_URL_NAME, LocalSwagger, docs_asset
from .errors import (
    API_PREFIX,
    ObjectBodyParser,
    install_error_handlers,
    method_not_allowed_as_envelope,
    not_found_view,
)
from .idempotency import EXEMPT_PREFIXES, HEADER
from .idempotency import WRITE_METHODS as IDEMPOTENT_METHODS
from .imports.router import router as imports_router
from .security import bearer
from .staffing.router import router as staffing_router
from .system.router import router as system_router

DESCRIPTION = """
Brigada's API for the mobile app, the Telegram bot's web parts and integrations.

* **Auth**: request a one-time code with `POST /auth/otp/request`, exchange it at `POST /auth/otp/verify` for an
  access token (15 min) and a refresh token; send `Authorization: Bearer <access>`.
* **Errors** always look like `{"error": {"code": "slot_taken", "message": "...", "fields": {...}}}`; branch on
  `code`. 401 unauthorized, 403 forbidden (your role), 404 not found (also for other organizations' objects),
  409 conflict, 422 validation_error (also for a body that is not a JSON object or a malformed multipart
  upload), 429 throttled (with `Retry-After`). A path that does not exist is a 404 `not_found` and a known path
  with another method a 405 `method_not_allowed` (with `Allow`), in the same envelope.
* **Idempotency**: every POST, PUT, PATCH and DELETE accepts an `Idempotency-Key` header; a retry with the same key
  and body returns the stored response, the same key with another body is a 422 `idempotency_key_reused`.
* **ETags**: every successful GET carries an `ETag`; send it back in `If-None-Match` and get a 304 without a body
  while nothing changed.
* **Offline sync**: `GET /sync` gives a full snapshot and then the changes since a cursor (see its description).
* **Pagination**: list endpoints return `{"items": [...], "next_cursor": "..."}`; pass `cursor` to continue.
"""


IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
    "description": "Retry-safe key: the same key and body return the stored response (kept 48 h).",
}


IF_NONE_MATCH_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string", "maxLength": 1024},
    "description": "The ETag of the body you hold: 304 without a body when it still holds.",
}
WRITE_METHODS = tuple(sorted(m.lower() for m in IDEMPOTENT_METHODS))


class BrigadaAPI(NinjaAPI):
    """NinjaAPI that documents the Idempotency-Key header on every POST it applies to, answers unknown paths and
    methods with the envelope and serves its docs' assets itself."""

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = method_not_allowed_as_envelope(pattern.callback)
        return [
            *urls,
            url_path("docs/assets/<str:name>", docs_asset, name=ASSET_URL_NAME),
            # Last: whatever no route above matched, in any method.
            re_path(r"^.*$", not_found_view, name="not-found"),
        ]

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith(API_PREFIX):
                continue
            read = operations.get("get")
            if read is not None:
                params = read.setdefault("parameters", [])
                if not any(p.get("name") == "If-None-Match" for p in params):
                    params.append(dict(IF_NONE_MATCH_PARAMETER))
                read.setdefault("responses", {})[304] = {"description": "Not modified: the tag you sent still holds."}
            if path.startswith(EXEMPT_PREFIXES):
                continue
            for method in WRITE_METHODS:
                write = operations.get(method)
                if write is None:
                    continue
                params = write.setdefault("parameters", [])
                if not any(p.get("name") == HEADER for p in params):
                    params.append(dict(IDEMPOTENCY_PARAMETER))
                responses = write.setdefault("responses", {})
                if 409 in responses or "409" in responses:
                    continue
                responses[409] = {
                    "description": "Conflict",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
                }
        return schema


def build_api() -> NinjaAPI:
    api = BrigadaAPI(
        title="Brigada API",
        version="1",
        description=DESCRIPTION,
        urls_namespace="api-v1",
        docs=LocalSwagger(),
        parser=ObjectBodyParser(),
        auth=bearer,
        throttle=[
            AnonRateThrottle(settings.BRIGADA_THROTTLE_ANON),
            AuthRateThrottle(settings.BRIGADA_THROTTLE_USER),
        ],
    )
    install_error_handlers(api)
    api.add_router("/auth", auth_router)
    api.add_router("", system_router)
    api.add_router("/crm", crm_router)
    api.add_router("/crm/imports", imports_router)
    api.add_router("/catalog", catalog_router)
    api.add_router("/staffing", staffing_router)
    api.add_router("/staffing", "mobile_api.staffing.attendance.router")
    api.add_router("/booking", booking_slots_router)
    api.add_router("/booking", booking_router)
    api.add_router("/booking", "mobile_api.booking_comms.router.router")  # waiting list, reviews, mailings (b-comms)
    api.add_router("", "mobile_api.sync.router.router")  # delta sync (mobile-sync)
    api.add_router("", "mobile_api.home.router.router")  # the first screen per role (mobile-sync)
    api.add_router("/devices", "mobile_api.devices.router.router")  # push registration (mobile-contract)
    return api


api = build_api()
