from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class BrigadaAdminConfig(AdminConfig):
    """Django's admin with Brigada's site: the business first, the plumbing in one system section."""

    default_site = "backend.backoffice.site.BrigadaAdminSite"
