from __future__ import annotations

from typing import Any

import pytest

from backend.core.exceptions import NotFound, PermissionDenied
from backend.organizations.models import Role
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, organization_ids_for
from tests.conftest import member
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def test_hq_sees_its_franchises_but_a_franchise_sees_neither_sibling_nor_hq() -> None:
    hq = OrganizationFactory(name="HQ")
    north = OrganizationFactory(name="North", parent=hq)
    south = OrganizationFactory(name="South", parent=hq)
    hq_manager = member(hq, Role.MANAGER)
    north_manager = member(north, Role.MANAGER)

    assert organization_ids_for(hq_manager) == {hq.id, north.id, south.id}
    assert organization_ids_for(north_manager) == {north.id}
    with pytest.raises(NotFound):
        organization_access_check(north_manager, south.id, Perm.CLIENT_VIEW)
    with pytest.raises(NotFound):
        organization_access_check(north_manager, hq.id, Perm.CLIENT_VIEW)


def test_a_role_without_the_right_is_forbidden_not_hidden() -> None:
    salon = OrganizationFactory()
    worker = member(salon, Role.WORKER)

    with pytest.raises(PermissionDenied):
        organization_access_check(worker, salon.id, Perm.CLIENT_VIEW)
    organization_access_check(worker, salon.id, Perm.STAFFING_SELF)


def test_inactive_membership_grants_nothing() -> None:
    salon = OrganizationFactory()
    user = member(salon, Role.OWNER)
    user.memberships.update(is_active=False)

    assert organization_ids_for(user) == set()


def test_default_organization_skips_a_deactivated_one() -> None:
    closed = OrganizationFactory(is_active=False)
    open_org = OrganizationFactory()
    user = member(closed, Role.MANAGER)
    from backend.organizations.models import Membership

    Membership.objects.create(user=user, organization=open_org, role=Role.MANAGER)

    from backend.organizations.selectors import default_organization_id

    assert default_organization_id(user) == open_org.id


def test_the_scope_is_one_query_at_any_depth_and_a_role_reaches_down_only(django_assert_num_queries: Any) -> None:
    # HQ -> region -> branch office: an HQ manager reaches all three, a worker at the region only the region
    # and below (and without the right to view clients), a stranger none; each check is one round trip.
    hq = OrganizationFactory(name="HQ")
    region = OrganizationFactory(name="Region", parent=hq)
    office = OrganizationFactory(name="Office", parent=region, is_active=False)  # inactive: still covered
    stranger_org = OrganizationFactory(name="Elsewhere")
    hq_manager = member(hq, Role.MANAGER)
    region_worker = member(region, Role.WORKER)
    region_worker_elsewhere = MembershipFactory(user=region_worker, organization=stranger_org, role=Role.MANAGER)
    with django_assert_num_queries(1):
        organization_access_check(hq_manager, office.id, Perm.CLIENT_VIEW)
    with django_assert_num_queries(1):
        assert organization_ids_for(hq_manager, Perm.CLIENT_VIEW) == {hq.id, region.id, office.id}
    with django_assert_num_queries(1), pytest.raises(PermissionDenied):
        organization_access_check(region_worker, office.id, Perm.CLIENT_VIEW)
    organization_access_check(region_worker, office.id, Perm.STAFFING_SELF)
    with pytest.raises(NotFound):
        organization_access_check(region_worker, hq.id, Perm.STAFFING_SELF)
    # the role that reaches an organization is the one of the membership above it, not another one of the user's
    assert organization_ids_for(region_worker, Perm.CLIENT_VIEW) == {stranger_org.id}
    assert organization_ids_for(region_worker) == {region.id, office.id, stranger_org.id}
    region_worker_elsewhere.is_active = False
    region_worker_elsewhere.save(update_fields=["is_active"])
    with pytest.raises(NotFound):
        organization_access_check(region_worker, stranger_org.id, Perm.CLIENT_VIEW)
    with pytest.raises(NotFound):
        organization_access_check(hq_manager, stranger_org.id, Perm.CLIENT_VIEW)
