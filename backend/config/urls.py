from django.contrib import admin
from django.urls import include, path

from backend.core.views import healthz
from bots.webhook import telegram_webhook
from mobile_api.api import api

admin.site.site_header = "Brigada"
admin.site.site_title = "Brigada back office"

# A body Django cannot parse before a view runs (a broken multipart upload read by a middleware) is a 400 raised
# outside django-ninja: under /api/v1/ it still answers with the error envelope.
handler400 = "mobile_api.errors.bad_request_view"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("backoffice/", include("backend.backoffice.urls")),
    path("api/v1/", api.urls),
    path("telegram/webhook/<str:path_token>/", telegram_webhook, name="telegram-webhook"),
]
