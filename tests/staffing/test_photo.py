"""The worker's profile photo: POST /me/photo takes a real JPEG/PNG/WEBP by its content, refuses oversize files,
renamed non-images and decompression bombs with a 422 that changes nothing, replaces the previous file after the
commit, writes an Event, and is a 404 for a caller without a worker profile."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from backend.core.models import Event
from backend.organizations.models import Role
from backend.staffing.models import Worker
from tests.conftest import ApiClient, member
from tests.staffing.world import pool_worker, staffing_world

pytestmark = pytest.mark.django_db
URL = "/api/v1/staffing/me/photo"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _picture(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, format=fmt)
    return out.getvalue()


def _upload(user: Any, data: bytes, name: str = "me.jpg", key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else None
    return ApiClient(user).post(URL, data={"photo": SimpleUploadedFile(name, data)}, headers=headers)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(("fmt", "ext"), [("JPEG", "jpg"), ("PNG", "png")])
def test_a_good_picture_is_stored_under_a_random_name_and_shown_in_me(fmt: str, ext: str, _media: Path) -> None:
    worker = pool_worker(staffing_world(0).hq)
    data = _picture(fmt)
    response = _upload(worker.user, data, name="../../evil name.exe")
    assert response.status_code == 200, response.content
    worker.refresh_from_db()
    assert worker.photo.name.startswith("staffing/workers/") and worker.photo.name.endswith(f".{ext}")
    assert "evil" not in worker.photo.name
    assert (_media / worker.photo.name).read_bytes() == data
    me = ApiClient(worker.user).get("/api/v1/staffing/me").json()
    assert me["photo_url"] == f"/media/{worker.photo.name}" == response.json()["photo_url"]
    event = Event.objects.filter(entity_id=str(worker.pk), action="update").latest("id")
    assert event.after == {"photo": worker.photo.name}


def test_a_new_photo_replaces_the_old_file_and_a_replay_changes_nothing(
    _media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    worker = pool_worker(staffing_world(0).hq)
    assert _upload(worker.user, _picture("JPEG")).status_code == 200
    worker.refresh_from_db()
    first = worker.photo.name
    with django_capture_on_commit_callbacks(execute=True):
        second = _upload(worker.user, _picture("PNG"), key="k1")
    assert second.status_code == 200
    worker.refresh_from_db()
    assert worker.photo.name != first
    assert _files(_media) == [_media / worker.photo.name]  # the previous file was removed after the commit
    replay = _upload(worker.user, _picture("PNG"), key="k1")
    assert replay.status_code == 200 and replay.json() == second.json()
    assert _files(_media) == [_media / worker.photo.name]
    other = _upload(worker.user, _picture("JPEG"), key="k1")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


def _refused_changes_nothing(worker: Worker, response: Any, code: str, media: Path) -> None:
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["fields"]["photo"]
    fresh = Worker.objects.get(pk=worker.pk)
    assert fresh.photo.name == worker.photo.name
    assert _files(media) == ([media / worker.photo.name] if worker.photo.name else [])


def test_refusals_are_422_and_change_nothing(settings: Any, _media: Path) -> None:
    worker = pool_worker(staffing_world(0).hq)
    assert _upload(worker.user, _picture("JPEG")).status_code == 200
    worker.refresh_from_db()
    events = Event.objects.count()

    settings.STAFFING_PHOTO_MAX_BYTES = 1024
    big = _picture("PNG", (400, 400)) + b"\0" * 2048
    _refused_changes_nothing(worker, _upload(worker.user, big, name="big.png"), "photo_too_large", _media)
    settings.STAFFING_PHOTO_MAX_BYTES = 5 * 1024 * 1024

    text = b"just some text, not a picture\n" * 20
    _refused_changes_nothing(worker, _upload(worker.user, text, name="photo.jpg"), "photo_invalid", _media)
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    _refused_changes_nothing(worker, _upload(worker.user, gif.getvalue(), name="a.jpg"), "photo_invalid", _media)
    truncated = _picture("PNG")[:60]
    _refused_changes_nothing(worker, _upload(worker.user, truncated, name="a.png"), "photo_invalid", _media)
    assert Event.objects.count() == events


def test_a_picture_with_too_many_pixels_is_refused(settings: Any, _media: Path) -> None:
    worker = pool_worker(staffing_world(0).hq)
    settings.STAFFING_PHOTO_MAX_PIXELS = 100 * 100
    bomb = _picture("PNG", (101, 100))  # small on the wire, over the pixel cap
    _refused_changes_nothing(worker, _upload(worker.user, bomb, name="bomb.png"), "photo_invalid", _media)
    assert "pixels" in _upload(worker.user, bomb).json()["error"]["message"]
    assert _upload(worker.user, _picture("PNG", (100, 100))).status_code == 200


def test_a_caller_without_a_worker_profile_gets_404(_media: Path) -> None:
    world = staffing_world(0)
    for user in (world.dispatcher, member(world.hq, Role.WORKER)):
        response = _upload(user, _picture("JPEG"))
        assert response.status_code == 404, response.content
    assert _files(_media) == []
