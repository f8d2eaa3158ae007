from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The back office's own pages (the live order board, the booking journal, today's numbers on the index) and
    its admin templates."""

    name = "backend.backoffice"
    label = "backoffice"
    verbose_name = _("Back office")
