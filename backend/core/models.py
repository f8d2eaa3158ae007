"""Shared model bases and the append-only event log."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Func
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self) -> SoftDeleteQuerySet:
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> SoftDeleteQuerySet:
        return self.filter(deleted_at__isnull=False)


class SoftDeleteModel(TimeStampedModel):
    """Rows are never hard-deleted by the application: history must survive (the amoCRM 31-vs-14 lesson)."""

    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, db_index=True)

    objects = SoftDeleteQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class EventAction(models.TextChoices):
    CREATE = "create", _("created")
    UPDATE = "update", _("updated")
    DELETE = "delete", _("deleted")
    RESTORE = "restore", _("restored")
    BULK_UPDATE = "bulk_update", _("bulk update")
    IMPORT = "import", _("imported")
    EXPORT = "export", _("exported")
    MERGE = "merge", _("merged")
    LOGIN = "login", _("logged in")
    STATUS = "status", _("status changed")
    LOGOUT = "logout", _("logged out")
    TOKEN_ISSUE = "token_issue", _("token issued")
    SESSION_REVOKE = "session_revoke", _("session revoked")
    PASSWORD_CHANGE = "password_change", _("password changed")
    PRIVILEGE_CHANGE = "privilege_change", _("privileges changed")
    LOCKOUT = "lockout", _("locked out")


class AppendOnlyError(RuntimeError):
    pass


@deconstructible(path="backend.core.models.CurrentTransactionId")
class CurrentTransactionId(Func):
    """The inserting transaction's id on PostgreSQL (``pg_current_xact_id()``, 64-bit, never wraps); NULL elsewhere.

    The sync feed orders events by it so that a reader never skips an event committed out of id order (decision
    0022). SQLite runs one writer at a time, so there the id order already is the commit order.
    """

    output_field = models.BigIntegerField()

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, *args: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        if connection.vendor == "postgresql":
            return "(pg_current_xact_id()::text::bigint)", []
        return "NULL", []


class Event(models.Model):
    """One business change: who, when, what, before and after.

    Written by the services in the same transaction as the change (bulk changes too), on every database.
    Append-only: the model refuses updates and deletes, and so does the database (triggers, decision 0008).
    """

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entity_type = models.CharField(max_length=64)
    entity_id = models.CharField(max_length=64)
    action = models.CharField(max_length=32, choices=EventAction.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    batch_id = models.UUIDField(null=True, blank=True, db_index=True)
    note = models.CharField(max_length=255, blank=True, default="")
    # Set by the database from the inserting transaction (PostgreSQL); see CurrentTransactionId.
    xid = models.BigIntegerField(null=True, blank=True, editable=False, db_default=CurrentTransactionId())

    class Meta:
        ordering = ("-occurred_at", "-id")
        indexes = [
            models.Index(fields=["entity_type", "entity_id", "occurred_at"], name="event_entity_idx"),
            models.Index(fields=["organization", "occurred_at"], name="event_org_idx"),
            models.Index(fields=["xid", "id"], name="event_feed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type}#{self.entity_id} {self.action} @ {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("events are append-only")


class IdempotencyRecord(models.Model):
    """A stored answer to a POST made with an ``Idempotency-Key``.

    The row is inserted first under a unique constraint, in the same transaction as the view's effect and updated
    with the answer before that transaction commits (decision 0006): a committed effect always has its stored
    answer, and an effect that rolled back leaves no record behind. Concurrent retries with the same key wait on
    the insert, so exactly one of them performs the side effect (measured in FIELD-NOTES). ``access`` lists the
    ``[organization id, permission]`` grants the answer relied on and ``entities`` the rows the request wrote (as its
    events name them); a replay re-checks both for the caller.
    """

    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=255, help_text="caller identity and route")
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True, help_text="headers replayed with the body")
    access = models.JSONField(
        default=list, blank=True, help_text="[organization id, permission] pairs the answer relied on"
    )
    entities = models.JSONField(
        default=dict, blank=True, help_text="{model label: [pk, ...]} of the rows the request wrote"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_uniq")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


def new_batch_id() -> uuid.UUID:
    return uuid.uuid4()


class WorkerHeartbeat(models.Model):
    """A task worker's sign of life, written by ``run_worker`` every few seconds.

    The orphan sweeper re-queues a RUNNING task only when the worker that claimed it has stopped beating
    (a pure time-out re-ran healthy long tasks, FIELD-NOTES).
    """

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255, blank=True, default="")
    pid = models.PositiveIntegerField(null=True, blank=True)
    queues = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now, db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    tasks_run = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return self.worker_id
