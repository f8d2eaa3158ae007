"""The back office's admin site: the index puts the business first and gathers the plumbing in one section.

Plumbing is every model whose admin is a :class:`~backend.core.admin_tenancy.SuperuserOnlyAdmin` (tokens, one-time
codes, idempotency records, worker heartbeats, delivery rate slots, task results, groups): data with no organization
to scope by, which only superusers see at all. The index shows it last, under "System", and only to superusers; the
models keep their own app pages and permissions (the section is a view, not a guard: the guard is the admin class).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from backend.core.admin_tenancy import SuperuserOnlyAdmin

#: Apps in the order a manager reads them; apps not named follow in Django's (alphabetical) order.
BUSINESS_ORDER = ("staffing", "booking", "crm", "catalog", "organizations", "imports", "notifications", "accounts")
SYSTEM_LABEL = "system"


class BrigadaAdminSite(admin.AdminSite):
    site_header = "Brigada"
    site_title = _("Brigada back office")
    index_title = _("Today")

    def _is_plumbing(self, model: type[Any]) -> bool:
        return isinstance(self._registry.get(model), SuperuserOnlyAdmin)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        business: list[dict[str, Any]] = []
        system: list[dict[str, Any]] = []
        for app in apps:
            kept = []
            for entry in app["models"]:
                if self._is_plumbing(entry["model"]):
                    system.append({**entry, "name": f"{entry['name']} ({app['name']})"})
                else:
                    kept.append(entry)
            if kept:
                business.append({**app, "models": kept})
        rank = {label: i for i, label in enumerate(BUSINESS_ORDER)}
        business.sort(key=lambda app: (rank.get(app["app_label"], len(rank)), str(app["name"])))
        if system and request.user.is_superuser:
            business.append(
                {
                    "name": _("System"),
                    "app_label": SYSTEM_LABEL,
                    "app_url": "#system",
                    "has_module_perms": True,
                    "models": sorted(system, key=lambda entry: str(entry["name"])),
                }
            )
        return business

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        context["brigada_pages"] = live_pages()
        return context


def live_pages() -> list[dict[str, str]]:
    """The back office's live pages, linked from every admin page's header and the index."""
    from django.urls import reverse

    return [
        {"title": str(_("Live order board")), "url": reverse("backoffice:board")},
        {"title": str(_("Booking journal")), "url": reverse("backoffice:journal")},
    ]
