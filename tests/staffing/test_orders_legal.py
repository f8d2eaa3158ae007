"""INN, KPP and OGRN format checks: control digits catch a one-digit typo."""

from __future__ import annotations

import pytest

from backend.staffing.legal import inn_is_valid, kpp_is_valid, ogrn_is_valid


@pytest.mark.parametrize("inn", ["7707083893", "500100732259", "7728168971"])
def test_real_inns_pass(inn: str) -> None:
    assert inn_is_valid(inn)


@pytest.mark.parametrize("inn", ["7707083894", "500100732258", "770708389", "77070838930", "７７０７０８３８９３", ""])
def test_bad_inns_fail(inn: str) -> None:
    assert not inn_is_valid(inn)


def test_kpp_shapes() -> None:
    assert kpp_is_valid("773601001")
    assert kpp_is_valid("7736AB001")
    assert not kpp_is_valid("77360100")
    assert not kpp_is_valid("7736ab001")


@pytest.mark.parametrize("ogrn", ["1027700132195", "1027739609391", "304500116000157"])
def test_real_ogrns_pass(ogrn: str) -> None:
    assert ogrn_is_valid(ogrn)


@pytest.mark.parametrize("ogrn", ["1027700132196", "304500116000158", "10277001321", ""])
def test_bad_ogrns_fail(ogrn: str) -> None:
    assert not ogrn_is_valid(ogrn)
