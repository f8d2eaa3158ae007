"""One ASGI application for HTTP (Django + django-ninja) and WebSockets (Channels)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings.base")
# Django must be set up before consumers or models are imported.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from backend.realtime.auth import BearerTokenAuthMiddleware  # noqa: E402
from backend.realtime.routing import websocket_urlpatterns  # noqa: E402

# No AllowedHostsOriginValidator: native mobile clients send no Origin, and auth is by bearer token, not
# cookies, so cross-site WebSocket hijacking does not apply.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BearerTokenAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
