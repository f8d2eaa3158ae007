"""The back office's live pages. Thin: the staffing and booking services decide who may watch what; these views
render a page that then talks to the API and the sockets with a page token (``page_token``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    JsonResponse,
)
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from backend.accounts.tokens import page_token_issue
from backend.core.exceptions import ApplicationError

from . import services


def _refused(refusal: ApplicationError) -> HttpResponse:
    if refusal.status == 404:
        raise Http404(refusal.message)
    return HttpResponseForbidden(refusal.message)


def _id_param(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
        raise Http404(name)
    return int(raw)


def board(request: HttpRequest) -> HttpResponse:
    """The dispatchers' live order board of one organization (``?organization_id=``, else the caller's own)."""
    try:
        context = services.board_page(user=request.user, organization_id=_id_param(request, "organization_id"))
    except ApplicationError as refusal:
        return _refused(refusal)
    return render(request, "backoffice/board.html", {**admin.site.each_context(request), **context})


def journal(request: HttpRequest) -> HttpResponse:
    """A branch's booking journal (``?branch_id=``, else the caller's first branch), masters side by side, from
    ``?date=`` (an ISO day; today at the branch by default)."""
    try:
        day = dt.date.fromisoformat(request.GET["date"]) if request.GET.get("date") else None
    except ValueError:
        return HttpResponseBadRequest(_("Enter a date as YYYY-MM-DD."))
    try:
        context = services.journal_page(user=request.user, branch_id=_id_param(request, "branch_id"), day=day)
    except ApplicationError as refusal:
        return _refused(refusal)
    return render(request, "backoffice/journal.html", {**admin.site.each_context(request), **context})


@require_POST
def page_token(request: HttpRequest) -> JsonResponse:
    """A fresh page token for the signed-in staff user (the pages ask for one before theirs expires)."""
    raw, expires_at = page_token_issue(user=request.user)  # type: ignore[arg-type]
    body: dict[str, Any] = {"token": raw, "expires_at": expires_at.isoformat()}
    return JsonResponse(body, headers={"Cache-Control": "no-store"})
