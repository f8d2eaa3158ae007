"""Staffing KPIs on a hand-built three-shift fixture (numbers worked out in the comments)."""

import datetime as dt

import polars as pl
import pytest

from analytics.staffing import fill_rate, fill_rate_frontier, margin, no_show_rates, shift_fill

UTC = dt.UTC


def _t(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def world() -> dict[str, pl.DataFrame]:
    ts = pl.Datetime("us", "UTC")
    shifts = pl.DataFrame(
        {
            "shift_id": [1, 2, 3],
            "order_id": [1, 1, 2],
            "organization_id": [1, 1, 1],
            "site_id": [1, 2, 1],
            "start": [_t(8, 9), _t(13, 9), _t(9, 9)],  # Monday, Saturday, Tuesday
            "end": [_t(8, 17), _t(13, 17), _t(9, 17)],
            "headcount": [2, 1, 1],
            "pay_rate": [10.0, 12.0, 10.0],
            "bill_rate": [15.0, 20.0, 15.0],
            "district": ["north", "south", "north"],
            "client_id": [7, 7, 8],
        }
    ).with_columns(pl.col("start", "end").cast(ts))
    offers = pl.DataFrame(
        [
            (1, 1, 1, 1, "accepted", _t(7, 9), _t(7, 10)),  # lead 23 h
            (2, 1, 2, 1, "declined", _t(7, 9), _t(7, 9, 30)),
            (3, 1, 3, 1, "accepted", _t(7, 9), _t(7, 11)),  # second acceptance: shift 1 full at 11:00
            (4, 1, 4, 2, "accepted", _t(7, 12), _t(7, 12, 30)),  # sent after it was full and a third yes
            (5, 2, 1, 1, "accepted", _t(10, 9), _t(10, 10)),  # lead 71 h
            (6, 3, 2, 2, "expired", _t(8, 9), None),
        ],
        schema=["offer_id", "shift_id", "worker_id", "wave", "status", "offered_at", "responded_at"],
        orient="row",
    ).with_columns(pl.col("offered_at", "responded_at").cast(ts))
    attendance = pl.DataFrame(
        {
            "shift_id": [1, 1, 1, 2],
            "worker_id": [1, 3, 4, 1],
            "showed": [True, False, True, True],
            "hours": [8.0, 0.0, 8.0, 8.0],
            "quality": [5.0, None, 4.0, 4.5],
        }
    )
    workers = pl.DataFrame(
        {
            "worker_id": [1, 2, 3, 4],
            "segment": ["veteran", "new", "new", "regular"],
            "district": ["north", "north", "south", "east"],
        }
    )
    return {"shifts": shifts, "offers": offers, "attendance": attendance, "workers": workers}


def test_shift_fill_hand_computed(world):
    out = shift_fill(world["shifts"], world["offers"], world["attendance"])
    assert out.select("shift_id", "offers_sent", "accepted", "booked", "showed", "wasted_call_ups").rows() == [
        (1, 4, 3, 3, 2, 1),  # offer 4 was late and surplus: wasted once
        (2, 1, 1, 1, 1, 0),
        (3, 1, 0, 0, 0, 0),
    ]
    assert out["fill_rate"].to_list() == [1.0, 1.0, 0.0]
    assert out["show_fill_rate"].to_list() == [1.0, 1.0, 0.0]


def test_fill_rate_overall_and_by_district_and_weekday(world):
    total = fill_rate(world["shifts"], world["offers"], world["attendance"]).row(0, named=True)
    assert total["headcount"] == 4
    assert total["fill_rate"] == pytest.approx(3 / 4)
    assert total["show_fill_rate"] == pytest.approx(3 / 4)
    assert total["no_show_rate"] == pytest.approx(1 / 4)
    assert (total["offers_sent"], total["wasted_call_ups"]) == (6, 1)
    by_district = fill_rate(world["shifts"], world["offers"], world["attendance"], by="district")
    assert by_district["district"].to_list() == ["north", "south"]
    assert by_district["fill_rate"].to_list() == pytest.approx([2 / 3, 1.0])
    by_day = fill_rate(world["shifts"], world["offers"], world["attendance"], by="weekday")
    assert by_day["weekday"].to_list() == [1, 2, 6]


def test_no_show_rates_by_segment_district_weekday_and_lead_time(world):
    args = (world["shifts"], world["offers"], world["attendance"], world["workers"])
    seg = no_show_rates(*args, by="segment")
    assert dict(zip(seg["segment"], seg["no_show_rate"], strict=True)) == {
        "new": 1.0,
        "regular": 0.0,
        "veteran": 0.0,
    }
    lead = no_show_rates(*args, by="lead_time")
    assert lead.select("lead_time", "booked", "no_shows").rows() == [("1-3d", 1, 0), ("12-24h", 3, 1)]
    district = no_show_rates(*args, by="district")  # the shift's district
    assert district.select("district", "booked").rows() == [("north", 3), ("south", 1)]
    weekday = no_show_rates(*args, by="weekday")
    assert weekday.select("weekday", "no_show_rate").rows() == [(1, pytest.approx(1 / 3)), (6, 0.0)]
    with pytest.raises(ValueError):
        no_show_rates(world["shifts"], world["offers"], world["attendance"], by="segment")


def test_weekday_uses_the_business_zone(world):
    late = world["shifts"].with_columns(pl.col("start") + pl.duration(hours=14))  # 23:00 UTC Monday
    by_day = fill_rate(late, world["offers"], world["attendance"], by="weekday", tz="Asia/Tokyo")
    assert by_day["weekday"].to_list() == [2, 3, 7]


def test_margin_per_order_and_client(world):
    orders = margin(world["shifts"], world["attendance"])
    # Shift 1: 16 h × (15 - 10) = 80; shift 2: 8 h × (20 - 12) = 64; shift 3: nobody worked.
    assert orders.select("order_id", "revenue", "cost", "margin").rows() == [(1, 400.0, 256.0, 144.0)]
    clients = margin(world["shifts"], world["attendance"], by="client")
    assert clients["margin"].to_list() == [144.0]
    with pytest.raises(ValueError):
        margin(world["shifts"].drop("client_id"), world["attendance"], by="client")


def test_fill_rate_frontier(world):
    frontier = fill_rate_frontier(world["shifts"], world["offers"])
    assert frontier.rows() == [(1, 1.0, 0.75), (2, 1.5, 0.75)]
    by = fill_rate_frontier(world["shifts"], world["offers"], by="district")
    assert by.filter(pl.col("district") == "south")["fill_rate"].to_list() == [1.0, 1.0]
