"""Self-booking (issue 8): staff schedules first; availability, appointments, waiting list, reminders, reviews next.

This slice has no API routes on purpose: the tenancy walk needs a case for every route, and the booking API arrives
with availability. Schedules are written and read through ``backend.booking.services`` and
``backend.booking.selectors`` (and the read-only admin).
"""
