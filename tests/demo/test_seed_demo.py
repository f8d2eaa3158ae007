from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from backend.accounts.models import User
from backend.demo.services import DEMO_ADMIN_PHONE
from backend.organizations.models import Membership, Organization, OrganizationKind, Role

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_the_world_and_is_idempotent() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    counts = (Organization.objects.count(), User.objects.count(), Membership.objects.count())

    call_command("seed_demo", stdout=StringIO())

    assert (Organization.objects.count(), User.objects.count(), Membership.objects.count()) == counts
    assert "Demo world ready." in out.getvalue()
    assert DEMO_ADMIN_PHONE in out.getvalue()
    assert User.objects.get(phone=DEMO_ADMIN_PHONE).is_superuser


def test_demo_world_has_a_franchise_tree_and_every_role(db: Any) -> None:
    call_command("seed_demo", stdout=StringIO())

    almaty = Organization.objects.get(name="Brigada Loaders Almaty")
    assert almaty.parent is not None and almaty.parent.kind == OrganizationKind.STAFFING_AGENCY
    assert set(Membership.objects.values_list("role", flat=True)) == set(Role.values)
