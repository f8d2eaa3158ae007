"""The shared worker pool: recruiting a worker into an HQ's pool, the status ladder (candidate → interviewed →
active → suspended), the profile, and the availability a worker declares from the phone.

Who may do what: the pool belongs to an HQ (or to an organization without one); its managers and dispatchers
(STAFFING_MANAGE in the pool owner) recruit and interview; franchises dispatch from the pool but do not edit it;
a worker changes only their own home location and availability.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import warnings
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from backend.accounts.models import User
from backend.core.clock import clock_now
from backend.core.events import event_record, snapshot
from backend.core.exceptions import Conflict, NotFound, ValidationFailed
from backend.core.models import EventAction
from backend.core.phones import phone_normalize
from backend.organizations.models import Membership, Role
from backend.organizations.permissions import Perm
from backend.organizations.selectors import organization_access_check, tenant_row_for_change
from backend.staffing.exceptions import StaffingErrorCode
from backend.staffing.models import Worker, WorkerAvailability, WorkerStatus
from backend.staffing.selectors import pool_owner_id, worker_self_get
from backend.staffing.services.locking import conflict_retry, worker_lock
from backend.staffing.services.offers import worker_offers_withdraw

#: The status ladder: where each status may go next. Suspension is reversible (back to active).
TRANSITIONS: dict[str, frozenset[str]] = {
    WorkerStatus.CANDIDATE: frozenset({WorkerStatus.INTERVIEWED, WorkerStatus.SUSPENDED}),
    WorkerStatus.INTERVIEWED: frozenset({WorkerStatus.ACTIVE, WorkerStatus.SUSPENDED}),
    WorkerStatus.ACTIVE: frozenset({WorkerStatus.SUSPENDED}),
    WorkerStatus.SUSPENDED: frozenset({WorkerStatus.ACTIVE}),
}
MAX_SKILLS = 20
MAX_SKILL_LENGTH = 40
#: How far ahead a worker may declare availability, and the longest single window.
AVAILABILITY_HORIZON_DAYS = 92
MAX_WINDOW_HOURS = 72
PROFILE_FIELDS = ("home_latitude", "home_longitude", "skills", "status", "interview_notes", "max_shifts_per_day")


def skills_clean(skills: Sequence[str]) -> list[str]:
    """Skills as stored: stripped, lower-case, unique, in the order given; 422 for too many or too long."""
    out: list[str] = []
    for raw in skills:
        skill = raw.strip().lower()
        if not skill or len(skill) > MAX_SKILL_LENGTH:
            raise ValidationFailed(
                _("A skill is 1 to %(n)d characters.") % {"n": MAX_SKILL_LENGTH}, fields={"skills": [raw[:60]]}
            )
        if skill not in out:
            out.append(skill)
    if len(out) > MAX_SKILLS:
        raise ValidationFailed(_("At most %(n)d skills.") % {"n": MAX_SKILLS}, fields={"skills": [str(len(out))]})
    return out


def _point_check(latitude: Decimal | None, longitude: Decimal | None, field: str = "home") -> None:
    if (latitude is None) != (longitude is None):
        raise ValidationFailed(
            _("Give both latitude and longitude, or neither."), fields={f"{field}_latitude": [_("incomplete")]}
        )
    if latitude is not None and longitude is not None and not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValidationFailed(_("The point is off the map."), fields={f"{field}_latitude": [str(latitude)]})


@transaction.atomic
def worker_recruit(
    *,
    user: Any,
    organization_id: int,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    skills: Sequence[str] = (),
    home_latitude: Decimal | None = None,
    home_longitude: Decimal | None = None,
) -> Worker:
    """Add a person to the pool of ``organization_id``'s HQ as a candidate, with a worker membership there.

    The person's account is found by phone or created. 409 ``worker_exists`` when they are already in a pool.
    """
    owner_id = pool_owner_id(organization_id)
    organization_access_check(user, owner_id, Perm.STAFFING_MANAGE)
    _point_check(home_latitude, home_longitude)
    phone = phone_normalize(phone)
    account = User.objects.filter(phone=phone).first()
    if account is None:
        account = User.objects.create_user(phone=phone, first_name=first_name, last_name=last_name)
    if Worker.objects.filter(user=account).exists():
        raise Conflict(_("This person is already in a worker pool."), code=StaffingErrorCode.WORKER_EXISTS)
    try:
        with transaction.atomic():
            worker = Worker.objects.create(
                organization_id=owner_id,
                user=account,
                skills=skills_clean(skills),
                home_latitude=home_latitude,
                home_longitude=home_longitude,
            )
    except IntegrityError as exc:  # a concurrent recruit of the same person
        raise Conflict(_("This person is already in a worker pool."), code=StaffingErrorCode.WORKER_EXISTS) from exc
    Membership.objects.get_or_create(user=account, organization_id=owner_id, role=Role.WORKER)
    event_record(entity=worker, action=EventAction.CREATE, actor=user, after=snapshot(worker, PROFILE_FIELDS))
    return worker


@conflict_retry
@transaction.atomic
def worker_status_change(*, user: Any, worker_id: int, status: str, notes: str | None = None) -> Worker:
    """Move a worker along the ladder; an interview may add the recruiter's notes. 409 for a step the ladder
    does not have (a candidate cannot become active without an interview). Suspending withdraws the worker's
    live offers and gives back the places they hold on shifts that have not started (offered to standby)."""
    worker = worker_lock(tenant_row_for_change(Worker, worker_id, user=user, perm=Perm.STAFFING_MANAGE).pk)
    if status not in TRANSITIONS.get(worker.status, frozenset()):
        raise Conflict(
            _("A %(current)s worker cannot become %(new)s.") % {"current": worker.status, "new": status},
            code=StaffingErrorCode.INVALID_STATUS_TRANSITION,
            fields={"status": [status]},
        )
    before = snapshot(worker, PROFILE_FIELDS)
    worker.status = status
    if notes is not None:
        worker.interview_notes = notes
    if status == WorkerStatus.INTERVIEWED:
        worker.interviewed_at = clock_now()
        worker.interviewed_by = user if getattr(user, "is_authenticated", False) else None
    worker.save()
    event_record(
        entity=worker, action=EventAction.STATUS, actor=user, before=before, after=snapshot(worker, PROFILE_FIELDS)
    )
    if status == WorkerStatus.SUSPENDED:
        # A suspended worker keeps no offer and no place: they go back to the shifts' standby lists.
        worker_offers_withdraw(worker=worker, actor=user, reason=_("your profile was suspended"))
    return worker


@transaction.atomic
def worker_profile_update(
    *,
    user: Any,
    worker_id: int,
    skills: Sequence[str] | None = None,
    interview_notes: str | None = None,
    max_shifts_per_day: int | None = None,
    home_latitude: Decimal | None = None,
    home_longitude: Decimal | None = None,
) -> Worker:
    """A recruiter's change of a worker's profile (the fields given; ``None`` leaves one as it is)."""
    worker = tenant_row_for_change(Worker, worker_id, user=user, perm=Perm.STAFFING_MANAGE)
    before = snapshot(worker, PROFILE_FIELDS)
    if skills is not None:
        worker.skills = skills_clean(skills)
    if interview_notes is not None:
        worker.interview_notes = interview_notes
    if max_shifts_per_day is not None:
        if not 1 <= max_shifts_per_day <= 3:
            raise ValidationFailed(
                _("One to three shifts a day."), fields={"max_shifts_per_day": [str(max_shifts_per_day)]}
            )
        worker.max_shifts_per_day = max_shifts_per_day
    if home_latitude is not None or home_longitude is not None:
        _point_check(home_latitude, home_longitude)
        worker.home_latitude, worker.home_longitude = home_latitude, home_longitude
    worker.save()
    event_record(
        entity=worker, action=EventAction.UPDATE, actor=user, before=before, after=snapshot(worker, PROFILE_FIELDS)
    )
    return worker


@transaction.atomic
def worker_self_update(
    *, user: Any, home_latitude: Decimal | None = None, home_longitude: Decimal | None = None, photo: Any = None
) -> Worker:
    """A worker's own change from the phone: their home location (used for distances) and photo."""
    worker = Worker.objects.select_for_update().get(pk=worker_self_get(user).pk)
    before = snapshot(worker, PROFILE_FIELDS)
    if home_latitude is not None or home_longitude is not None:
        _point_check(home_latitude, home_longitude)
        worker.home_latitude, worker.home_longitude = home_latitude, home_longitude
    if photo is not None:
        worker.photo = photo
    worker.save()
    event_record(
        entity=worker, action=EventAction.UPDATE, actor=user, before=before, after=snapshot(worker, PROFILE_FIELDS)
    )
    return worker


