"""A client is never in two visits at once (decision 0009): one occupancy row per appointment for its client, the
third exclusion constraint on PostgreSQL and two more triggers on SQLite. Changing the check constraints makes
Django rebuild ``booking_occupancy`` on SQLite, which drops its triggers: they are dropped first and all created
again at the end."""

import backend.booking.db
import backend.booking.models
from typing import Any

import django.contrib.postgres.constraints
import django.contrib.postgres.fields.ranges
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


ACTIVE = ("held", "booked", "confirmed", "arrived", "done")


def client_rows_backfill(apps: Any, schema_editor: Any) -> None:
    """One client row per existing appointment, active when the appointment is and no earlier row of the same client
    overlaps it (such rows predate the guard; they are kept, inactive, rather than failing the migration)."""
    Appointment = apps.get_model("booking", "Appointment")
    Occupancy = apps.get_model("booking", "Occupancy")
    held: dict[int, list[tuple[Any, Any]]] = {}
    rows = []
    for appointment in Appointment.objects.order_by("created_at", "id").iterator():
        active = appointment.status in ACTIVE
        if active:
            spans = held.setdefault(appointment.client_id, [])
            if any(s < appointment.ends_at and appointment.starts_at < e for s, e in spans):
                active = False
            else:
                spans.append((appointment.starts_at, appointment.ends_at))
        rows.append(
            Occupancy(
                organization_id=appointment.organization_id,
                branch_id=appointment.branch_id,
                client_id=appointment.client_id,
                starts_at=appointment.starts_at,
                ends_at=appointment.ends_at,
                is_active=active,
                appointment_id=appointment.pk,
            )
        )
    Occupancy.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ('booking', '0004_waitlist_reviews'),
        ('catalog', '0005_booking_catalog'),
        ('crm', '0004_name_key_unique'),
        ('organizations', '0002_booking_policy'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        backend.booking.db.SqliteOnlyRunSQL(
            sql=backend.booking.db.SQLITE_TRIGGERS_0002_DROP, reverse_sql=backend.booking.db.SQLITE_TRIGGERS_0002
        ),
        backend.booking.db.SqliteRebuildSafe(
            migrations.RemoveConstraint(
                model_name='occupancy',
                name='booking_occupancy_holds_something',
            ),
        ),
        backend.booking.db.SqliteRebuildSafe(
            migrations.RemoveConstraint(
                model_name='occupancy',
                name='booking_occupancy_one_owner',
            ),
        ),
        backend.booking.db.SqliteRebuildSafe(
            migrations.AddField(
                model_name='occupancy',
                name='appointment',
                field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='client_occupancy', to='booking.appointment'),
            ),
        ),
        backend.booking.db.SqliteRebuildSafe(
            migrations.AddField(
                model_name='occupancy',
                name='client',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='occupancies', to='crm.client'),
            ),
        ),
        backend.booking.db.SqliteRebuildSafe(
            migrations.AddIndex(
                model_name='occupancy',
                index=models.Index(fields=['client', 'starts_at'], name='booking_occ_client_idx'),
            ),
        ),
        backend.booking.db.SqliteRebuildSafe(
            migrations.AddConstraint(
                model_name='occupancy',
                constraint=models.CheckConstraint(condition=models.Q(('staff__isnull', False), ('resource__isnull', False), ('client__isnull', False), _connector='OR'), name='booking_occupancy_holds_something'),
            ),
        ),
        backend.booking.db.SqliteRebuildSafe(
            migrations.AddConstraint(
                model_name='occupancy',
                constraint=models.CheckConstraint(condition=models.Q(models.Q(('appointment__isnull', True), ('group_session__isnull', True), ('line__isnull', False)), models.Q(('appointment__isnull', True), ('group_session__isnull', False), ('line__isnull', True)), models.Q(('appointment__isnull', False), ('group_session__isnull', True), ('line__isnull', True)), _connector='OR'), name='booking_occupancy_one_owner'),
            ),
        ),
        backend.booking.db.SqliteRebuildSafe(
            migrations.AddConstraint(
                model_name='occupancy',
                constraint=models.CheckConstraint(condition=models.Q(models.Q(('appointment__isnull', True), ('client__isnull', True)), models.Q(('appointment__isnull', False), ('client__isnull', False), ('resource__isnull', True), ('staff__isnull', True)), _connector='OR'), name='booking_occupancy_client_row'),
            ),
        ),
        migrations.RunPython(client_rows_backfill, migrations.RunPython.noop),
        backend.booking.db.PostgresOnlyAddConstraint(
            model_name='occupancy',
            constraint=django.contrib.postgres.constraints.ExclusionConstraint(condition=models.Q(('client__isnull', False), ('is_active', True)), expressions=[('client', '='), (backend.booking.models.TsTzRange('starts_at', 'ends_at', django.contrib.postgres.fields.ranges.RangeBoundary()), '&&')], name='booking_occupancy_client_no_overlap'),
        ),
        # SQLite's equivalent of the three exclusion constraints, created again after the rebuilds above.
        backend.booking.db.SqliteOnlyRunSQL(
            sql=backend.booking.db.SQLITE_TRIGGERS, reverse_sql=backend.booking.db.SQLITE_TRIGGERS_DROP
        ),
    ]
