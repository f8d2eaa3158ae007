"""Past visits recorded at once give the rows the live path gives (book, then arrived / done, no-show, cancel), and
keep its rules: the organisation's clients, the master's services, no time held twice, all or nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Q

from backend.booking.exceptions import BookingErrorCode
from backend.booking.models import Appointment, AppointmentStatus, Occupancy
from backend.booking.models_comms import AppointmentMessage, Review
from backend.booking.services.appointments import (
    appointment_cancel,
    appointment_create_for_client,
    appointment_status_set,
)
from backend.booking.services.history import PastReview, PastVisit, appointments_record_past, reviews_record_past
from backend.booking.services.reviews import review_submit
from backend.core.clock import clock_at
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import Event
from backend.crm.models import Client
from tests.booking.appointments_world import NOW, World, local, world_build

pytestmark = pytest.mark.django_db

LATER = NOW + dt.timedelta(days=3)
H = dt.timedelta(hours=1)


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


def _done_visits(w: World, clients: list[Client]) -> list[Appointment]:
    """Two visits done and one missed, through the live path."""
    out = []
    for client, start, outcome in (
        (clients[0], local(2, 10), AppointmentStatus.DONE),
        (clients[1], local(3, 10), AppointmentStatus.DONE),
        (clients[2], local(2, 11, 10), AppointmentStatus.NO_SHOW),
    ):
        booked = appointment_create_for_client(
            user=w.manager,
            branch_id=w.branch.pk,
            client_id=client.pk,
            service_ids=[w.haircut.pk],
            start=start,
            staff_id=w.master.pk,
            now=NOW,
        )
        if outcome == AppointmentStatus.DONE:
            appointment_status_set(user=w.manager, appointment_id=booked.pk, status="arrived", now=start)
        appointment_status_set(user=w.manager, appointment_id=booked.pk, status=outcome, now=start + H)
        out.append(Appointment.objects.get(pk=booked.pk))
    return out


def _review_rows(w: World) -> list[tuple]:
    reviews = Review.objects.filter(organization_id=w.org.pk).order_by("appointment__starts_at")
    events = {
        e.entity_id: (e.action, e.actor_id == w.manager.pk, e.after)
        for e in Event.objects.filter(organization_id=w.org.pk, entity_type="booking.review")
    }
    return [
        (
            r.appointment.starts_at,
            r.client.phone[-2:],
            r.staff.first_name,
            r.branch_id == w.branch.pk,
            r.score,
            r.comment,
            r.author_id == w.manager.pk,
            r.created_at,
            events[str(r.pk)][:2],
            {k: v for k, v in events[str(r.pk)][2].items() if k not in ("appointment", "client", "staff")},
        )
        for r in reviews
    ]


def _messages(w: World) -> list[tuple[str, str]]:
    return sorted(AppointmentMessage.objects.filter(appointment__organization=w.org).values_list("kind", "status"))


def test_recording_past_reviews_gives_the_rows_of_review_submit() -> None:
    live, bulk = world_build("Salon A"), world_build("Salon B")
    live_visits, bulk_visits = _done_visits(live, _clients(live)), _done_visits(bulk, _clients(bulk))
    scores = [(9, "  Great cut  "), (4, "")]
    for visit, (score, comment) in zip(live_visits, scores, strict=False):
        with clock_at(visit.ends_at + 2 * H):
            review_submit(user=live.manager, appointment_id=visit.pk, score=score, comment=comment)
    written = reviews_record_past(
        user=bulk.manager,
        reviews=[
            PastReview(visit.pk, score, visit.ends_at + 2 * H, comment)
            for visit, (score, comment) in zip(bulk_visits, scores, strict=False)
        ],
        now=LATER,
    )

    assert [r.score for r in written] == [9, 4]
    assert _review_rows(live) == _review_rows(bulk) and len(_review_rows(bulk)) == 2
    assert _review_rows(bulk)[0][5] == "Great cut"
    assert _messages(live) == _messages(bulk)


def test_past_reviews_keep_review_submits_rules_whole() -> None:
    w, other = world_build("Salon A"), world_build("Salon B")
    done, _second, missed = _done_visits(w, _clients(w))
    ok = PastReview(done.pk, 8, done.ends_at + 2 * H)

    def refused(reviews: list[PastReview], error: type, code: str | None = None, user: Any = None) -> None:
        with pytest.raises(error) as caught:
            reviews_record_past(user=user or w.manager, reviews=reviews, now=LATER)
        if code is not None:
            assert caught.value.code == code

    refused([ok, PastReview(missed.pk, 8, missed.ends_at)], Conflict, "not_reviewable")
    refused([ok, PastReview(done.pk, 7, done.ends_at)], Conflict, "already_reviewed")
    refused([PastReview(done.pk, 11, done.ends_at)], ValidationFailed, "invalid_score")
    refused([PastReview(done.pk, 8, LATER + H)], ValidationFailed)  # not given yet
    refused([ok], NotFound, user=other.manager)
    refused([PastReview(missed.pk + 1000, 8, done.ends_at)], NotFound)
    assert not Review.objects.exists()
    reviews_record_past(user=w.manager, reviews=[ok], now=LATER)
    refused([ok], Conflict, "already_reviewed")
    assert Review.objects.get().score == 8
