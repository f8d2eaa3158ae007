"""The database refuses to edit or delete events, whatever path the SQL takes (decision 0008)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from backend.core.events import event_log_flush_allowed, event_record
from backend.core.models import AppendOnlyError, Event, EventAction
from tests.factories import OrganizationFactory


def _event() -> Event:
    organization = OrganizationFactory(name="Salon Lotus")
    return event_record(
        entity=organization, action=EventAction.CREATE, organization_id=organization.pk, after={"name": "Lotus"}
    )


def _refused(change: Callable[[], Any]) -> None:
    # A savepoint: on PostgreSQL the refused statement aborts the transaction it ran in.
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        change()


def _raw(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_queryset_update_is_refused_by_the_database() -> None:
    # given
    event = _event()

    # when / then
    _refused(lambda: Event.objects.filter(pk=event.pk).update(note="rewritten", action=EventAction.DELETE))
    _refused(lambda: Event.objects.update(after={"name": "forged"}))

    # and nothing changed
    event_row = Event.objects.get(pk=event.pk)
    assert (event_row.note, event_row.action, event_row.after) == ("", EventAction.CREATE, {"name": "Lotus"})


@pytest.mark.django_db
def test_queryset_delete_is_refused_by_the_database() -> None:
    # given
    event = _event()

    # when / then
    _refused(lambda: Event.objects.filter(pk=event.pk).delete())
    _refused(lambda: Event.objects.all().delete())

    assert list(Event.objects.values_list("pk", flat=True)) == [event.pk]


@pytest.mark.django_db
def test_raw_sql_update_and_delete_are_refused() -> None:
    # given
    event = _event()

    # when / then
    _refused(lambda: _raw("UPDATE core_event SET note = %s WHERE id = %s", ["rewritten", event.pk]))
    _refused(lambda: _raw("UPDATE core_event SET actor_id = NULL, organization_id = NULL", []))
    _refused(lambda: _raw("DELETE FROM core_event WHERE id = %s", [event.pk]))
    _refused(lambda: _raw("DELETE FROM core_event", []))

    assert Event.objects.get(pk=event.pk).note == ""


@pytest.mark.django_db
def test_the_model_refuses_before_the_database_is_asked() -> None:
    # given
    event = _event()

    # when
    event.note = "rewritten"

    # then
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert Event.objects.get(pk=event.pk).note == ""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # committed rows: TRUNCATE refuses rows with pending FK checks anyway
def test_truncate_is_refused_on_postgresql() -> None:
    # given
    event = _event()

    # when / then
    _refused(lambda: _raw("TRUNCATE core_event", []))
    _refused(lambda: _raw("TRUNCATE core_event, organizations_organization CASCADE", []))

    assert Event.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_the_flush_flag_lets_truncate_through_but_never_a_row_delete() -> None:
    # given
    event = _event()

    # when / then
    with event_log_flush_allowed(connection):
        _refused(lambda: _raw("DELETE FROM core_event WHERE id = %s", [event.pk]))
        _refused(lambda: _raw("UPDATE core_event SET note = 'x'", []))

    assert Event.objects.filter(pk=event.pk, note="").exists()


@pytest.mark.django_db(transaction=True)
def test_flush_may_empty_the_log_and_the_guard_is_back_afterwards() -> None:
    # given
    _event()

    # when
    call_command("flush", interactive=False, verbosity=0)

    # then
    assert Event.objects.count() == 0
    event = _event()
    _refused(lambda: _raw("DELETE FROM core_event WHERE id = %s", [event.pk]))
    assert Event.objects.filter(pk=event.pk).exists()
