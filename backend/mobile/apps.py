from __future__ import annotations

from django.apps import AppConfig


class MobileConfig(AppConfig):
    """The phone app's compositions over the domains: the home screen and delta sync. No models of its own."""

    name = "backend.mobile"
    label = "mobile"
    verbose_name = "Mobile"
