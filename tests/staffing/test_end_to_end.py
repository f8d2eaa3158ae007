"""End to end, through the real services and the task queue: an order for 10 workers is created, confirmed, planned
by the solver (a queued task run by django-tasks-db's worker loop), offered in waves; some decline and standby fills
in; the day before, one worker does not confirm and is released and replaced through the incremental re-plan; on the
day everyone else checks in at the site, one no-show is marked; everyone checks out; the worker sees their earnings
and the dispatcher invoices the client. At each step the test asserts what the dispatcher's board shows.

Times: the services take ``now``; the test passes the moments of the story (the day before, the cut-off, the day),
which is what the periodic sweep does when those moments come. The call-up messages are delivered by the outbox
task through the (in-memory) provider backends.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from backend.notifications.backends import outbox_memory
from backend.notifications.models import OutboxMessage, OutboxStatus
from backend.staffing.models import Offer, OfferStatus, ReliabilityReason, SolverRun, SolverRunStatus, Worker
from backend.staffing.services.attendance import attendance_check_in, attendance_check_out, attendance_mark
from backend.staffing.services.board import board_snapshot
from backend.staffing.services.confirmations import confirmations_due_run, offer_confirm
from backend.staffing.services.money import invoice_export, order_money, worker_earnings
from backend.staffing.services.offers import offer_accept, offer_decline
from backend.staffing.services.orders import order_confirm
from backend.staffing.services.reliability import newcomer_figures
from tests.staffing.test_attendance import AT_SITE
from tests.staffing.world import dispatch_world

COUNTS = ("planned", "offered", "accepted", "confirmed", "checked_in", "no_show")


def _run_queue(queue: str) -> None:
    """django-tasks-db's worker loop (the one ``run_worker`` supervises) for one batch of ``queue``."""
    call_command("db_worker", "--batch", "--queue-name", queue, "--no-startup-delay", "--worker-id", f"e2e-{queue}")


def _live(shift_id: int) -> list[Offer]:
    return list(Offer.objects.select_related("worker__user").filter(shift_id=shift_id).order_by("position", "id"))


