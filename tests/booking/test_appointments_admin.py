"""The back office shows appointments of the staff's own organizations, read-only for everyone."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client as DjangoClient
from django.urls import reverse

from backend.booking.models import Appointment
from backend.booking.services.appointments import appointment_create_for_customer
from backend.organizations.models import Role
from tests.booking.appointments_world import NOW, local, world_build
from tests.conftest import member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _web(user: Any) -> DjangoClient:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="booking"))
    web = DjangoClient()
    web.force_login(user)
    return web


def test_staff_see_their_appointments_only_and_nobody_edits_them_here() -> None:
    mine, theirs = world_build("Salon A"), world_build("Salon B")
    for w in (mine, theirs):
        appointment_create_for_customer(
            user=w.customer, branch_id=w.branch.pk, service_ids=[w.haircut.pk], start=local(2, 10), now=NOW
        )
    staff = member(mine.org, Role.MANAGER, is_staff=True)
    web = _web(staff)
    listing = web.get(reverse("admin:booking_appointment_changelist"))
    assert listing.status_code == 200
    shown = set(listing.context["cl"].queryset.values_list("organization_id", flat=True))
    assert shown == {mine.org.pk}
    appointment = Appointment.objects.get(organization=mine.org)
    page = web.get(reverse("admin:booking_appointment_change", args=[appointment.pk]))
    assert page.status_code == 200  # viewable
    # a superuser cannot change or delete one through a form either
    root = UserFactory(is_staff=True, is_superuser=True)
    superweb = _web(root)
    posted = superweb.post(reverse("admin:booking_appointment_change", args=[appointment.pk]), {"status": "done"})
    assert posted.status_code == 403
    assert superweb.get(reverse("admin:booking_appointment_delete", args=[appointment.pk])).status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == "booked"
