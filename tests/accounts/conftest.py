from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_resend_cooldown(settings: Any) -> None:
    # Most tests ask for several codes in a row; the cooldown has its own test.
    settings.BRIGADA_OTP_RESEND_INTERVAL = 0
