"""One error envelope for every API error: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import bad_request
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled, ValidationError
from ninja.parser import Parser

from backend.core.exceptions import ApplicationError, ErrorCode

logger = logging.getLogger("brigada.api")


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, Any] = {}


class ErrorEnvelope(Schema):
    error: ErrorBody


# The router's own answer (a known path, another method); no service raises it, so it is not in ErrorCode.
METHOD_NOT_ALLOWED = "method_not_allowed"

STATUS_CODES: dict[int, str] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.THROTTLED,
}

# Every operation documents these (the status the framework itself may return), so schema checks and mobile
# clients know them.
COMMON_ERROR_RESPONSES: dict[int, type[Schema]] = {401: ErrorEnvelope, 422: ErrorEnvelope, 429: ErrorEnvelope}
OBJECT_ERROR_RESPONSES: dict[int, type[Schema]] = {
    **COMMON_ERROR_RESPONSES,
    403: ErrorEnvelope,
    404: ErrorEnvelope,
}


def error_response(
    api: NinjaAPI,
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message: str,
    fields: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = api.create_response(request, envelope(code=code, message=message, fields=fields), status=status)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


API_PREFIX = "/api/v1/"


def envelope(*, code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error body: ``{"error": {"code", "message", "fields"}}``."""
    return {"error": {"code": str(code), "message": str(message), "fields": fields or {}}}


class NotAnObject(ValueError):
    """A JSON body that parsed but is not an object (a list, a string, a number, null)."""


class ObjectBodyParser(Parser):
    """JSON bodies must be objects. ninja's schemas read a non-object like a model instance (by attribute), so
    ``[]`` sent to a PATCH of optional fields validated as "nothing to change" and answered 200."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise NotAnObject(type(data).__name__)
        return data


def _malformed_multipart() -> dict[str, Any]:
    message = _("The multipart body is malformed.")
    return envelope(code=ErrorCode.VALIDATION_ERROR, message=message, fields={"__all__": [message]})


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler400``: a body Django could not parse before the view ran (e.g. a middleware read
    ``request.POST`` of a broken multipart upload) still gets the envelope under /api/v1/."""
    if not request.path.startswith(API_PREFIX):
        return bad_request(request, exception)  # type: ignore[arg-type]
    if isinstance(exception, MultiPartParserError):
        return JsonResponse(_malformed_multipart(), status=422)
    return JsonResponse(envelope(code=ErrorCode.BAD_REQUEST, message=_("Bad request.")), status=400)


@csrf_exempt
def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any path under /api/v1/ that no route matches, whatever the method: the envelope, not Django's page."""
    return JsonResponse(envelope(code=ErrorCode.NOT_FOUND, message=_("Not found.")), status=404)


