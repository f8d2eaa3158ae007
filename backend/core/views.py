"""Operational endpoints."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from .health import health_report


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, channel layer and task queue; 200 when all are up, 503 otherwise."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
