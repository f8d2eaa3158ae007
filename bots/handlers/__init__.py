"""The one registry of handler modules: each has ``register(application)``.

Order matters: PTB tries handlers of one group in registration order, so the core (``/start``, ``/lang``, contact
sharing) comes first and the domains after it. Customers and workers own their modules; this list is the only
place that names them.
"""

from __future__ import annotations

from telegram.ext import Application

from bots.handlers import core, customers, workers

MODULES = (core, customers, workers)


def register_all(application: Application) -> None:  # type: ignore[type-arg]
    for module in MODULES:
        module.register(application)
