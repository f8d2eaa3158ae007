"""Staffing error codes: the machine-readable part of every refusal the staffing services raise."""

from __future__ import annotations

from enum import StrEnum


class StaffingErrorCode(StrEnum):
    # Pool
    INVALID_STATUS_TRANSITION = "invalid_status_transition"
    WORKER_NOT_ACTIVE = "worker_not_active"
    NOT_A_WORKER = "not_a_worker"
    WORKER_EXISTS = "worker_exists"
    INVALID_AVAILABILITY = "invalid_availability"
    PHOTO_TOO_LARGE = "photo_too_large"
    PHOTO_INVALID = "photo_invalid"
    # Clients, sites, orders
    INVALID_INN = "invalid_inn"
    INVALID_KPP = "invalid_kpp"
    INVALID_OGRN = "invalid_ogrn"
    CLIENT_EXISTS = "client_exists"
    INVALID_DATES = "invalid_dates"
    INVALID_SHIFT_WINDOW = "invalid_shift_window"
    INVALID_RATES = "invalid_rates"
    INVALID_REFERENCE = "invalid_reference"
    ORDER_NOT_DRAFT = "order_not_draft"
    ORDER_NOT_CONFIRMED = "order_not_confirmed"
    ORDER_CLOSED = "order_closed"
    HANDOFF_NOT_ALLOWED = "handoff_not_allowed"
    HORIZON_TOO_LONG = "horizon_too_long"
    # Dispatch
    SOLVER_FAILED = "solver_failed"
    SOLVER_INFEASIBLE = "solver_infeasible"
    DISPATCH_RUNNING = "dispatch_running"
    # Offers and confirmations
    SHIFT_FULL = "shift_full"
    OFFER_NOT_OPEN = "offer_not_open"
    OFFER_EXPIRED = "offer_expired"
    OFFER_NOT_ACCEPTED = "offer_not_accepted"
    CONFIRMATION_CLOSED = "confirmation_closed"
    SHIFT_STARTED = "shift_started"
    OVERLAPPING_SHIFT = "overlapping_shift"
    # Lock conflicts the database reported twice over (see services/locking.py)
    CONCURRENT_CHANGE = "concurrent_change"
