"""Races only a real database shows (PostgreSQL): the same phone added many times at once."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection

from backend.core.exceptions import ApplicationError
from backend.core.models import Event
from backend.crm.models import Client
from backend.crm.services import client_create
from backend.imports.services import clients_import
from tests.conftest import member
from tests.factories import OrganizationFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _parallel(threads: int, action: Any) -> list[Any]:
    barrier = threading.Barrier(threads)
    results: list[Any] = [None] * threads

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = action(i)
        except ApplicationError as exc:
            results[i] = exc
        except Exception as exc:  # anything else would be a 500: collected and asserted on below
            results[i] = exc
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


def test_parallel_creates_of_one_phone_make_one_client_and_clean_409s() -> None:
    org = OrganizationFactory()
    manager = member(org)

    results = _parallel(
        12, lambda i: client_create(user=manager, organization_id=org.id, phone="+77011234567", first_name=f"T{i}")
    )

    outcomes = Counter(r.code if isinstance(r, ApplicationError) else type(r).__name__ for r in results)
    assert outcomes == {"Client": 1, "client_phone_taken": 11}
    assert Client.objects.count() == 1
    assert Event.objects.filter(entity_type="crm.client").count() == 1


def test_an_import_racing_a_create_keeps_all_or_nothing() -> None:
    org = OrganizationFactory()
    manager = member(org)
    content = ("phone\n" + "\n".join(f"+7701{i:07d}" for i in range(1, 401)) + "\n").encode()

    def act(i: int) -> Any:
        if i == 0:
            return clients_import(user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=False)
        return client_create(user=manager, organization_id=org.id, phone="+77010000200")

    job, created = _parallel(2, act)

    assert not isinstance(created, Exception) or isinstance(created, ApplicationError)
    phones = set(Client.objects.values_list("phone", flat=True))
    if job.status == "done":
        assert len(phones) == 400  # the import ran first and the single create lost cleanly
    else:
        assert job.status == "failed" and phones == {"+77010000200"}  # nothing of the file was kept


def _wait_for_a_blocked_backend() -> None:
    """Until another connection waits on a row lock (the import behind the held lock); liveness timeout only."""
    for _attempt in range(500):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
        threading.Event().wait(0.01)
    raise AssertionError("the import never waited on the locked row")


def test_an_import_does_not_overwrite_an_edit_committed_while_it_ran() -> None:
    from django.db import transaction

    from backend.crm.services import client_update

    org = OrganizationFactory()
    manager = member(org)
    edited = client_create(user=manager, organization_id=org.id, phone="+77011110001", last_name="Oldname")
    # The file carries only first names; the import still writes the search and sort columns derived from the
    # whole row, so without a lock it would compute them from the last name it read before the edit.
    content = b"phone;first_name\n+77011110001;Imported\n"
    locked, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def edit() -> None:
        try:
            with transaction.atomic():
                Client.objects.select_for_update().get(pk=edited.pk)
                locked.set()
                release.wait(10)
                client_update(user=manager, client_id=edited.pk, data={"last_name": "Newname"})
        finally:
            connection.close()

    def run_import() -> None:
        try:
            outcome["job"] = clients_import(
                user=manager, organization_id=org.id, content=content, fmt="csv", dry_run=False
            )
        finally:
            connection.close()

    editor = threading.Thread(target=edit)
    editor.start()
    assert locked.wait(10)
    importer = threading.Thread(target=run_import)
    importer.start()
    _wait_for_a_blocked_backend()
    release.set()
    editor.join()
    importer.join()

    assert outcome["job"].status == "done", outcome["job"].errors
    edited.refresh_from_db()
    assert (edited.first_name, edited.last_name) == ("Imported", "Newname")
    assert "newname" in edited.search_text and "oldname" not in edited.search_text
    assert edited.name_key.startswith("newname")
    imported = Event.objects.get(entity_id=str(edited.pk), action="import")
    assert imported.before == {"first_name": ""}  # read after the edit, so the "before" is what was really there
