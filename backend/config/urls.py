from django.contrib import admin
from django.urls import path

from backend.core.views import healthz
from mobile_api.api import api

admin.site.site_header = "Brigada"
admin.site.site_title = "Brigada back office"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
