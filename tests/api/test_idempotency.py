"""Idempotency-Key on creating POSTs: replay, key reuse with another body, concurrency, retention."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from backend.accounts.tokens import token_pair_issue
from backend.core.models import IdempotencyRecord
from backend.core.services import idempotency_purge
from backend.crm.models import Client as CrmClient
from backend.organizations.models import Organization, Role
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
def test_a_stored_error_is_replayed_too_and_a_malformed_key_is_refused(org: Organization) -> None:
    client = ApiClient(member(org, Role.MANAGER))
    bad_phone = {"organization_id": org.id, "phone": "not a phone"}

    first = client.post(URL, json=bad_phone, headers={"Idempotency-Key": "bad-1"})
    again = client.post(URL, json=bad_phone, headers={"Idempotency-Key": "bad-1"})
    malformed = client.post(URL, json=_body(org), headers={"Idempotency-Key": "ключ с пробелами"})

    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert malformed.status_code == 422
    assert CrmClient.objects.count() == 0


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
