"""A URLconf for the idempotency tests: the real API plus a probe route that can lose its answer after the effect.

The probe calls the real services (a vehicle with its event, an outbox message, a real-time push) and then, if
the ``X-Probe-Fail`` header asks for it, fails the way production would after the business change: ``500`` (a
bug while shaping the answer, through django-ninja's error handlers), ``503`` (the database connection dropped)
or ``crash`` (the worker dies: an exception no handler catches); ``X-Probe-Delay`` keeps the request's
transaction open for a while. These headers are not part of what the request means, so a retry without them is
the same request with the same key.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja import NinjaAPI, Status

from backend.accounts.tokens import access_token_user
from backend.config.urls import urlpatterns as real_urlpatterns
from backend.crm import services as crm_services
from backend.notifications.services import message_enqueue
from backend.realtime.services import realtime_publish
from mobile_api.errors import install_error_handlers
from mobile_api.security import bearer

PROBE = "/api/v1/_probe/clients/{client_id}/vehicles"
PROBE_CSV = "/api/v1/_probe/csv/{client_id}"
PROBE_UNDONE = "/api/v1/_probe/clients/{client_id}/vehicles-undone"

probe_api = NinjaAPI(urls_namespace="idempotency-probe", auth=bearer)
install_error_handlers(probe_api)


def _effect(user: Any, client_id: int) -> int:
    vehicle = crm_services.vehicle_create(user=user, client_id=client_id, make="Lada", plate="A001AA")
    message_enqueue(channel="sms", recipient="+77010000000", body="Vehicle added", dedupe_key=f"v:{vehicle.pk}")
    realtime_publish(user_id=user.pk, event={"type": "vehicle.created", "id": vehicle.pk})
    return vehicle.pk


# PostgreSQL backend pid of each probe request that named itself with ``X-Probe-Name`` (to kill its connection),
# and the lock_timeout its view ran with.
BACKEND_PIDS: dict[str, int] = {}
LOCK_TIMEOUTS: dict[str, str] = {}


@probe_api.post("/clients/{client_id}/vehicles", response={201: dict[str, int]})
def vehicle_probe(request: HttpRequest, client_id: int) -> Any:
    vehicle_id = _effect(request.auth, client_id)  # type: ignore[attr-defined]
    if name := request.headers.get("X-Probe-Name"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout')")
            LOCK_TIMEOUTS[name] = cursor.fetchone()[0]
            cursor.execute("SELECT pg_backend_pid()")
            BACKEND_PIDS[name] = cursor.fetchone()[0]
    time.sleep(float(request.headers.get("X-Probe-Delay", "0")))  # a slow answer, still inside the transaction
    mode = request.headers.get("X-Probe-Fail", "")
    if mode == "500":
        raise RuntimeError("the answer was lost after the vehicle was saved")
    if mode == "503":
        raise OperationalError("server closed the connection unexpectedly")
    if mode == "crash":
        raise SystemExit("the worker died between the effect and the stored answer")
    return Status(201, {"id": vehicle_id})


class _Undo(Exception):
    pass


@probe_api.post("/clients/{client_id}/vehicles-undone", response={201: dict[str, bool]})
def vehicle_undone(request: HttpRequest, client_id: int) -> Any:
    """Writes a vehicle (and its event) in a savepoint, rolls it back and still succeeds, as an import whose write
    conflicted answers with its failed job."""
    try:
        with transaction.atomic():
            crm_services.vehicle_create(user=request.auth, client_id=client_id, make="Lada")  # type: ignore[attr-defined]
            raise _Undo
    except _Undo:
        pass
    return Status(201, {"undone": True})


def vehicle_csv(request: HttpRequest, client_id: int) -> HttpResponse:
    """A creating POST whose answer is a file, not JSON: its body cannot be stored for a replay."""
    user = access_token_user(request.headers.get("Authorization", "")[7:])
    _effect(user, client_id)
    return HttpResponse(b"plate;make\nA001AA;Lada\n", content_type="text/csv", status=201)


urlpatterns = [
    path("api/v1/_probe/csv/<int:client_id>", vehicle_csv),
    path("api/v1/_probe/", probe_api.urls),
    *real_urlpatterns,
]
