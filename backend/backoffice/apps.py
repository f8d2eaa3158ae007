from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    name = "backend.backoffice"
    label = "backoffice"
    verbose_name = _("Back office")

    def ready(self) -> None:
        from django.contrib import admin

        # The landing page puts today's business first (``selectors.today_figures``), then the admin's app list.
        admin.site.index_template = "backoffice/index.html"
