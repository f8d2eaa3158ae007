from __future__ import annotations

from django.contrib import admin
from django.urls import path

from . import views

app_name = "backoffice"

# Behind the admin's login: staff only, a signed-out visitor is sent to the login page.
urlpatterns = [
    path("staffing/board/", admin.site.admin_view(views.board), name="board"),
    path("booking/journal/", admin.site.admin_view(views.journal), name="journal"),
    path("page-token/", admin.site.admin_view(views.page_token), name="page_token"),
]
