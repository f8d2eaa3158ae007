"""Export the operational database to the analytics warehouse (Parquet files the notebooks read), incrementally.

The column contract is ``analytics.schema``; this module only maps Brigada's models onto it (ADR 0029).

Incremental by update time: ``DIR/_export_state.json`` keeps, per table, the high-water mark (the latest
``updated_at`` exported). The next run reads only rows changed since the mark (minus a safety overlap, so a
transaction that committed late with an earlier stamp is still seen; re-reading a row is harmless because the merge
replaces rows by key), merges them into the table's file by its key, and drops rows whose source is gone (the live
keys are read every run, ids only). A different organization filter, an unknown state version or a missing file
means a full export of that table. Derived tables without a row stamp of their own (``staff_schedule``) are rebuilt
whole every run.

Business time vs bookkeeping time: ``updated_at`` is the wall clock of the write (``backend.core.clock``), so the
mark only moves forward. A client's ``created_at`` in the warehouse is the earlier of the record's creation and
their first visit (an imported or demo client existed before their record did).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone

from analytics.schema import ALL_TABLES, write_warehouse
from backend.booking.models import (
    Appointment,
    AppointmentLine,
    AppointmentStatus,
    Review,
    ScheduleException,
    WorkPattern,
)
from backend.booking.selectors import branch_working_intervals
from backend.catalog.models import Service
from backend.crm.models import Client
from backend.organizations.models import Branch
from backend.staffing.models import Attendance, Offer, OfferStatus, Shift, Worker

STATE_FILE = "_export_state.json"
STATE_VERSION = 1
#: Rows stamped this long before the mark are read again (late commits); the merge makes that harmless.
OVERLAP = dt.timedelta(minutes=10)

_POLARS_TYPES: dict[str, Any] = {
    "BIGINT": pl.Int64,
    "INTEGER": pl.Int32,
    "DOUBLE": pl.Float64,
    "VARCHAR": pl.Utf8,
    "BOOLEAN": pl.Boolean,
    "DATE": pl.Date,
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
}

VISIT_STATUS: dict[str, str] = {
    AppointmentStatus.DONE: "completed",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.NO_SHOW: "no_show",
}
OFFER_STATUS: dict[str, str] = {
    OfferStatus.ACCEPTED: "accepted",
    OfferStatus.CONFIRMED: "accepted",
    OfferStatus.CHECKED_IN: "accepted",
    OfferStatus.COMPLETED: "accepted",
    OfferStatus.NO_SHOW: "accepted",
    OfferStatus.EXCUSED: "accepted",
    OfferStatus.DECLINED: "declined",
    OfferStatus.EXPIRED: "expired",
    OfferStatus.WITHDRAWN: "cancelled",
    OfferStatus.RELEASED: "cancelled",
    OfferStatus.OFFERED: "offered",
}


def _frame(table: str, rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    schema = {c.name: _POLARS_TYPES[c.sql_type] for c in ALL_TABLES[table]}
    return pl.DataFrame(list(rows), schema=schema, orient="row")


def _scoped(qs: QuerySet[Any], orgs: set[int] | None, path: str = "organization_id") -> QuerySet[Any]:
    return qs.filter(**{f"{path}__in": orgs}) if orgs is not None else qs


@dataclass(frozen=True)
class Source:
    """How one warehouse table is read: its key columns, the live keys, the rows changed since a mark."""

    key: tuple[str, ...]
    live_keys: Callable[[set[int] | None], Iterable[tuple[Any, ...]]]
    rows: Callable[[set[int] | None, dt.datetime | None], Iterable[dict[str, Any]]]
    stamp: Callable[[set[int] | None], dt.datetime | None]  # the newest update among the table's sources
    derived: bool = False  # rebuilt whole every run


def _latest(*querysets: QuerySet[Any]) -> dt.datetime | None:
    stamps = [qs.aggregate(m=Max("updated_at"))["m"] for qs in querysets]
    present = [s for s in stamps if s is not None]
    return max(present) if present else None


# --- visits -------------------------------------------------------------------------------------------------------


def _visits_qs(orgs: set[int] | None) -> QuerySet[Appointment]:
    return _scoped(Appointment.objects.exclude(status=AppointmentStatus.HELD), orgs)


def _visits(orgs: set[int] | None, since: dt.datetime | None) -> Iterable[dict[str, Any]]:
    qs = _visits_qs(orgs)
    if since is not None:
        qs = qs.filter(updated_at__gte=since)
    rows = list(
        qs.order_by("id").values_list(
            "id",
            "client_id",
            "organization_id",
            "branch_id",
            "staff_id",
            "starts_at",
            "ends_at",
            "price",
            "currency",
            "status",
            "source__name",
        )
    )
    first_service: dict[int, int] = {}
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), 5000):
        for appointment_id, service_id in (
            AppointmentLine.objects.filter(appointment_id__in=ids[start : start + 5000])
            .order_by("appointment_id", "-position")
            .values_list("appointment_id", "service_id")
        ):
            first_service[appointment_id] = service_id  # the lowest position wins (ordered last)
    for pk, client, org, branch, staff, starts, ends, price, currency, status, source in rows:
        yield {
            "visit_id": pk,
            "client_id": client,
            "organization_id": org,
            "branch_id": branch,
            "service_id": first_service.get(pk),
            "staff_id": staff,
            "started_at": starts,
            "amount": float(price or 0),
            "currency": currency,
            "status": VISIT_STATUS.get(status, "booked"),
            "source": source,
            "duration_minutes": int((ends - starts).total_seconds() // 60),
        }


# --- clients ------------------------------------------------------------------------------------------------------


def _clients(orgs: set[int] | None, since: dt.datetime | None) -> Iterable[dict[str, Any]]:
    # Deleted clients stay in the warehouse: they are part of the history every cohort counts.
    qs = _scoped(Client.objects.all(), orgs)
    if since is not None:
        touched = Appointment.objects.filter(updated_at__gte=since).values("client_id")
        qs = qs.filter(Q(updated_at__gte=since) | Q(pk__in=touched))
    rows = list(
        qs.order_by("id").values_list("id", "organization_id", "created_at", "source__name", "birthday", "gender")
    )
    ids = [r[0] for r in rows]
    first_visit: dict[int, dt.datetime] = {}
    for start in range(0, len(ids), 5000):
        first_visit.update(
            Appointment.objects.filter(client_id__in=ids[start : start + 5000])
            .exclude(status=AppointmentStatus.HELD)
            .values("client_id")
            .annotate(first=Min("starts_at"))
            .values_list("client_id", "first")
        )
    for pk, org, created, source, birthday, gender in rows:
        first = first_visit.get(pk)
        yield {
            "client_id": pk,
            "organization_id": org,
            "created_at": min(created, first) if first is not None else created,
            "source": source,
            "birthday": birthday,
            "gender": gender or None,
        }


def _services(orgs: set[int] | None, since: dt.datetime | None) -> Iterable[dict[str, Any]]:
    qs = _scoped(Service.objects.all(), orgs)
    if since is not None:
        qs = qs.filter(updated_at__gte=since)
    for s in qs.order_by("id").iterator(chunk_size=5000):
        yield {"service_id": s.pk, "name": s.name, "duration_minutes": s.duration_minutes, "price": float(s.price)}


# --- staffing -----------------------------------------------------------------------------------------------------


def _shifts(orgs: set[int] | None, since: dt.datetime | None) -> Iterable[dict[str, Any]]:
    qs = _scoped(Shift.objects.all(), orgs)
    if since is not None:
        qs = qs.filter(Q(updated_at__gte=since) | Q(order__updated_at__gte=since))
    for s in qs.select_related("order__site__organization").order_by("id").iterator(chunk_size=5000):
        order = s.order
        yield {
            "shift_id": s.pk,
            "order_id": order.pk,
            "organization_id": s.organization_id,
            "site_id": order.site_id,
            "start": s.starts_at,
            "end": s.ends_at,
            "headcount": s.headcount,
            "pay_rate": float(order.pay_rate),
            "bill_rate": float(order.bill_rate),
            "district": order.site.organization.name,
            "client_id": order.client_id,
        }


def _offers_qs(orgs: set[int] | None) -> QuerySet[Offer]:
    return _scoped(Offer.objects.filter(offered_at__isnull=False), orgs, "shift__organization_id")


def _offers(orgs: set[int] | None, since: dt.datetime | None) -> Iterable[dict[str, Any]]:
    qs = _offers_qs(orgs)
    if since is not None:
        qs = qs.filter(updated_at__gte=since)
    for pk, shift, worker, wave, status, offered, responded in qs.order_by("id").values_list(
        "id", "shift_id", "worker_id", "wave", "status", "offered_at", "responded_at"
    ):
        yield {
            "offer_id": pk,
            "shift_id": shift,
            "worker_id": worker,
            "wave": wave or 1,
            "status": OFFER_STATUS.get(status, "cancelled"),
            "offered_at": offered,
            "responded_at": responded,
        }


def _attendance(orgs: set[int] | None, since: dt.datetime | None) -> Iterable[dict[str, Any]]:
    qs = _scoped(Attendance.objects.all(), orgs, "shift__organization_id")
    if since is not None:
        qs = qs.filter(updated_at__gte=since)
    for shift, worker, checked_in, no_show, excused, hours, quality in qs.order_by("shift_id", "worker_id").values_list(
        "shift_id", "worker_id", "checked_in_at", "no_show", "excused", "hours", "quality_score"
    ):
        yield {
            "shift_id": shift,
            "worker_id": worker,
            "showed": bool(checked_in is not None or (hours and not no_show and not excused)),
            "hours": float(hours or 0),
            "quality": float(quality) if quality is not None else None,
        }


def _workers(orgs: set[int] | None, since: dt.datetime | None) -> Iterable[dict[str, Any]]:
    qs = _scoped(Worker.objects.all(), orgs)
    if since is not None:
        qs = qs.filter(updated_at__gte=since)
    for pk, shows, org in qs.order_by("id").values_list("id", "decayed_shows", "organization__name"):
        yield {
            "worker_id": pk,
            "segment": "new" if shows < 3 else "regular" if shows < 20 else "veteran",
            "district": org,
        }


# --- reviews and schedules ----------------------------------------------------------------------------------------


def _reviews(orgs: set[int] | None, since: dt.datetime | None) -> Iterable[dict[str, Any]]:
    qs = _scoped(Review.objects.all(), orgs)
    if since is not None:
        qs = qs.filter(updated_at__gte=since)
    for pk, appointment, client, staff, branch, score, created in qs.order_by("id").values_list(
        "id", "appointment_id", "client_id", "staff_id", "branch_id", "score", "created_at"
    ):
        yield {
            "review_id": pk,
            "visit_id": appointment,
            "client_id": client,
            "staff_id": staff,
            "branch_id": branch,
            "score": float(score),
            "created_at": created,
        }


def _schedule(orgs: set[int] | None, since: dt.datetime | None) -> Iterable[dict[str, Any]]:
    """Rostered minutes per master, branch and local day, from the patterns and exceptions (rebuilt whole)."""
    del since
    patterns = _scoped(WorkPattern.objects.all(), orgs)
    spans = patterns.values("branch_id").annotate(first=Min("anchor_date"))
    last_by_branch = dict(patterns.values("branch_id").annotate(last=Max("end_date")).values_list("branch_id", "last"))
    for row in spans.order_by("branch_id"):
        branch = Branch.objects.select_related("organization").get(pk=row["branch_id"])
        zone = ZoneInfo(branch.effective_time_zone)
        staff = sorted(set(patterns.filter(branch=branch).values_list("staff_id", flat=True)))
        first, last = row["first"], last_by_branch[branch.pk]
        day = first
        while day <= last:
            chunk_end = min(day + dt.timedelta(days=365), last)
            minutes: dict[tuple[int, dt.date], int] = {}
            intervals = branch_working_intervals(branch=branch, staff_ids=staff, first_day=day, last_day=chunk_end)
            for staff_id, pairs in intervals.items():
                for a, b in pairs:
                    local_day = a.astimezone(zone).date()
                    minutes[(staff_id, local_day)] = minutes.get((staff_id, local_day), 0) + int(
                        (b - a).total_seconds() // 60
                    )
            for (staff_id, local_day), total in sorted(minutes.items()):
                yield {"staff_id": staff_id, "branch_id": branch.pk, "date": local_day, "scheduled_minutes": total}
            day = chunk_end + dt.timedelta(days=1)


SOURCES: dict[str, Source] = {
    "visits": Source(
        ("visit_id",),
        lambda o: _visits_qs(o).values_list("id"),
        _visits,
        lambda o: _latest(_visits_qs(o)),
    ),
    "clients": Source(
        ("client_id",),
        lambda o: _scoped(Client.objects.all(), o).values_list("id"),
        _clients,
        lambda o: _latest(_scoped(Client.objects.all(), o), _visits_qs(o)),
    ),
    "services": Source(
        ("service_id",),
        lambda o: _scoped(Service.objects.all(), o).values_list("id"),
        _services,
        lambda o: _latest(_scoped(Service.objects.all(), o)),
    ),
    "shifts": Source(
        ("shift_id",),
        lambda o: _scoped(Shift.objects.all(), o).values_list("id"),
        _shifts,
        lambda o: _latest(_scoped(Shift.objects.all(), o)),
    ),
    "offers": Source(
        ("offer_id",),
        lambda o: _offers_qs(o).values_list("id"),
        _offers,
        lambda o: _latest(_offers_qs(o)),
    ),
    "attendance": Source(
        ("shift_id", "worker_id"),
        lambda o: _scoped(Attendance.objects.all(), o, "shift__organization_id").values_list("shift_id", "worker_id"),
        _attendance,
        lambda o: _latest(_scoped(Attendance.objects.all(), o, "shift__organization_id")),
    ),
    "workers": Source(
        ("worker_id",),
        lambda o: _scoped(Worker.objects.all(), o).values_list("id"),
        _workers,
        lambda o: _latest(_scoped(Worker.objects.all(), o)),
    ),
    "reviews": Source(
        ("review_id",),
        lambda o: _scoped(Review.objects.all(), o).values_list("id"),
        _reviews,
        lambda o: _latest(_scoped(Review.objects.all(), o)),
    ),
    "staff_schedule": Source(
        ("staff_id", "branch_id", "date"),
        lambda o: [],
        _schedule,
        lambda o: _latest(_scoped(WorkPattern.objects.all(), o), _scoped(ScheduleException.objects.all(), o)),
        derived=True,
    ),
}


@dataclass(frozen=True)
class ExportReport:
    folder: Path
    rows: dict[str, int]
    changed: dict[str, int] = field(default_factory=dict)  # rows read from the database this run, per table
    full: list[str] = field(default_factory=list)  # tables exported whole this run


def _state_read(folder: Path, orgs: set[int] | None) -> dict[str, Any]:
    path = folder / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if state.get("version") != STATE_VERSION or state.get("organizations") != (sorted(orgs) if orgs else None):
        return {}
    tables = state.get("tables")
    return tables if isinstance(tables, dict) else {}


def _key_frame(keys: Iterable[tuple[Any, ...]], key: tuple[str, ...], frame: pl.DataFrame) -> pl.DataFrame:
    rows = [dict(zip(key, k, strict=True)) for k in keys]
    return pl.DataFrame(rows, schema={c: frame.schema[c] for c in key}, orient="row")


def warehouse_export(
    *, out: Path, organization_ids: set[int] | None = None, full: bool = False, overlap: dt.timedelta = OVERLAP
) -> ExportReport:
    """Write every warehouse table to ``out`` (all organizations, or only ``organization_ids``): only what changed
    since the last export into ``out`` unless ``full`` (or there is no usable state there)."""
    out.mkdir(parents=True, exist_ok=True)
    state = {} if full else _state_read(out, organization_ids)
    started = timezone.now()
    new_state: dict[str, Any] = {}
    frames: dict[str, pl.DataFrame] = {}
    changed: dict[str, int] = {}
    whole: list[str] = []
    for table, source in SOURCES.items():
        mark_text = state.get(table, {}).get("high_water")
        path = out / f"{table}.parquet"
        incremental = bool(mark_text) and path.exists() and not source.derived
        # The stamp is read before the rows, so a write racing this export is read again next time.
        stamp = source.stamp(organization_ids)
        if incremental:
            since = dt.datetime.fromisoformat(mark_text) - overlap
            fresh = _frame(table, source.rows(organization_ids, since))
            old = pl.read_parquet(path)
            live = _key_frame(source.live_keys(organization_ids), source.key, fresh)
            merged = pl.concat([old.join(fresh.select(source.key), on=list(source.key), how="anti"), fresh])
            frame = merged.join(live, on=list(source.key), how="semi").sort(list(source.key))
        else:
            fresh = _frame(table, source.rows(organization_ids, None))
            frame = fresh.sort(list(source.key))
            whole.append(table)
        changed[table] = fresh.height
        frames[table] = frame
        mark = stamp or (dt.datetime.fromisoformat(mark_text) if mark_text else None) or started
        new_state[table] = {"high_water": mark.isoformat(), "rows": frame.height}
    write_warehouse(out, **frames)
    (out / STATE_FILE).write_text(
        json.dumps(
            {
                "version": STATE_VERSION,
                "organizations": sorted(organization_ids) if organization_ids else None,
                "exported_at": started.isoformat(),
                "tables": new_state,
            },
            indent=2,
        )
    )
    return ExportReport(folder=out, rows={n: f.height for n, f in frames.items()}, changed=changed, full=whole)
