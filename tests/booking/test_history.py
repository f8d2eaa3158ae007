"""Past visits recorded at once give the rows the live path gives (book, then arrived / done, no-show, cancel), and
keep its rules: the organisation's clients, the master's services, no time held twice, all or nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Q

from backend.booking.exceptions import BookingErrorCode
from backend.booking.models import Appointment, AppointmentStatus, Occupancy
from backend.booking.services.appointments import (
    appointment_cancel,
    appointment_create_for_client,
    appointment_status_set,
)
from backend.booking.services.history import PastVisit, appointments_record_past
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import Event
from backend.crm.models import Client
from tests.booking.appointments_world import NOW, World, local, world_build

pytestmark = pytest.mark.django_db

LATER = NOW + dt.timedelta(days=3)


def _clients(w: World) -> list[Client]:
    return [Client.objects.create(organization=w.org, phone=f"+7701555{w.org.pk:02d}{i:02d}") for i in range(3)]


def _script(w: World, clients: list[Client]) -> list[tuple[Client, int, int, dt.datetime, str, dt.datetime]]:
    """(client, service, master, start, outcome, when it ended)."""
    return [
        (clients[0], w.haircut.pk, w.master.pk, local(2, 10), AppointmentStatus.DONE, local(2, 11)),
        (clients[1], w.colouring.pk, w.other_master.pk, local(2, 10), AppointmentStatus.NO_SHOW, local(2, 10, 20)),
        (clients[2], w.haircut.pk, w.master.pk, local(2, 11, 10), AppointmentStatus.CANCELLED, local(2, 7)),
        (clients[0], w.colouring.pk, w.other_master.pk, local(3, 9, 30), AppointmentStatus.DONE, local(3, 11)),
    ]


def _rows(w: World) -> list[tuple]:
    out = []
    for a in Appointment.objects.filter(organization=w.org).order_by("starts_at", "staff_id"):
        lines = [
            (
                ln.service.name,
                ln.staff.first_name,
                ln.starts_at,
                ln.ends_at,
                ln.price,
                ln.buffer_before_minutes,
                ln.buffer_after_minutes,
            )
            for ln in a.lines.all()
        ]
        occupancies = sorted(
            (o.staff_id is not None, o.starts_at, o.ends_at, o.is_active) for o in Occupancy.objects.filter(_held_by(a))
        )
        out.append(
            (
                a.client.phone[-2:],
                a.staff.first_name,
                a.starts_at,
                a.ends_at,
                a.status,
                a.status_changed_at,
                a.price,
                a.currency,
                a.channel,
                a.cancel_reason,
                lines,
                occupancies,
            )
        )
    return out


def _held_by(a: Appointment) -> Q:
    return Q(appointment=a) | Q(line__appointment=a)


def test_recording_past_visits_gives_the_rows_of_the_live_path() -> None:
    live, bulk = world_build("Salon A"), world_build("Salon B")
    live_clients, bulk_clients = _clients(live), _clients(bulk)
    for client, service_id, staff_id, start, outcome, settled in _script(live, live_clients):
        booked = appointment_create_for_client(
            user=live.manager,
            branch_id=live.branch.pk,
            client_id=client.pk,
            service_ids=[service_id],
            start=start,
            staff_id=staff_id,
            now=NOW,
        )
        if outcome == AppointmentStatus.CANCELLED:
            appointment_cancel(user=live.manager, appointment_id=booked.pk, reason="client called", now=settled)
        elif outcome == AppointmentStatus.NO_SHOW:
            appointment_status_set(user=live.manager, appointment_id=booked.pk, status=outcome, now=settled)
        else:
            appointment_status_set(user=live.manager, appointment_id=booked.pk, status="arrived", now=start)
            appointment_status_set(user=live.manager, appointment_id=booked.pk, status=outcome, now=settled)
    visits = [
        PastVisit(c.pk, s, m, start, outcome, settled, "client called" if outcome == "cancelled" else "")
        for c, s, m, start, outcome, settled in _script(bulk, bulk_clients)
    ]
    written = appointments_record_past(user=bulk.manager, branch_id=bulk.branch.pk, visits=visits, now=LATER)

    assert len(written) == 4
    assert _rows(live) == _rows(bulk)
    assert [c.last_visit_at for c in Client.objects.filter(organization=live.org).order_by("phone")] == [
        c.last_visit_at for c in Client.objects.filter(organization=bulk.org).order_by("phone")
    ]
    assert Event.objects.filter(organization_id=bulk.org.pk, entity_type="booking.appointment").count() == 4
    assert Appointment.objects.get(pk=written[0].pk).price == Decimal("5000")  # the master's own price


def test_past_visits_refuse_held_time_foreign_clients_and_unfinished_visits_whole() -> None:
    w, other = world_build("Salon A"), world_build("Salon B")
    clients = _clients(w)
    ok = PastVisit(clients[0].pk, w.haircut.pk, w.master.pk, local(2, 10), "done", local(2, 11))

    def refused(visits: list[PastVisit], error: type, code: str | None = None) -> None:
        with pytest.raises(error) as caught:
            appointments_record_past(user=w.manager, branch_id=w.branch.pk, visits=visits, now=LATER)
        if code is not None:
            assert caught.value.code == code

    # the master's time with the haircut's 10 min buffer after: 11:05 is still held
    refused(
        [ok, PastVisit(clients[1].pk, w.haircut.pk, w.master.pk, local(2, 11, 5), "done", local(2, 12))],
        Conflict,
        BookingErrorCode.SLOT_TAKEN,
    )
    refused(
        [ok, PastVisit(clients[0].pk, w.haircut.pk, w.other_master.pk, local(2, 10, 30), "done", local(2, 12))],
        Conflict,
        BookingErrorCode.CLIENT_BUSY,
    )
    refused(
        [ok, PastVisit(_clients(other)[0].pk, w.haircut.pk, w.master.pk, local(3, 10), "done", local(3, 11))], NotFound
    )
    refused(
        [PastVisit(clients[0].pk, w.haircut.pk, w.master.pk, local(4, 10), "done", local(4, 11))], ValidationFailed
    )  # not over yet
    refused([PastVisit(clients[0].pk, w.yoga.pk, w.master.pk, local(2, 15), "done", local(2, 16))], ValidationFailed)
    refused(
        [PastVisit(clients[0].pk, w.haircut.pk, w.master.pk, local(2, 15), "booked", local(2, 16))], ValidationFailed
    )
    with pytest.raises(NotFound):
        appointments_record_past(user=other.manager, branch_id=w.branch.pk, visits=[ok], now=LATER)
    assert not Appointment.objects.exists()
    # a cancelled visit holds no time: the same slot is still free, and then a stored visit is checked against
    appointments_record_past(
        user=w.manager,
        branch_id=w.branch.pk,
        now=LATER,
        visits=[PastVisit(clients[1].pk, w.haircut.pk, w.master.pk, local(2, 10), "cancelled", local(2, 7)), ok],
    )
    refused(
        [PastVisit(clients[2].pk, w.colouring.pk, w.master.pk, local(2, 9), "done", local(2, 10, 30))],
        Conflict,
        BookingErrorCode.SLOT_TAKEN,
    )
