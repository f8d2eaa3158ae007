"""The one way services record business changes in the event log."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from .access_trace import entity_written
from .models import Event, EventAction


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance: models.Model, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """A JSON-safe dict of concrete field values (foreign keys as ids)."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        data[field.name] = _jsonable(getattr(instance, field.attname))
    return data


def changes_to(instance: models.Model, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) of each of ``values`` that differs from what ``instance`` holds: what an upsert changes."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in values.items():
        current = getattr(instance, name)
        if current != value:
            before[name], after[name] = current, value
    return before, after


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Keys whose values differ; used to keep update events small."""
    before = before or {}
    after = after or {}
    return {k: after.get(k) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


def entity_type_of(instance: models.Model) -> str:
    return instance._meta.label_lower


def event_record(
    *,
    entity: models.Model,
    action: str,
    actor: Any = None,
    organization_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    batch_id: uuid.UUID | None = None,
    note: str = "",
) -> Event:
    """Append one event. Call inside the service's transaction so both commit or neither does.

    The entity is noted in the open access trace: an idempotent replay re-checks that the caller still sees it.
    """
    if action == EventAction.UPDATE and before is not None and after is not None:
        changed = diff(before, after)
        before = {k: before.get(k) for k in changed}
        after = changed
    entity_written(entity_type_of(entity), str(entity.pk))
    return Event.objects.create(
        organization_id=organization_id if organization_id is not None else getattr(entity, "organization_id", None),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        entity_type=entity_type_of(entity),
        entity_id=str(entity.pk),
        action=action,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        batch_id=batch_id,
        note=note[:255],
    )


def event_record_many(
    *,
    entities: Iterable[tuple[models.Model, dict[str, Any] | None, dict[str, Any] | None]],
    action: str,
    actor: Any = None,
    batch_id: uuid.UUID | None = None,
    note: str = "",
    organization_id: int | None = None,
) -> int:
    """Append events for a bulk change in one INSERT; every row of the batch shares ``batch_id``. The events'
    organisation is each entity's own, or ``organization_id`` for entities that have none (a worker's window)."""
    batch_id = batch_id or uuid.uuid4()
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    rows = []
    for entity, before, after in entities:
        if action in (EventAction.UPDATE, EventAction.BULK_UPDATE) and before is not None and after is not None:
            changed = diff(before, after)
            before = {k: before.get(k) for k in changed}
            after = changed
        entity_written(entity_type_of(entity), str(entity.pk))
        rows.append(
            Event(
                organization_id=getattr(entity, "organization_id", None) or organization_id,
                actor=actor_obj,
                entity_type=entity_type_of(entity),
                entity_id=str(entity.pk),
                action=action,
                before=_jsonable(before) if before is not None else None,
                after=_jsonable(after) if after is not None else None,
                batch_id=batch_id,
                note=note[:255],
            )
        )
    Event.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def soft_delete_record(*, entity: Any, actor: Any) -> bool:
    """Mark a soft-deletable row deleted and record the event; False (and nothing written) when it already was.

    Call inside the service's transaction, with the row locked.
    """
    if entity.deleted_at is not None:
        return False
    entity.deleted_at = timezone.now()
    entity.save(update_fields=["deleted_at", "updated_at"])
    event_record(
        entity=entity,
        action=EventAction.DELETE,
        actor=actor,
        before={"deleted_at": None},
        after={"deleted_at": entity.deleted_at},
    )
    return True


def restore_record(*, entity: Any, actor: Any) -> bool:
    """Undo a soft delete and record the event; False when the row was not deleted."""
    if entity.deleted_at is None:
        return False
    before = {"deleted_at": entity.deleted_at}
    entity.deleted_at = None
    entity.save(update_fields=["deleted_at", "updated_at"])
    event_record(entity=entity, action=EventAction.RESTORE, actor=actor, before=before, after={"deleted_at": None})
    return True


def export_record(
    *,
    model: type[models.Model],
    actor: Any,
    organization_id: int,
    row_count: int,
    file_format: str,
    filters: Mapping[str, Any] | None = None,
    note: str = "",
) -> Event:
    """Record that ``actor`` took ``row_count`` rows of ``model`` out of the system (an export or download).

    An export changes no row but moves personal data out of the tenant, so the audit trail must show who took
    what, when, and with which filters. The entity is the exported set, not one row: ``entity_id`` is ``"*"``.
    Call it in the same transaction that reads the rows, so a failed export leaves no event and vice versa.
    No entity is noted in the access trace: the set is the organization's, which its grant already covers.
    """
    return Event.objects.create(
        organization_id=organization_id,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        entity_type=model._meta.label_lower,
        entity_id="*",
        action=EventAction.EXPORT,
        after=_jsonable({"rows": row_count, "format": file_format, "filters": dict(filters or {})}),
        note=note[:255],
    )


# --- The append-only guard ---------------------------------------------------------------------------
# The database refuses UPDATE and DELETE on core_event (migration core 0006, decision 0008). The one exception
# is `manage.py flush`, which empties every table (the test runner's teardown of transactional tests uses it).

EVENTS_FLUSH_SETTING = "brigada.events_flush"
SQLITE_FLUSH_FUNCTION = "brigada_events_flush_allowed"
_SQLITE_FLAG = "brigada_events_flush"


def sqlite_event_guard_install(connection: BaseDatabaseWrapper) -> None:
    """Give a new SQLite connection the function the DELETE trigger asks (0 unless a flush is running)."""
    if connection.vendor != "sqlite" or connection.connection is None:
        return
    connection.connection.create_function(
        SQLITE_FLUSH_FUNCTION, 0, lambda: 1 if getattr(connection, _SQLITE_FLAG, False) else 0
    )


@contextmanager
def event_log_flush_allowed(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Let ``connection`` delete or truncate events while the block runs; only ``manage.py flush`` uses it.

    Not for application code: nothing else may delete events (decision 0008).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', false)", [EVENTS_FLUSH_SETTING])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, '', false)", [EVENTS_FLUSH_SETTING])
        return
    setattr(connection, _SQLITE_FLAG, True)
    try:
        yield
    finally:
        setattr(connection, _SQLITE_FLAG, False)