#: Pillow's format names accepted for a profile photo, and the file extension each is stored under.
PHOTO_FORMATS: dict[str, str] = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def _photo_refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, code=StaffingErrorCode.PHOTO_INVALID, fields={"photo": [message]})


def photo_validate(data: bytes) -> str:
    """Check uploaded bytes are a real JPEG, PNG or WEBP picture of bounded size; return the extension to store.

    The content decides, never the client's filename or content type. The pixel count is read from the header
    before any decoding, so a decompression bomb is refused without being expanded."""
    max_pixels = settings.STAFFING_PHOTO_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                width, height = image.size
                if fmt in PHOTO_FORMATS and width * height <= max_pixels:
                    image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _photo_refuse(_("The picture has too many pixels.")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _photo_refuse(_("The file is not a JPEG, PNG or WEBP picture.")) from None
    if fmt not in PHOTO_FORMATS:
        raise _photo_refuse(_("The file is not a JPEG, PNG or WEBP picture."))
    if width < 1 or height < 1 or width * height > max_pixels:
        raise _photo_refuse(_("The picture has too many pixels."))
    return PHOTO_FORMATS[fmt]


def worker_photo_set(*, user: Any, file: Any) -> Worker:
    """A worker's own profile photo from the phone: validated (size, real picture, pixel count), stored under a
    random name, the previous photo's file removed after the commit. A refusal (422) changes nothing."""
    worker_self_get(user)  # 404 for a caller without a worker profile, before the upload is read
    max_bytes = settings.STAFFING_PHOTO_MAX_BYTES
    if file.size is not None and file.size > max_bytes:
        raise _photo_too_large(max_bytes)
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _photo_too_large(max_bytes)
    ext = photo_validate(data)
    storage = Worker._meta.get_field("photo").storage
    new_name = ""
    try:
        with transaction.atomic():
            worker = Worker.objects.select_for_update().get(pk=worker_self_get(user).pk)
            old_name = worker.photo.name or ""
            worker.photo.save(f"{secrets.token_hex(16)}.{ext}", ContentFile(data), save=False)
            new_name = worker.photo.name
            worker.save()
            event_record(
                entity=worker,
                action=EventAction.UPDATE,
                actor=user,
                before={"photo": old_name},
                after={"photo": new_name},
            )
            if old_name and old_name != new_name:
                transaction.on_commit(lambda: storage.delete(old_name))
    except BaseException:
        if new_name:  # the row was rolled back: do not leave the new file behind
            storage.delete(new_name)
        raise
    return worker


def _photo_too_large(max_bytes: int) -> ValidationFailed:
    message = _("The photo is larger than %(n)d MB.") % {"n": max(1, max_bytes // (1024 * 1024))}
    return ValidationFailed(message, code=StaffingErrorCode.PHOTO_TOO_LARGE, fields={"photo": [message]})


def _window_check(starts_at: dt.datetime, ends_at: dt.datetime, now: dt.datetime) -> None:
    fields: dict[str, list[str]] = {}
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        fields["starts_at"] = [_("Give a time with its UTC offset.")]
    elif ends_at <= starts_at:
        fields["ends_at"] = [_("The window must end after it starts.")]
    elif ends_at - starts_at > dt.timedelta(hours=MAX_WINDOW_HOURS):
        fields["ends_at"] = [_("A window lasts at most %(n)d hours.") % {"n": MAX_WINDOW_HOURS}]
    elif ends_at <= now:
        fields["ends_at"] = [_("The window is already over.")]
    elif starts_at > now + dt.timedelta(days=AVAILABILITY_HORIZON_DAYS):
        fields["starts_at"] = [_("Declare at most %(n)d days ahead.") % {"n": AVAILABILITY_HORIZON_DAYS}]
    if fields:
        raise ValidationFailed(_("The window is invalid."), code=StaffingErrorCode.INVALID_AVAILABILITY, fields=fields)


@transaction.atomic
def availability_declare(
    *, user: Any, windows: Sequence[tuple[dt.datetime, dt.datetime]], replace_from: dt.datetime | None = None
) -> list[WorkerAvailability]:
    """The caller (a worker) declares when they can work. With ``replace_from``, their windows ending after it are
    replaced by ``windows`` (the phone sends the whole week); otherwise ``windows`` are added. Overlapping or
    touching windows are merged. All or nothing: one bad window and nothing changes."""
    worker = Worker.objects.select_for_update().get(pk=worker_self_get(user).pk)
    now = clock_now()
    for starts_at, ends_at in windows:
        _window_check(starts_at, ends_at, now)
    existing = WorkerAvailability.objects.filter(worker=worker)
    if replace_from is not None:
        removed = list(existing.filter(ends_at__gt=replace_from))
        for row in removed:
            event_record(
                entity=row,
                action=EventAction.DELETE,
                actor=user,
                organization_id=worker.organization_id,
                before=snapshot(row, ("starts_at", "ends_at")),
            )
        existing.filter(pk__in=[r.pk for r in removed]).delete()
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted([*windows, *existing.filter(ends_at__gt=now).values_list("starts_at", "ends_at")]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    future = existing.filter(ends_at__gt=now)
    kept: dict[tuple[dt.datetime, dt.datetime], WorkerAvailability | None] = {
        (r.starts_at, r.ends_at): r for r in future
    }
    out: list[WorkerAvailability] = []
    for start, end in merged:
        found = kept.pop((start, end), None)
        if found is None:
            found = WorkerAvailability.objects.create(worker=worker, starts_at=start, ends_at=end)
            event_record(
                entity=found,
                action=EventAction.CREATE,
                actor=user,
                organization_id=worker.organization_id,
                after=snapshot(found, ("starts_at", "ends_at")),
            )
        out.append(found)
    for gone in kept.values():  # swallowed by a merge
        if gone is None:
            continue
        window_delete(gone, actor=user, organization_id=worker.organization_id)
    return out


WINDOW_EVENT_FIELDS = ("starts_at", "ends_at")


def window_delete(row: WorkerAvailability, *, actor: Any, organization_id: int) -> None:
    """Delete one availability window, recording its event (every path that removes a window goes through here)."""
    event_record(
        entity=row,
        action=EventAction.DELETE,
        actor=actor,
        organization_id=organization_id,
        before=snapshot(row, WINDOW_EVENT_FIELDS),
    )
    row.delete()


@transaction.atomic
def availability_remove(*, user: Any, availability_id: int) -> None:
    """The caller (a worker) withdraws one of their own windows; 404 for anyone else's."""
    worker = worker_self_get(user)
    row = WorkerAvailability.objects.select_for_update().filter(pk=availability_id, worker=worker).first()
    if row is None:
        raise NotFound(_("Availability window not found."))
    window_delete(row, actor=user, organization_id=worker.organization_id)
