"""PostgreSQL: event ids are taken at insert, so transactions commit out of id order. Transaction A writes an event
(lower id) and stays open; B writes a later event and commits. A reader that continued "after the highest id seen"
would skip A's event for ever. The feed orders by (inserting transaction, id) and reads only below the oldest
running transaction (decision 0022): while A is open neither event is handed out and the cursor stays before
both; once A commits, the next page brings both. Two real transactions on two connections, no mock."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from backend.core.event_feed import feed_horizon, feed_read
from backend.core.models import Event
from backend.crm.services import clients as crm
from backend.organizations.models import Role
from tests.conftest import ApiClient, member
from tests.factories import OrganizationFactory
from tests.mobile.phone import Phone

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _open_transaction_writing(user: Any, org_id: int, phone: str) -> tuple[threading.Thread, threading.Event, dict]:
    """A thread whose transaction creates a client (and its event), then waits for ``release`` before committing."""
    inserted, release = threading.Event(), threading.Event()
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            with transaction.atomic():
                client = crm.client_create(user=user, organization_id=org_id, phone=phone, first_name="Early")
                out["client"] = client.pk
                out["event"] = Event.objects.filter(entity_type="crm.client", entity_id=str(client.pk)).get().pk
                inserted.set()
                assert release.wait(30)
        finally:
            inserted.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert inserted.wait(30) and "event" in out, out
    return thread, release, out


def test_the_feed_never_skips_an_event_committed_after_a_later_id() -> None:
    org = OrganizationFactory()
    manager = member(org, Role.MANAGER)
    start = feed_horizon()
    thread, release, early = _open_transaction_writing(manager, org.pk, "+77010000011")
    try:
        late = crm.client_create(user=manager, organization_id=org.pk, phone="+77010000012", first_name="Late")
        late_event = Event.objects.get(entity_type="crm.client", entity_id=str(late.pk))
        assert late_event.pk > early["event"]  # committed first, with the later id: the out-of-order case

        while_open = feed_read(after=start, entity_types=["crm.client"], limit=100)
        # neither event is handed out yet, and the position has not moved past the open transaction's event
        assert [e.pk for e in while_open.events] == []
        assert while_open.position <= start or while_open.position.xid < int(late_event.xid or 0)
    finally:
        release.set()
        thread.join(30)
    after_commit = feed_read(after=while_open.position, entity_types=["crm.client"], limit=100)
    assert {e.pk for e in after_commit.events} == {early["event"], late_event.pk}


def test_a_phone_syncing_during_an_open_transaction_still_gets_its_client() -> None:
    org = OrganizationFactory()
    manager = member(org, Role.MANAGER)
    phone = Phone(ApiClient(member(org, Role.MASTER)), settle=False)  # the open transaction holds the feed on purpose
    phone.sync()
    thread, release, early = _open_transaction_writing(manager, org.pk, "+77010000021")
    try:
        late = crm.client_create(user=manager, organization_id=org.pk, phone="+77010000022", first_name="Late")
        phone.sync()  # while the first transaction is open: the later, committed client waits behind it
        assert ("clients", late.pk) not in phone.copy
    finally:
        release.set()
        thread.join(30)
    phone.sync()
    assert {("clients", early["client"]), ("clients", late.pk)} <= set(phone.copy)
