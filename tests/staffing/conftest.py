"""Staffing tests: a small solver budget (plans of a dozen workers need far less than production's)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _quick_solver(settings: Any) -> None:
    settings.STAFFING_SOLVER_TIME_LIMIT_S = 0.5
