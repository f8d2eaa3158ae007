"""``{% today_numbers %}``: the landing page's figures for the signed-in staff user."""

from __future__ import annotations

from typing import Any

from django import template

from backend.backoffice.selectors import today_figures

register = template.Library()


@register.inclusion_tag("backoffice/today.html", takes_context=True)
def today_numbers(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"figures": today_figures(user=user) if user is not None else None}
