"""The journal's live feed: every appointment change reaches the sockets of its branch, after commit only."""

from __future__ import annotations

from typing import Any

from backend.realtime.services import realtime_group_publish


def journal_group(branch_id: int) -> str:
    """The channel-layer group of a branch's journal sockets."""
    return f"booking.journal.{int(branch_id)}"


def appointment_event(appointment: Any, *, change: str) -> dict[str, Any]:
    """The socket message for one appointment as it stands now: enough for a journal to redraw its cells (the
    client re-reads the journal for details). ``change`` names what happened ("created", "cancelled", ...)."""
    lines = [
        {
            "service_id": line.service_id,
            "staff_id": line.staff_id,
            "resource_id": line.resource_id,
            "start": line.starts_at.isoformat(),
            "end": line.ends_at.isoformat(),
        }
        for line in appointment.lines.order_by("position")
    ]
    return {
        "type": "appointment.changed",
        "change": change,
        "appointment": {
            "id": appointment.pk,
            "branch_id": appointment.branch_id,
            "staff_id": appointment.staff_id,
            "group_session_id": appointment.group_session_id,
            "status": appointment.status,
            "start": appointment.starts_at.isoformat(),
            "end": appointment.ends_at.isoformat(),
            "lines": lines,
        },
    }


def publish_appointment_change(appointment: Any, *, change: str = "changed") -> None:
    """Tell the journal sockets of the appointment's branch about it once the current transaction commits (nothing
    when it rolls back). Call it from the service that changed the appointment, inside its transaction: the message
    is built now, from the state the transaction is about to commit."""
    realtime_group_publish(
        journal_group(appointment.branch_id),
        appointment_event(appointment, change=change),
        message_type="journal.event",
    )
