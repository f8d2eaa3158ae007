"""Idempotency-Key on creating POSTs: replay, key reuse, one effect per key even when the answer is lost,
replays re-checked against the caller's tenancy today, concurrency, retention."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncClient, Client
from django.utils import timezone

from backend.accounts.tokens import token_pair_issue
from backend.core.models import Event, IdempotencyRecord
from backend.core.services import idempotency_purge
from backend.crm.models import Client as CrmClient
from backend.crm.models import Vehicle
from backend.notifications.models import OutboxMessage
from backend.organizations.models import Membership, Organization, Role
from backend.organizations.services import membership_revoke, membership_update
from tests.api.idempotency_probe_urls import BACKEND_PIDS, LOCK_TIMEOUTS, PROBE, PROBE_CSV, PROBE_UNDONE
from tests.conftest import ApiClient, member

URL = "/api/v1/crm/clients"


def _body(org: Organization, phone: str = "+77071234567") -> dict[str, Any]:
    return {"organization_id": org.id, "phone": phone, "first_name": "Aigerim"}


@pytest.mark.django_db
def test_same_key_and_body_returns_the_stored_response_and_creates_once(org: Organization) -> None:
    client = ApiClient(member(org, Role.MANAGER))
    headers = {"Idempotency-Key": "create-aigerim-1"}

    first = client.post(URL, json=_body(org), headers=headers)
    second = client.post(URL, json=_body(org), headers=headers)

    assert first.status_code == 201, first.content
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert CrmClient.objects.filter(organization=org).count() == 1


@pytest.mark.django_db
def test_same_key_with_another_body_is_422_and_changes_nothing(org: Organization) -> None:
    client = ApiClient(member(org, Role.MANAGER))
    headers = {"Idempotency-Key": "k-1"}
    client.post(URL, json=_body(org), headers=headers)

    reused = client.post(URL, json=_body(org, phone="+77077654321"), headers=headers)

    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert list(CrmClient.objects.values_list("phone", flat=True)) == ["+77071234567"]


@pytest.mark.django_db
def test_keys_are_scoped_per_caller(org: Organization) -> None:
    alice = ApiClient(member(org, Role.MANAGER))
    bob = ApiClient(member(org, Role.MANAGER))
    headers = {"Idempotency-Key": "same-key"}

    a = alice.post(URL, json=_body(org, "+77071111111"), headers=headers)
    b = bob.post(URL, json=_body(org, "+77072222222"), headers=headers)

    assert (a.status_code, b.status_code) == (201, 201)
    assert CrmClient.objects.count() == 2


@pytest.mark.django_db
def test_a_validation_error_is_not_stored_so_the_corrected_body_runs_with_the_same_key(org: Organization) -> None:
    client = ApiClient(member(org, Role.MANAGER))
    key = {"Idempotency-Key": "bad-1"}
    bad_phone = {"organization_id": org.id, "phone": "not a phone"}

    first = client.post(URL, json=bad_phone, headers=key)
    again = client.post(URL, json=bad_phone, headers=key)
    corrected = client.post(URL, json=_body(org), headers=key)  # the same key with another body, after a 4xx
    replay = client.post(URL, json=_body(org), headers=key)
    malformed = client.post(URL, json=_body(org), headers={"Idempotency-Key": "ключ с пробелами"})

    assert first.status_code == again.status_code == 422
    assert first.json()["error"]["code"] == again.json()["error"]["code"] == "validation_error"
    assert not again.has_header("Idempotent-Replayed")  # run again, not replayed
    assert corrected.status_code == 201, corrected.content  # not 422 idempotency_key_reused
    assert not corrected.has_header("Idempotent-Replayed")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == corrected.json()
    assert malformed.status_code == 422
    assert CrmClient.objects.count() == 1
    assert IdempotencyRecord.objects.filter(key="bad-1").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("refusal", [403, 404])
def test_a_refusal_is_not_stored_so_the_same_key_runs_once_the_caller_has_the_right(
    org: Organization, refusal: int
) -> None:
    owner = member(org, Role.OWNER)
    if refusal == 403:
        caller = member(org, Role.MASTER)  # may see clients, not create them
    else:
        caller = member(Organization.objects.create(name="Elsewhere", kind="beauty_salon"), Role.OWNER)
    api = ApiClient(caller)
    key = {"Idempotency-Key": "create-after-promotion"}

    refused = api.post(URL, json=_body(org), headers=key)
    after_refusal = (CrmClient.objects.count(), IdempotencyRecord.objects.count())
    if refusal == 403:
        membership = Membership.objects.get(user=caller, organization=org)
        membership_update(user=owner, membership_id=membership.pk, data={"role": Role.MANAGER})
    else:
        Membership.objects.create(user=caller, organization=org, role=Role.MANAGER)
    retry = api.post(URL, json=_body(org), headers=key)

    assert refused.status_code == refusal
    assert not refused.has_header("Idempotent-Replayed")
    assert after_refusal == (0, 0)  # nothing written, and the key is free
    assert retry.status_code == 201, retry.content
    assert not retry.has_header("Idempotent-Replayed")
    assert CrmClient.objects.filter(organization=org).count() == 1


@pytest.mark.django_db
def test_records_are_kept_at_least_24_hours_then_purged(org: Organization) -> None:
    client = ApiClient(member(org, Role.MANAGER))
    client.post(URL, json=_body(org), headers={"Idempotency-Key": "keep-me"})
    record = IdempotencyRecord.objects.get(key="keep-me")

    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_purge() == 0
    replay = client.post(URL, json=_body(org), headers={"Idempotency-Key": "keep-me"})
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(hours=49))
    purged = idempotency_purge()

    assert replay["Idempotent-Replayed"] == "true"
    assert purged == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_posts_with_one_key_have_one_side_effect() -> None:
    org = Organization.objects.create(name="Parallel", kind="beauty_salon")
    user = member(org, Role.MANAGER)
    token = token_pair_issue(user=user).access_token
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait()
            response = Client().post(
                URL,
                data=_body(org),
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "storm"},
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert CrmClient.objects.filter(organization=org).count() == 1
    assert len(statuses) == 20
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1


@pytest.mark.django_db
def test_a_conflict_is_not_replayed_so_the_retry_runs_again_once_the_conflict_is_gone(org: Organization) -> None:
    client = ApiClient(member(org, Role.MANAGER))
    holder = client.post(URL, json=_body(org)).json()
    headers = {"Idempotency-Key": "after-conflict"}

    conflict = client.post(URL, json=_body(org), headers=headers)
    client.patch(f"{URL}/{holder['id']}", json={"phone": "+77079999999"})
    retry = client.post(URL, json=_body(org), headers=headers)

    assert conflict.status_code == 409
    assert retry.status_code == 201
    assert not retry.has_header("Idempotent-Replayed")
    assert CrmClient.objects.filter(organization=org).count() == 2


@pytest.mark.django_db
def test_an_upload_larger_than_the_in_memory_body_limit_works_with_a_key(org: Organization) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = ApiClient(member(org, Role.MANAGER))
    rows = "".join(f"+7701{i:07d};Name{i};{'x' * 1000}\n" for i in range(3000))  # ~3.1 MB > 2.5 MB
    upload = SimpleUploadedFile("clients.csv", ("phone;first_name;notes\n" + rows).encode(), "text/csv")
    form = {"kind": "clients", "dry_run": "true", "organization_id": str(org.id), "file": upload}

    response = client.post("/api/v1/crm/imports", data=form, headers={"Idempotency-Key": "big-upload"})
    upload.seek(0)
    replay = client.post("/api/v1/crm/imports", data=form, headers={"Idempotency-Key": "big-upload"})

    assert response.status_code == 201, response.content[:300]
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == response.json()


# --- one effect, always: the answer is stored in the transaction of the effect ------------------------------

PROBE_URLS = "tests.api.idempotency_probe_urls"


def _vehicles(client: CrmClient) -> int:
    return Vehicle.objects.filter(client=client).count()


@pytest.fixture
def crm_client(org: Organization) -> CrmClient:
    return CrmClient.objects.create(organization=org, phone="+77071234567", first_name="Aigerim")


@pytest.mark.urls(PROBE_URLS)
@pytest.mark.django_db
@pytest.mark.parametrize("failure", ["500", "503"])
def test_a_5xx_after_the_effect_rolls_it_back_so_one_retry_leaves_one_vehicle(
    org: Organization, crm_client: CrmClient, failure: str
) -> None:
    api = ApiClient(member(org, Role.MANAGER))
    url = PROBE.format(client_id=crm_client.pk)
    key = {"Idempotency-Key": f"vehicle-{failure}"}

    lost = api.post(url, json={}, headers={**key, "X-Probe-Fail": failure})
    after_failure = (_vehicles(crm_client), OutboxMessage.objects.count(), IdempotencyRecord.objects.count())
    retry = api.post(url, json={}, headers=key)
    replay = api.post(url, json={}, headers=key)

    assert lost.status_code == int(failure)
    assert after_failure == (0, 0, 0)  # the effect went with the answer, and the key is free again
    assert retry.status_code == 201 and not retry.has_header("Idempotent-Replayed")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == retry.json()
    assert _vehicles(crm_client) == 1
    assert OutboxMessage.objects.count() == 1


@pytest.mark.urls(PROBE_URLS)
@pytest.mark.django_db
def test_a_crash_between_the_effect_and_the_stored_answer_leaves_no_effect(
    org: Organization, crm_client: CrmClient, django_capture_on_commit_callbacks: Any
) -> None:
    api = ApiClient(member(org, Role.MANAGER))
    url = PROBE.format(client_id=crm_client.pk)
    key = {"Idempotency-Key": "vehicle-crash"}
    events_before = Event.objects.count()

    with django_capture_on_commit_callbacks() as hooks, pytest.raises(SystemExit):
        api.post(url, json={}, headers={**key, "X-Probe-Fail": "crash"})
    crashed = (
        _vehicles(crm_client),
        OutboxMessage.objects.count(),
        Event.objects.count() - events_before,
        IdempotencyRecord.objects.count(),
    )
    with django_capture_on_commit_callbacks() as retry_hooks:
        retry = api.post(url, json={}, headers=key)

    assert crashed == (0, 0, 0, 0)  # no vehicle, message, event, nor a key left blocked
    assert hooks == []  # no outbox kick and no real-time push for the change that never was
    assert retry.status_code == 201
    assert _vehicles(crm_client) == 1
    assert OutboxMessage.objects.count() == 1
    assert len(retry_hooks) == 2  # the kick and the push, once the effect and its answer committed together


@pytest.mark.urls(PROBE_URLS)
@pytest.mark.django_db(transaction=True)
def test_under_asgi_the_view_runs_in_the_transaction_of_the_stored_answer() -> None:
    org = Organization.objects.create(name="ASGI", kind="car_service")
    crm_client = CrmClient.objects.create(organization=org, phone="+77071234567")
    token = token_pair_issue(user=member(org, Role.MANAGER)).access_token
    url = PROBE.format(client_id=crm_client.pk)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "asgi-1"}

    async def scenario() -> tuple[int, int, int]:
        client = AsyncClient()
        kw = {"data": {}, "content_type": "application/json"}
        lost = await client.post(url, **kw, headers={**headers, "X-Probe-Fail": "500"})
        retry = await client.post(url, **kw, headers=headers)
        replay = await client.post(url, **kw, headers=headers)
        assert replay["Idempotent-Replayed"] == "true"
        return lost.status_code, retry.status_code, replay.status_code

    assert async_to_sync(scenario)() == (500, 201, 201)
    assert _vehicles(crm_client) == 1
    # the grant made in the view's thread reached the record kept by the middleware
    assert IdempotencyRecord.objects.get(key="asgi-1").access == [[org.id, "crm.client.change"]]


@pytest.mark.urls(PROBE_URLS)
@pytest.mark.django_db
def test_a_created_file_answer_is_not_replayed_but_the_effect_is_not_repeated(
    org: Organization, crm_client: CrmClient
) -> None:
    api = ApiClient(member(org, Role.MANAGER))
    url = PROBE_CSV.format(client_id=crm_client.pk)
    key = {"Idempotency-Key": "csv-1"}

    first = api.post(url, json={}, headers=key)
    retry = api.post(url, json={}, headers=key)

    assert first.status_code == 201 and first.content.startswith(b"plate;make")
    assert retry.status_code == 201 and retry["Idempotent-Replayed"] == "true"
    assert retry.content == b""
    assert _vehicles(crm_client) == 1


# --- a replay answers only a caller who may still see what it names ------------------------------------------


@pytest.mark.django_db
def test_a_member_removed_from_the_organization_gets_404_not_the_stored_card(org: Organization) -> None:
    owner = member(org, Role.OWNER)
    manager = member(org, Role.MANAGER)
    api = ApiClient(manager)
    key = {"Idempotency-Key": "card-1"}
    created = api.post(URL, json=_body(org), headers=key)
    membership = Membership.objects.get(user=manager, organization=org)

    membership_revoke(user=owner, membership_id=membership.pk)
    replay = api.post(URL, json=_body(org), headers=key)

    assert created.status_code == 201
    assert replay.status_code == 404
    assert replay.json()["error"]["code"] == "not_found"
    assert "Aigerim" not in replay.content.decode()
    assert not replay.has_header("Idempotent-Replayed")
    assert CrmClient.objects.filter(organization=org).count() == 1
    assert IdempotencyRecord.objects.filter(key="card-1").count() == 1  # kept: it is the same request's answer


@pytest.mark.django_db
def test_a_member_whose_role_lost_the_right_gets_403_not_the_stored_card(org: Organization) -> None:
    owner = member(org, Role.OWNER)
    manager = member(org, Role.MANAGER)
    api = ApiClient(manager)
    key = {"Idempotency-Key": "card-2"}
    api.post(URL, json=_body(org), headers=key)
    membership = Membership.objects.get(user=manager, organization=org)

    membership_update(user=owner, membership_id=membership.pk, data={"role": Role.WORKER})
    replay = api.post(URL, json=_body(org), headers=key)

    assert replay.status_code == 403
    assert replay.json()["error"]["code"] == "forbidden"
    assert "Aigerim" not in replay.content.decode()
    assert CrmClient.objects.filter(organization=org).count() == 1


@pytest.mark.django_db
def test_the_record_names_the_organizations_and_rights_its_answer_needed(org: Organization) -> None:
    api = ApiClient(member(org, Role.MANAGER))

    api.post(URL, json=_body(org), headers={"Idempotency-Key": "names-org"})

    record = IdempotencyRecord.objects.get(key="names-org")
    assert [org.id, "crm.client.change"] in record.access
    assert [org.id, "crm.client.view"] in record.access


# --- concurrent retries wait on the first request's transaction (PostgreSQL) ---------------------------------


def _post_in_thread(
    url: str, token: str, headers: dict[str, str], results: dict[str, Any], name: str
) -> threading.Thread:
    def run() -> None:
        try:
            response = Client().post(
                url, data={}, content_type="application/json", headers={"Authorization": f"Bearer {token}", **headers}
            )
            results[name] = response
        except Exception as exc:  # the killed request's own failure is not what these tests look at
            results[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _inside_its_transaction(name: str) -> int:
    """Wait until the probe request ``name`` has made its effect (so it holds its key); its backend pid."""
    deadline = time.monotonic() + 10
    while name not in BACKEND_PIDS and time.monotonic() < deadline:
        time.sleep(0.02)
    return BACKEND_PIDS.pop(name)


def _probe_setup(name: str) -> tuple[CrmClient, str, str]:
    org = Organization.objects.create(name=name, kind="car_service")
    crm_client = CrmClient.objects.create(organization=org, phone="+77071234567")
    token = token_pair_issue(user=member(org, Role.MANAGER)).access_token
    return crm_client, token, PROBE.format(client_id=crm_client.pk)


@pytest.mark.postgres
@pytest.mark.urls(PROBE_URLS)
@pytest.mark.django_db(transaction=True)
def test_a_retry_during_the_first_request_waits_and_gets_its_answer() -> None:
    crm_client, token, url = _probe_setup("Wait")
    results: dict[str, Any] = {}

    first = _post_in_thread(
        url, token, {"Idempotency-Key": "w", "X-Probe-Delay": "1", "X-Probe-Name": "w"}, results, "first"
    )
    _inside_its_transaction("w")
    retry = _post_in_thread(url, token, {"Idempotency-Key": "w"}, results, "retry")
    first.join()
    retry.join()

    assert results["first"].status_code == 201
    assert results["retry"].status_code == 201 and results["retry"]["Idempotent-Replayed"] == "true"
    assert results["retry"].json() == results["first"].json()
    assert _vehicles(crm_client) == 1
    assert LOCK_TIMEOUTS.pop("w") == "0"  # the bounded wait is for the key's insert only, not the view's locks


@pytest.mark.postgres
@pytest.mark.urls(PROBE_URLS)
@pytest.mark.django_db(transaction=True)
def test_when_the_first_request_fails_the_waiting_retry_makes_the_one_effect() -> None:
    crm_client, token, url = _probe_setup("Fail")
    results: dict[str, Any] = {}

    first = _post_in_thread(
        url,
        token,
        {"Idempotency-Key": "f", "X-Probe-Delay": "1", "X-Probe-Fail": "500", "X-Probe-Name": "f"},
        results,
        "first",
    )
    _inside_its_transaction("f")
    retry = _post_in_thread(url, token, {"Idempotency-Key": "f"}, results, "retry")
    first.join()
    retry.join()

    assert results["first"].status_code == 500
    assert results["retry"].status_code == 201 and not results["retry"].has_header("Idempotent-Replayed")
    assert _vehicles(crm_client) == 1


@pytest.mark.postgres
@pytest.mark.urls(PROBE_URLS)
@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_connection_dies_mid_request_frees_its_key_at_once() -> None:
    crm_client, token, url = _probe_setup("Killed")
    results: dict[str, Any] = {}
    doomed = {"Idempotency-Key": "k", "X-Probe-Delay": "3", "X-Probe-Name": "doomed"}

    first = _post_in_thread(url, token, doomed, results, "first")
    pid = _inside_its_transaction("doomed")
    retry = _post_in_thread(url, token, {"Idempotency-Key": "k"}, results, "retry")
    time.sleep(0.3)  # the retry is now waiting on the doomed request's uncommitted key
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    retry.join()
    first.join()

    assert results["retry"].status_code == 201 and not results["retry"].has_header("Idempotent-Replayed")
    assert _vehicles(crm_client) == 1
    assert IdempotencyRecord.objects.filter(key="k", completed_at__isnull=False).count() == 1
    # the doomed request could not store its answer: a retryable envelope, not an HTML 500
    assert results["first"].status_code == 503
    assert results["first"].json()["error"]["code"] == "unavailable"


@pytest.mark.postgres
@pytest.mark.urls(PROBE_URLS)
@pytest.mark.django_db(transaction=True)
def test_a_retry_that_waited_too_long_is_told_to_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from mobile_api import idempotency

    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST", timedelta(milliseconds=200))
    crm_client, token, url = _probe_setup("Slow")
    results: dict[str, Any] = {}

    first = _post_in_thread(
        url, token, {"Idempotency-Key": "s", "X-Probe-Delay": "1.5", "X-Probe-Name": "s"}, results, "first"
    )
    _inside_its_transaction("s")
    retry = _post_in_thread(url, token, {"Idempotency-Key": "s"}, results, "retry")
    retry.join()
    first.join()
    later = _post_in_thread(url, token, {"Idempotency-Key": "s"}, results, "later")
    later.join()

    assert results["retry"].status_code == 409
    assert results["retry"].json()["error"]["code"] == "idempotency_in_progress"
    assert results["retry"]["Retry-After"] == "1"
    assert results["later"]["Idempotent-Replayed"] == "true"
    assert _vehicles(crm_client) == 1


# --- a replay answers only while the caller still sees every row the request wrote --------------------------


def _deleted_by_the_owner(org: Organization, client_id: int) -> None:
    from backend.crm import services as crm_services

    crm_services.client_soft_delete(user=member(org, Role.OWNER), client_id=client_id)


@pytest.mark.django_db
def test_a_client_deleted_since_is_a_404_on_replay_not_the_stored_card(org: Organization) -> None:
    dispatcher = member(org, Role.DISPATCHER)  # may create clients, may not see deleted ones
    api = ApiClient(dispatcher)
    key = {"Idempotency-Key": "card-then-deleted"}
    created = api.post(URL, json=_body(org), headers=key)
    client_id = created.json()["id"]

    _deleted_by_the_owner(org, client_id)
    replay = api.post(URL, json=_body(org), headers=key)
    card = api.get(f"{URL}/{client_id}")

    assert created.status_code == 201
    assert card.status_code == 404  # what the replay must agree with
    assert replay.status_code == 404
    assert replay.json()["error"]["code"] == "not_found"
    assert "Aigerim" not in replay.content.decode()
    assert not replay.has_header("Idempotent-Replayed")
    assert IdempotencyRecord.objects.get(key="card-then-deleted").entities["crm.client"] == [str(client_id)]


@pytest.mark.django_db
def test_a_vehicle_whose_client_was_deleted_since_is_a_404_on_replay(org: Organization, crm_client: CrmClient) -> None:
    api = ApiClient(member(org, Role.DISPATCHER))
    key = {"Idempotency-Key": "vehicle-then-client-deleted"}
    url = f"{URL}/{crm_client.pk}/vehicles"
    created = api.post(url, json={"make": "Lada", "plate": "A001AA"}, headers=key)

    _deleted_by_the_owner(org, crm_client.pk)
    replay = api.post(url, json={"make": "Lada", "plate": "A001AA"}, headers=key)

    assert created.status_code == 201, created.content
    assert replay.status_code == 404
    assert "A001AA" not in replay.content.decode()
    assert _vehicles(crm_client) == 1


@pytest.mark.django_db
def test_a_row_the_caller_still_sees_is_replayed_even_if_deleted(org: Organization) -> None:
    api = ApiClient(member(org, Role.MANAGER))  # the right to delete clients is the right to see deleted ones
    key = {"Idempotency-Key": "card-still-visible"}
    created = api.post(URL, json=_body(org), headers=key)
    client_id = created.json()["id"]

    _deleted_by_the_owner(org, client_id)
    replay = api.post(URL, json=_body(org), headers=key)

    assert api.get(f"{URL}/{client_id}").status_code == 200
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == created.json()


@pytest.mark.django_db
def test_a_model_without_a_registered_check_is_covered_by_the_grants_alone(org: Organization) -> None:
    from backend.core.visibility import entities_visible, visibility_registered
    from backend.crm.models import ClientSource

    owner = member(org, Role.OWNER)
    manager = member(org, Role.MANAGER)
    api = ApiClient(manager)
    key = {"Idempotency-Key": "source-1"}
    body = {"organization_id": org.id, "name": "Instagram"}
    created = api.post("/api/v1/crm/sources", json=body, headers=key)
    source_id = created.json()["id"]
    record = IdempotencyRecord.objects.get(key="source-1")

    ClientSource.objects.filter(pk=source_id).delete()  # gone, but no rule says who may see sources
    replay = api.post("/api/v1/crm/sources", json=body, headers=key)
    membership_revoke(user=owner, membership_id=Membership.objects.get(user=manager, organization=org).pk)
    after_revoke = api.post("/api/v1/crm/sources", json=body, headers=key)

    assert record.entities == {"crm.clientsource": [str(source_id)]}
    assert not visibility_registered("crm.clientsource")
    assert entities_visible(manager, record.entities)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert after_revoke.status_code == 404  # the organization grant is still re-checked


@pytest.mark.urls(PROBE_URLS)
@pytest.mark.django_db
def test_a_row_written_in_a_rolled_back_savepoint_does_not_block_the_replay(
    org: Organization, crm_client: CrmClient
) -> None:
    api = ApiClient(member(org, Role.DISPATCHER))
    key = {"Idempotency-Key": "undone-1"}
    url = PROBE_UNDONE.format(client_id=crm_client.pk)

    first = api.post(url, json={}, headers=key)
    replay = api.post(url, json={}, headers=key)

    assert first.status_code == 201, first.content
    assert _vehicles(crm_client) == 0
    assert IdempotencyRecord.objects.get(key="undone-1").entities == {}
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
