"""Tenancy cases of the booking routes (issue 8), imported by ``tenancy_cases_registry``.

Three parts of the booking work share this module: each adds its cases only inside its own block below, so their
changes never touch the same lines.
"""

from __future__ import annotations

# --- appointments: book, cancel, reschedule, status, my day (owner: b-core) -----------------------------------------

__import__("tests.api.tenancy_cases_booking_core")  # its own module: no import lines to merge with the others

# --- end of appointments ---------------------------------------------------------------------------------------------

# --- availability and journal (owner: b-avail) -----------------------------------------------------------------------
__import__("tests.api.tenancy_cases_booking_avail")  # its own module: no import lines to merge with the others

# --- end of availability and journal ---------------------------------------------------------------------------------

# --- waiting list, reminders, reviews, mailing (owner: b-comms) ------------------------------------------------------
__import__("tests.api.tenancy_cases_booking_comms")  # its own module: no import lines to merge with the others

# --- end of waiting list, reminders, reviews, mailing ----------------------------------------------------------------
