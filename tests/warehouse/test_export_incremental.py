"""The incremental export: a second export into the same folder reads only what changed and ends equal to a full
export (changed rows replaced, new rows added, rows whose source is gone dropped)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from backend.booking.models import AppointmentStatus, WorkPattern
from backend.booking.services.appointments import (
    appointment_cancel,
    appointment_create_for_customer,
    appointment_status_set,
)
from backend.booking.services.reviews import review_submit
from backend.booking.services.schedules import work_pattern_delete
from backend.crm.services.clients import client_update
from backend.organizations.models import Role
from backend.staffing.models import Attendance, Offer, OfferStatus
from backend.warehouse.services import SOURCES, STATE_FILE, warehouse_export
from tests.booking.appointments_world import NOW, local, world_build
from tests.conftest import member
from tests.staffing.world import order_with_shift, staffing_world

pytestmark = pytest.mark.django_db
NO_OVERLAP = dt.timedelta(0)


def tables(folder: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(folder / f"{name}.parquet") for name in SOURCES}


def test_export_change_export_equals_a_full_export(tmp_path: Path) -> None:
    w = world_build()
    manager = member(w.org, Role.MANAGER)
    visits = [
        appointment_create_for_customer(
            user=w.customer, branch_id=w.branch.pk, service_ids=[w.haircut.pk], start=local(day, hour), now=NOW
        )
        for day in (2, 3, 4)
        for hour in (10, 15, 16)
    ]
    appointment_status_set(
        user=manager, appointment_id=visits[0].pk, status=AppointmentStatus.ARRIVED, now=local(2, 10)
    )
    appointment_status_set(user=manager, appointment_id=visits[0].pk, status=AppointmentStatus.DONE, now=local(2, 11))
    review_submit(user=manager, appointment_id=visits[0].pk, score=9)
    staffing = staffing_world(2)
    _order, shift = order_with_shift(staffing.franchise, headcount=2)
    offers = [
        Offer.objects.create(
            organization=staffing.franchise,
            shift=shift,
            worker=worker,
            status=OfferStatus.OFFERED,
            wave=1,
            offered_at=NOW,
        )
        for worker in staffing.workers
    ]
    inc, whole = tmp_path / "inc", tmp_path / "full"

    first = warehouse_export(out=inc, overlap=NO_OVERLAP)
    assert set(first.full) == set(SOURCES)  # nothing saved yet: everything read
    assert first.rows["visits"] == 9 and first.rows["reviews"] == 1 and first.rows["offers"] == 2

    # changes through the services (and one through the staffing rows, as the scene builders write them)
    appointment_cancel(user=manager, appointment_id=visits[1].pk, reason="called", now=NOW)
    appointment_create_for_customer(
        user=w.customer, branch_id=w.branch.pk, service_ids=[w.colouring.pk], start=local(5, 10), now=NOW
    )
    client_update(user=manager, client_id=visits[2].client_id, data={"first_name": "Renamed"})
    Offer.objects.filter(pk=offers[0].pk).update(status=OfferStatus.ACCEPTED, updated_at=dt.datetime.now(dt.UTC))
    Attendance.objects.create(
        organization=staffing.franchise, offer=offers[0], shift=shift, worker=staffing.workers[0], no_show=True
    )
    pattern = WorkPattern.objects.filter(staff=w.other_master).first()
    assert pattern is not None
    work_pattern_delete(user=manager, pattern_id=pattern.pk)  # a hard delete: its schedule rows disappear

    second = warehouse_export(out=inc, overlap=NO_OVERLAP)
    warehouse_export(out=whole, full=True)

    # the cancelled one, the new one (and the last one of the first export, read again at the mark)
    assert "visits" not in second.full and second.changed["visits"] <= 3
    assert second.changed["services"] <= 1  # nothing changed there but the one read again at the mark
    incremental, full = tables(inc), tables(whole)
    for name in SOURCES:
        assert_frame_equal(incremental[name], full[name], check_row_order=False), name
    statuses = dict(incremental["visits"].select("visit_id", "status").iter_rows())
    assert statuses[visits[1].pk] == "cancelled" and len(statuses) == 10
    assert incremental["attendance"].height == 1
    state = json.loads((inc / STATE_FILE).read_text())
    assert set(state["tables"]) == set(SOURCES)


def test_a_different_organization_filter_exports_everything_again(tmp_path: Path) -> None:
    a, b = world_build("Salon A"), world_build("Salon B")
    for w in (a, b):
        appointment_create_for_customer(
            user=w.customer, branch_id=w.branch.pk, service_ids=[w.haircut.pk], start=local(2, 10), now=NOW
        )
    warehouse_export(out=tmp_path)

    narrowed = warehouse_export(out=tmp_path, organization_ids={a.org.pk})

    assert set(narrowed.full) == set(SOURCES)
    assert pl.read_parquet(tmp_path / "visits.parquet")["organization_id"].unique().to_list() == [a.org.pk]