def method_not_allowed_as_envelope(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a route's view: ninja answers a known path with another method by a plain-text 405."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            message = _("Method not allowed. Use %(methods)s.") % {"methods": allowed}
            response = JsonResponse(envelope(code=METHOD_NOT_ALLOWED, message=message), status=405)
            response["Allow"] = allowed
        return response

    return wrapper


def _validation_fields(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header", "payload")]
        key = ".".join(loc) or "__all__"
        fields.setdefault(key, []).append(str(err.get("msg", _("Invalid value."))))
    return fields


def install_error_handlers(api: NinjaAPI) -> None:
    """Map every exception a request can raise to the envelope; nothing falls through to an HTML 500."""

    @api.exception_handler(ApplicationError)
    def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
        return error_response(
            api,
            request,
            status=exc.status,
            code=exc.code,
            message=exc.message,
            fields=exc.fields,
            headers=exc.headers,
        )

    @api.exception_handler(ValidationError)
    def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return error_response(
            api,
            request,
            status=422,
            code=ErrorCode.VALIDATION_ERROR,
            message=_("Some fields are invalid."),
            fields=_validation_fields(list(exc.errors)),
        )

    @api.exception_handler(Throttled)
    def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        wait = max(1, int(getattr(exc, "wait", None) or 1))
        return error_response(
            api,
            request,
            status=429,
            code=ErrorCode.THROTTLED,
            message=_("Too many requests. Try again in %(seconds)d s.") % {"seconds": wait},
            headers={"Retry-After": str(wait)},
        )

    @api.exception_handler(AuthenticationError)
    def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(
            api,
            request,
            status=401,
            code=ErrorCode.UNAUTHORIZED,
            message=_("Sign in first: send a valid bearer token."),
            headers={"WWW-Authenticate": "Bearer"},
        )

    @api.exception_handler(AuthorizationError)
    def on_authorization_error(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
        return error_response(api, request, status=403, code=ErrorCode.FORBIDDEN, message=_("Forbidden."))

    @api.exception_handler(HttpError)
    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        status = int(exc.status_code)
        if status == 400 and isinstance(exc.__cause__, NotAnObject):
            message = _("The body must be a JSON object.")
            return error_response(
                api,
                request,
                status=422,
                code=ErrorCode.VALIDATION_ERROR,
                message=message,
                fields={"__all__": [message]},
            )
        if status == 400:
            # django-ninja raises 400 for a body it cannot parse (not JSON, wrong encoding): for the client that is
            # invalid input like any other, so it gets the one documented validation status.
            return error_response(
                api,
                request,
                status=422,
                code=ErrorCode.VALIDATION_ERROR,
                message=str(exc),
                fields={"__all__": [str(exc)]},
            )
        return error_response(api, request, status=status, code=STATUS_CODES.get(status, "error"), message=str(exc))

    @api.exception_handler(Http404)
    def on_404(request: HttpRequest, exc: Exception) -> HttpResponse:
        return error_response(api, request, status=404, code=ErrorCode.NOT_FOUND, message=_("Not found."))

    @api.exception_handler(ObjectDoesNotExist)
    def on_does_not_exist(request: HttpRequest, exc: Exception) -> HttpResponse:
        return error_response(api, request, status=404, code=ErrorCode.NOT_FOUND, message=_("Not found."))

    @api.exception_handler(DjangoPermissionDenied)
    def on_permission_denied(request: HttpRequest, exc: Exception) -> HttpResponse:
        return error_response(api, request, status=403, code=ErrorCode.FORBIDDEN, message=_("Forbidden."))

    @api.exception_handler(IntegrityError)
    def on_integrity_error(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
        # A constraint the service did not translate: still the caller's conflict, never a 500.
        logger.warning("integrity error reached the API", extra={"path": request.path})
        return error_response(
            api,
            request,
            status=409,
            code=ErrorCode.CONFLICT,
            message=_("The change conflicts with existing data."),
        )

    @api.exception_handler(DatabaseError)
    def on_database_error(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
        sqlstate = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
        if sqlstate in {"40001", "40P01"}:
            return error_response(
                api,
                request,
                status=409,
                code=ErrorCode.CONFLICT,
                message=_("A concurrent change won. Try again."),
            )
        if sqlstate and sqlstate.startswith("22"):
            # Class 22 "data exception" (too long, out of range, bad encoding...): the input was bad, not the server.
            logger.warning("data error reached the API", extra={"path": request.path, "sqlstate": sqlstate})
            return error_response(
                api, request, status=422, code=ErrorCode.VALIDATION_ERROR, message=_("A value is out of range.")
            )
        if isinstance(exc, OperationalError | InterfaceError):
            # The database is unreachable or restarting: worth a retry.
            logger.warning("database unavailable", extra={"path": request.path, "error": type(exc).__name__})
            return error_response(
                api,
                request,
                status=503,
                code="unavailable",
                message=_("Service temporarily unavailable."),
                headers={"Retry-After": "2"},
            )
        logger.exception("database error", extra={"path": request.path})
        return error_response(api, request, status=500, code="internal_error", message=_("Internal error."))

    @api.exception_handler(MultiPartParserError)
    def on_malformed_multipart(request: HttpRequest, exc: Exception) -> HttpResponse:
        return api.create_response(request, _malformed_multipart(), status=422)

    @api.exception_handler(RequestDataTooBig)
    def on_too_big(request: HttpRequest, exc: Exception) -> HttpResponse:
        return error_response(
            api, request, status=413, code="payload_too_large", message=_("The request body is too large.")
        )

    @api.exception_handler(Exception)
    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("unhandled error", extra={"path": request.path})
        return error_response(api, request, status=500, code="internal_error", message=_("Internal error."))
