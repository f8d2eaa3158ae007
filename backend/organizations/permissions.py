"""What each role may do. One table, read by the tenancy selectors; services ask for a permission, not a role."""

from __future__ import annotations

from enum import StrEnum

from .models import Role


class Perm(StrEnum):
    ORG_VIEW = "org.view"
    ORG_MANAGE = "org.manage"
    CLIENT_VIEW = "crm.client.view"
    CLIENT_CHANGE = "crm.client.change"
    CLIENT_DELETE = "crm.client.delete"  # soft delete and restore; nobody hard-deletes through the app
    CLIENT_IMPORT = "crm.client.import"
    CLIENT_EXPORT = "crm.client.export"
    CATALOG_VIEW = "catalog.view"
    CATALOG_CHANGE = "catalog.change"
    AUDIT_VIEW = "audit.view"
    BOOKING_MANAGE = "booking.manage"
    SCHEDULE_VIEW = "booking.schedule.view"  # every master's schedule; a master reads their own with STAFFING_SELF
    SCHEDULE_CHANGE = "booking.schedule.change"
    STAFFING_MANAGE = "staffing.manage"
    STAFFING_SELF = "staffing.self"
    ANALYTICS_EXPORT = "analytics.export"
    MAILING_SEND = "crm.mailing.send"  # marketing mailings to a client segment (and their preview)
    COMMS_SETTINGS = "booking.comms.settings"  # reminders, rating requests, waiting-list hold, birthday greetings


_ALL = frozenset(Perm)

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.OWNER: _ALL,
    Role.MANAGER: _ALL - {Perm.ORG_MANAGE},
    Role.DISPATCHER: frozenset(
        {
            Perm.ORG_VIEW,
            Perm.CLIENT_VIEW,
            Perm.CLIENT_CHANGE,
            Perm.CATALOG_VIEW,
            Perm.BOOKING_MANAGE,
            Perm.SCHEDULE_VIEW,
            Perm.STAFFING_MANAGE,
        }
    ),
    Role.MASTER: frozenset({Perm.ORG_VIEW, Perm.CLIENT_VIEW, Perm.CATALOG_VIEW, Perm.STAFFING_SELF}),
    Role.WORKER: frozenset({Perm.ORG_VIEW, Perm.STAFFING_SELF}),
    Role.ANALYST: frozenset(
        {
            Perm.ORG_VIEW,
            Perm.CLIENT_VIEW,
            Perm.CLIENT_EXPORT,
            Perm.CATALOG_VIEW,
            Perm.AUDIT_VIEW,
            Perm.ANALYTICS_EXPORT,
        }
    ),
}


def role_has(role: str, perm: Perm | str) -> bool:
    return Perm(perm) in ROLE_PERMISSIONS.get(role, frozenset())
