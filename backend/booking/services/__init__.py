"""Booking services, one module per rule. This slice holds ``schedules``; no API routes call them yet (the booking API
comes with availability, so the tenancy walk gains its cases together with the routes)."""
