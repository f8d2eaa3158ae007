from __future__ import annotations

from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The back office's own pages (the live order board, the booking journal) and its admin templates."""

    name = "backend.backoffice"
    label = "backoffice"
    verbose_name = "Back office"