@pytest.mark.django_db(transaction=True)
def test_an_order_for_ten_from_creation_to_the_invoice() -> None:
    world = dispatch_world(n_workers=24, headcount=10)
    Worker.objects.filter(organization=world.hq).update(**newcomer_figures(pool_id=world.hq.pk).stored())
    order, shift = world.extra["order"], world.extra["shift"]

    def board() -> tuple[int, ...]:
        [row] = [
            r
            for r in board_snapshot(user=world.dispatcher, organization_id=world.franchise.pk, now=moment)
            if r["shift_id"] == shift.pk
        ]
        return tuple(row[k] for k in COUNTS)

    # 1. Created: a draft with its shift, nobody called.
    moment = shift.starts_at - dt.timedelta(days=2)
    assert board() == (0, 0, 0, 0, 0, 0)

    # 2. Confirmed: the solver run is queued with the confirmation; the worker runs it and the plan becomes offers.
    order_confirm(user=world.dispatcher, order_id=order.pk)
    assert SolverRun.objects.get(order=order).status == SolverRunStatus.QUEUED
    _run_queue("default")
    run = SolverRun.objects.get(order=order)
    assert run.status == SolverRunStatus.SUCCEEDED
    shift.refresh_from_db()
    planned = shift.call_cap
    assert 10 < planned < 24  # newcomers come with p ~ 0.8: the plan over-books, but not blindly
    offered = [o for o in _live(shift.pk) if o.status == OfferStatus.OFFERED]
    standby = [o for o in _live(shift.pk) if o.status == OfferStatus.STANDBY]
    assert len(offered) == planned and len(standby) >= 3
    assert board() == (planned, planned, 0, 0, 0, 0)
    # Every call-up is in the outbox, and the outbox task delivers them.
    assert OutboxMessage.objects.filter(payload__kind="staffing.offer").count() == planned
    outbox_memory.clear()
    _run_queue("outbox")
    assert len(outbox_memory) == planned
    assert not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()

    # 3. Answers: two decline (standby is offered their places at once), everyone else accepts.
    moment = run.finished_at + dt.timedelta(minutes=5)
    for offer in offered[:2]:
        offer_decline(user=offer.worker.user, offer_id=offer.pk, now=moment)
    assert board() == (planned, planned + 2, 0, 0, 0, 0)
    for offer in [o for o in _live(shift.pk) if o.status == OfferStatus.OFFERED]:
        offer_accept(user=offer.worker.user, offer_id=offer.pk, now=moment)
    assert board() == (planned, planned + 2, planned, 0, 0, 0)

    # 4. The day before: accepted workers are asked to confirm; all but one do.
    moment = shift.starts_at - dt.timedelta(hours=20)
    assert confirmations_due_run(now=moment)["staffing_confirmations_asked"] == planned
    holders = [o for o in _live(shift.pk) if o.status == OfferStatus.ACCEPTED]
    silent = holders[-1]
    for offer in holders[:-1]:
        offer_confirm(user=offer.worker.user, offer_id=offer.pk, now=moment)
    assert board() == (planned, planned + 2, planned, planned - 1, 0, 0)

    # 5. The cut-off: the silent one is released; the re-plan calls a replacement, who accepts and confirms.
    moment = shift.starts_at - dt.timedelta(hours=11)
    report = confirmations_due_run(now=moment)
    assert (report["staffing_released"], report["staffing_replans"]) == (1, 1)
    assert Offer.objects.get(pk=silent.pk).status == OfferStatus.RELEASED
    shift.refresh_from_db()
    replanned = shift.call_cap
    refill = [o for o in _live(shift.pk) if o.status == OfferStatus.OFFERED]
    assert refill and silent.worker_id not in {o.worker_id for o in refill}
    offered_so_far = planned + 2 + len(refill)
    assert board() == (replanned, offered_so_far, planned - 1, planned - 1, 0, 0)
    for offer in refill:
        offer_accept(user=offer.worker.user, offer_id=offer.pk, now=moment)
        offer_confirm(user=offer.worker.user, offer_id=offer.pk, now=moment)
    crew = [o for o in _live(shift.pk) if o.status == OfferStatus.CONFIRMED]
    assert len(crew) == replanned
    assert board() == (replanned, offered_so_far, replanned, replanned, 0, 0)

    # 6. The day: everyone but one checks in at the site; the foreman marks the missing one a no-show.
    moment = shift.starts_at - dt.timedelta(minutes=10)
    absent, came = crew[0], crew[1:]
    for offer in came:
        attendance_check_in(user=offer.worker.user, latitude=AT_SITE[0], longitude=AT_SITE[1], now=moment)
    assert board() == (replanned, offered_so_far, replanned, replanned, replanned - 1, 0)
    before = Worker.objects.get(pk=absent.worker_id)
    moment = shift.starts_at + dt.timedelta(minutes=45)
    attendance_mark(user=world.dispatcher, offer_id=absent.pk, outcome="no_show", now=moment)
    after = Worker.objects.get(pk=absent.worker_id)
    assert after.reliability < before.reliability and after.rank < before.rank
    assert after.reliability_changes.latest("id").reason == ReliabilityReason.NO_SHOW
    assert board() == (replanned, offered_so_far, replanned - 1, replanned - 1, replanned - 1, 1)

    # 7. Check-out at the end of the shift: 12 hours each (the early check-in counts from the start).
    moment = shift.ends_at + dt.timedelta(minutes=5)
    for offer in came:
        done = attendance_check_out(user=offer.worker.user, latitude=AT_SITE[0], longitude=AT_SITE[1], now=moment)
        assert (done.hours, done.pay_amount, done.bill_amount) == (
            Decimal("12.00"),
            Decimal("4800.00"),
            Decimal("7800.00"),
        )

    # 8. Money: a worker's earnings, the order's margin, the client's invoice.
    earnings = worker_earnings(user=came[0].worker.user)
    assert earnings.totals == {"RUB": Decimal("4800.00")} and earnings.hours == Decimal("12.00")
    assert worker_earnings(user=absent.worker.user).lines == []
    n = len(came)
    figures = order_money(user=world.dispatcher, order_id=order.pk)
    assert (figures.workers, figures.pay_total, figures.bill_total, figures.margin) == (
        n,
        Decimal(4800 * n),
        Decimal(7800 * n),
        Decimal(3000 * n),
    )
    content, name, _ = invoice_export(
        user=world.dispatcher,
        organization_id=world.franchise.pk,
        date_from=shift.date,
        date_to=shift.date,
        client_id=order.client_id,
    )
    [line] = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert (line["workers"], line["hours"], line["amount"]) == (str(n), f"{12 * n}.00", f"{7800 * n}.00")
    assert name.endswith(".csv")
