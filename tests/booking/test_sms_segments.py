"""SMS segment counting: GSM-7 160/153 septets, UCS-2 70/67 units, no split escape or surrogate pair."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from backend.accounts.models import User
from backend.notifications.models import Channel
from backend.notifications.services import message_enqueue
from backend.notifications.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsEncoding,
    sms_count,
    sms_segments,
)


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", SmsEncoding.GSM7, 0, 0),
        ("a" * 160, SmsEncoding.GSM7, 160, 1),
        ("a" * 161, SmsEncoding.GSM7, 161, 2),
        ("a" * 306, SmsEncoding.GSM7, 306, 2),  # 2 x 153
        ("a" * 307, SmsEncoding.GSM7, 307, 3),
        ("€" * 80, SmsEncoding.GSM7, 160, 1),  # the extension table costs two septets each
        ("€" * 81, SmsEncoding.GSM7, 162, 2),
        ("я" * 70, SmsEncoding.UCS2, 70, 1),
        ("я" * 71, SmsEncoding.UCS2, 71, 2),
        ("я" * 134, SmsEncoding.UCS2, 134, 2),  # 2 x 67
        ("я" * 135, SmsEncoding.UCS2, 135, 3),
        ("a" * 159 + "я", SmsEncoding.UCS2, 160, 3),  # one Cyrillic letter switches the whole text to UCS-2
        ("Қазақ", SmsEncoding.UCS2, 5, 1),  # Kazakh letters are outside GSM-7 too
        ("😀" * 35, SmsEncoding.UCS2, 70, 1),  # a surrogate pair is two UTF-16 units
    ],
)
def test_counts(text: str, encoding: SmsEncoding, units: int, segments: int) -> None:
    count = sms_count(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)
    assert sms_segments(text) == segments


def test_a_part_never_splits_an_escape_sequence() -> None:
    # 152 plain septets then a two-septet character: it does not fit the first part's last septet, so it starts
    # the second part; plain division (154 + 2 septets / 153) would also say 2, so push one more to see the
    # difference: 152 + '€' + 152 'a' = 306 septets fits 2 parts by division but needs 3 when packed.
    text = "a" * 152 + "€" + "a" * 152
    assert sms_count(text).units == 306
    assert sms_count(text).segments == 3


def test_a_part_never_splits_a_surrogate_pair() -> None:
    text = "я" * 66 + "😀" + "я" * 66  # 134 units: 2 parts by division, 3 when the pair may not straddle
    assert sms_count(text).units == 134
    assert sms_count(text).segments == 3


def test_remaining_tells_how_much_still_fits() -> None:
    assert sms_count("Привет").remaining == 64
    assert sms_count("a" * 200).remaining == 153 * 2 - 200


@given(st.text(alphabet=sorted(GSM7_BASIC), max_size=800))
def test_plain_gsm7_matches_the_formula(text: str) -> None:
    expected = 0 if not text else 1 if len(text) <= 160 else -(-len(text) // 153)
    assert sms_count(text).segments == expected


@given(st.text(alphabet=[*sorted(GSM7_BASIC | GSM7_EXTENSION), "ж", "😀"], max_size=600))
def test_every_part_holds_at_most_its_capacity(text: str) -> None:
    count = sms_count(text)
    if not text:
        assert count.segments == 0
        return
    assert count.segments >= -(-count.units // count.per_segment)  # packing never beats division
    assert count.segments <= -(-count.units // (count.per_segment - 1)) + 1  # and loses at most a unit per part
    assert 0 <= count.remaining < count.per_segment or count.segments == 1


@pytest.mark.django_db
def test_admin_shows_the_segments_of_an_sms() -> None:
    user = User.objects.create_superuser("+77019990001", "pw")
    client = Client()
    client.force_login(user)
    message, _ = message_enqueue(channel=Channel.SMS, recipient="+77010000001", body="я" * 71, dedupe_key="seg-1")
    page = client.get(reverse("admin:notifications_outboxmessage_changelist"))
    assert page.status_code == 200
    assert "2 × UCS-2" in page.content.decode()
    detail = client.get(reverse("admin:notifications_outboxmessage_change", args=[message.pk]))
    assert "2 × UCS-2" in detail.content.decode()
