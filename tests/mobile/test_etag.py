"""ETag / If-None-Match on every read (decision 0023): each successful JSON GET of the API carries a tag computed
in one middleware from its body; the same tag back is a 304 without a body; a change, or another caller, gets the
body. No route tags its answers by hand."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mobile_api.api import api
from tests.booking.appointments_world import World, local, world_build
from tests.booking.test_appointments import book
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def w(db: Any) -> World:
    return world_build()


#: Reads whose body may change between two identical calls with nothing changed for the caller: a sync page's cursor
#: carries the transaction horizon of the database server (decision 0022), which moves with any other open
#: transaction on it (another test database's, under pytest-xdist).
MOVING = {"/api/v1/sync"}


def _get_paths() -> list[str]:
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    return sorted(path for path, ops in schema["paths"].items() if "get" in ops and "{" not in path)


def _revalidates(client: ApiClient, path: str, params: dict[str, Any] | None = None) -> bool:
    first = client.get(path, params)
    if first.status_code != 200 or not first["Content-Type"].startswith("application/json"):
        return False
    tag = first["ETag"]
    assert tag and "Authorization" in first["Vary"] and "no-cache" in first["Cache-Control"], path
    again = client.get(path, params, headers={"If-None-Match": tag})
    if path in MOVING and again.status_code == 200:
        # its body moved between the two calls, so it must carry another tag
        assert again["ETag"] != tag, path
        return True
    assert again.status_code == 304, (path, again.status_code)
    assert again.content == b"" and again["ETag"] == tag
    return True


def test_every_get_route_that_answers_is_tagged_and_revalidates(w: World) -> None:
    book(w, local(2, 10))
    tagged = []
    for user in (w.manager, w.customer, w.master):
        client = ApiClient(user)
        tagged += [path for path in _get_paths() if _revalidates(client, path)]
    # the walk reached the API's reads (routes that need query parameters answer 422 and are not tagged)
    assert len(set(tagged)) >= 15, sorted(set(tagged))
    assert {"/api/v1/home", "/api/v1/sync", "/api/v1/booking/appointments"} <= set(tagged)


def test_a_route_with_an_id_revalidates_and_a_change_gives_the_new_body(w: World) -> None:
    visit = book(w, local(2, 10))
    client = ApiClient(w.customer)
    path = f"/api/v1/booking/appointments/{visit.pk}"
    assert _revalidates(client, path)
    tag = client.get(path)["ETag"]
    book(w, local(3, 10))
    home = client.get("/api/v1/home")
    book(w, local(4, 10))
    changed = client.get("/api/v1/home", headers={"If-None-Match": home["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] != home["ETag"]
    assert client.get(path, headers={"If-None-Match": f'W/"x", {tag}'}).status_code == 304  # a list of tags


def test_another_callers_body_is_not_a_304_for_my_tag(w: World) -> None:
    book(w, local(2, 10))
    mine = ApiClient(w.customer).get("/api/v1/home")
    theirs = ApiClient(w.manager).get("/api/v1/home", headers={"If-None-Match": mine["ETag"]})
    assert theirs.status_code == 200 and theirs.json()["manager"] is not None


def test_errors_and_writes_carry_no_tag(w: World) -> None:
    client = ApiClient(w.customer)
    missing = client.get("/api/v1/booking/appointments/999999")
    assert missing.status_code == 404 and not missing.has_header("ETag")
    assert not client.post("/api/v1/booking/appointments", {}).has_header("ETag")


def test_no_route_computes_an_etag_by_hand() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "mobile_api").rglob("*.py")
        if p.name != "etag.py" and re.search(r"""["']ETag["']|set_response_etag|\betag\(""", p.read_text())
    ]
    assert offenders == []


def test_get_routes_document_if_none_match_and_304() -> None:
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    for path, ops in schema["paths"].items():
        if "get" in ops and path.startswith("/api/v1/"):
            assert any(p["name"] == "If-None-Match" for p in ops["get"]["parameters"]), path
            assert 304 in ops["get"]["responses"] or "304" in ops["get"]["responses"], path
