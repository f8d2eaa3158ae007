"""ABC, XYZ and the 9-cell table on hand-computed fixtures."""

import datetime as dt

import polars as pl
import pytest

from analytics.abc import abc_analysis, abc_xyz, xyz_analysis
from analytics.fixtures import visit, visits_frame


def _services(revenues: dict[int, float]) -> pl.DataFrame:
    return visits_frame([visit(1, "2024-01-10T10:00", r, service_id=s) for s, r in revenues.items()])


def test_abc_threshold_crossing_item_gets_the_upper_class():
    # Cumulative shares: 0.50, 0.85 (crosses 0.80), 0.93, 0.97 (crosses 0.95), 1.00.
    frame = _services({1: 50, 2: 35, 3: 8, 4: 4, 5: 3})
    out = abc_analysis(frame, by="service")
    assert out["service_id"].to_list() == [1, 2, 3, 4, 5]
    assert out["abc_class"].to_list() == ["A", "A", "B", "B", "C"]
    assert out["cumulative_share"].to_list() == pytest.approx([0.50, 0.85, 0.93, 0.97, 1.0])
    assert out["share"].to_list() == pytest.approx([0.50, 0.35, 0.08, 0.04, 0.03])
    assert out["rank"].to_list() == [1, 2, 3, 4, 5]


def test_abc_exactly_at_threshold_and_ties():
    # 1 and 2 tie at 40 (id breaks the tie); 2 ends exactly at 0.80 -> A; 3 starts at 0.80 -> B.
    frame = _services({2: 40, 1: 40, 3: 15, 4: 5})
    out = abc_analysis(frame)
    assert out["service_id"].to_list() == [1, 2, 3, 4]
    assert out["abc_class"].to_list() == ["A", "A", "B", "C"]


def test_abc_over_clients_and_staff_only_counts_completed():
    frame = visits_frame(
        [
            visit(1, "2024-01-01T10:00", 90, staff_id=7),
            visit(2, "2024-01-01T11:00", 10, staff_id=8),
            visit(2, "2024-01-02T11:00", 1000, staff_id=8, status="no_show"),
        ]
    )
    clients = abc_analysis(frame, by="client")
    assert dict(zip(clients["client_id"], clients["abc_class"], strict=True)) == {1: "A", 2: "B"}
    staff = abc_analysis(frame, by="staff", thresholds=(0.5, 0.95))
    assert staff["revenue"].to_list() == [90.0, 10.0]
    assert staff["abc_class"].to_list() == ["A", "B"]


def test_abc_date_window():
    frame = visits_frame([visit(1, "2024-01-10T10:00", 10), visit(2, "2024-02-10T10:00", 10, service_id=2)])
    out = abc_analysis(frame, start=dt.date(2024, 2, 1), end=dt.date(2024, 3, 1))
    assert out["service_id"].to_list() == [2]


def test_abc_rejects_bad_thresholds():
    with pytest.raises(ValueError):
        abc_analysis(_services({1: 1}), thresholds=(0.9, 0.8))


def _monthly(service: int, counts: list[int]) -> list[dict]:
    rows = []
    for month, n in enumerate(counts, start=1):
        rows += [visit(1, dt.datetime(2024, month, 3 + i, 10, tzinfo=dt.UTC), 1, service_id=service) for i in range(n)]
    return rows


def test_xyz_hand_computed_cv_and_zero_months():
    frame = visits_frame(
        _monthly(1, [10, 10, 10])  # cv 0 -> X
        + _monthly(2, [10, 12, 8])  # mean 10, std sqrt(8/3) -> cv 0.163 -> Y
        + _monthly(3, [5, 0, 10])  # February empty: a zero month; cv 0.816 -> Z
    )
    out = xyz_analysis(frame)
    assert out["service_id"].to_list() == [1, 2, 3]
    assert out["months"].to_list() == [3, 3, 3]
    assert out["cv"].to_list() == pytest.approx([0.0, (8 / 3) ** 0.5 / 10, (50 / 3) ** 0.5 / 5])
    assert out["xyz_class"].to_list() == ["X", "Y", "Z"]


def test_xyz_boundary_is_inclusive():
    frame = visits_frame(_monthly(1, [9, 11]))  # mean 10, std 1: cv exactly 0.10 -> X
    assert xyz_analysis(frame)["xyz_class"].to_list() == ["X"]


def test_xyz_window_counts_months_without_any_demand():
    frame = visits_frame(_monthly(1, [4, 4]))
    out = xyz_analysis(frame, start=dt.date(2024, 1, 1), end=dt.date(2024, 5, 1))
    # Four months, demand [4, 4, 0, 0]: mean 2, std 2.
    assert out.row(0, named=True)["months"] == 4
    assert out["cv"][0] == pytest.approx(1.0)


def test_xyz_revenue_measure():
    frame = visits_frame([visit(1, "2024-01-05T10:00", 100), visit(1, "2024-02-05T10:00", 100)])
    out = xyz_analysis(frame, measure="revenue")
    assert out["mean"][0] == 100.0
    assert out["xyz_class"][0] == "X"


def test_abc_xyz_nine_cells():
    frame = visits_frame(_monthly(1, [10, 10, 10]) + _monthly(2, [1, 0, 0]))
    items, cells = abc_xyz(frame)
    assert cells.height == 9
    # Service 2 starts at 30/31 = 0.968 of revenue, past 0.95: C.
    assert items.sort("service_id")["abc_class"].to_list() == ["A", "C"]
    ax = cells.filter((pl.col("abc_class") == "A") & (pl.col("xyz_class") == "X")).row(0, named=True)
    assert (ax["items"], ax["revenue"]) == (1, 30.0)
    assert ax["revenue_share"] == pytest.approx(30 / 31)
    assert cells["items"].sum() == 2
    assert cells.filter(pl.col("items") == 0).height == 7
    cz = cells.filter((pl.col("abc_class") == "C") & (pl.col("xyz_class") == "Z")).row(0, named=True)
    assert cz["items"] == 1
