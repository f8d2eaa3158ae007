"""The database's own guards on shifts and offers: they hold even if a service forgot a check."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from backend.staffing.models import Offer, Shift
from tests.staffing.world import order_with_shift, staffing_world

pytestmark = pytest.mark.django_db


def test_accepted_count_cannot_pass_the_call_cap() -> None:
    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=2)
    Shift.objects.filter(pk=shift.pk).update(accepted_count=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Shift.objects.filter(pk=shift.pk).update(accepted_count=F("accepted_count") + 1)
    shift.refresh_from_db()
    assert shift.accepted_count == 2


def test_confirmed_never_exceeds_accepted() -> None:
    world = staffing_world(0)
    _, shift = order_with_shift(world.franchise, call_cap=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Shift.objects.filter(pk=shift.pk).update(confirmed_count=1)


def test_one_offer_per_worker_and_shift() -> None:
    world = staffing_world(1)
    _, shift = order_with_shift(world.franchise, call_cap=2)
    Offer.objects.create(organization=world.franchise, shift=shift, worker=world.workers[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        Offer.objects.create(organization=world.franchise, shift=shift, worker=world.workers[0])
    assert Offer.objects.filter(shift=shift).count() == 1
