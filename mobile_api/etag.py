"""ETag / If-None-Match for every read under /api/v1/, in one place (decision 0023).

A phone on a slow link re-reads the same lists often; with the tag of the body it already holds it gets a 304
without a body when nothing changed. The tag is computed here from the serialized answer, never by a route: a route
cannot forget it, and two routes cannot tag alike bodies differently. It is Django's ``ConditionalGetMiddleware``
(strong tag of the body, RFC 9110 weak comparison of ``If-None-Match``), narrowed to the API's successful GETs and
made private: an answer depends on who asks (``Vary: Authorization``) and must be revalidated before reuse
(``Cache-Control: private, no-cache``), so no shared cache serves one caller's body to another.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.middleware.http import ConditionalGetMiddleware
from django.utils.cache import patch_vary_headers

from .errors import API_PREFIX


class ApiETagMiddleware(ConditionalGetMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if request.method != "GET" or not request.path.startswith(API_PREFIX) or response.status_code != 200:
            return response
        if response.streaming or not response.get("Content-Type", "").startswith("application/json"):
            return response  # files and streams are not tagged: their body is not held in memory to hash
        patch_vary_headers(response, ("Authorization",))
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "private, no-cache"
        return super().process_response(request, response)
