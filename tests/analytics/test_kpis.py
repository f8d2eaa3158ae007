"""Visit KPIs on a hand-computed fixture."""

import datetime as dt

import polars as pl
import pytest

from analytics.fixtures import visit, visits_frame
from analytics.kpis import (
    average_check,
    client_flow,
    revenue_by,
    review_scores,
    source_effectiveness,
    staff_load,
)

AS_OF = dt.date(2024, 4, 1)


@pytest.fixture
def visits() -> pl.DataFrame:
    return visits_frame(
        [
            visit(1, "2024-01-05T10:00", 100, staff_id=1, source="google"),
            visit(1, "2024-01-06T10:00", 500, staff_id=1, status="cancelled"),
            visit(1, "2024-01-20T10:00", 50, staff_id=2, source="instagram"),
            visit(1, "2024-03-10T10:00", 30, staff_id=1),
            visit(2, "2024-01-10T10:00", 20, staff_id=2, branch_id=2, source="instagram"),
            visit(2, "2024-02-01T10:00", 999, staff_id=2, branch_id=2, status="no_show"),
            visit(3, "2024-02-15T10:00", 40, staff_id=1, source="google"),
        ]
    )


def test_revenue_and_average_check_by_month(visits):
    out = revenue_by(visits)
    assert out.select("period", "revenue", "visits", "clients").rows() == [
        (dt.date(2024, 1, 1), 170.0, 3, 2),
        (dt.date(2024, 2, 1), 40.0, 1, 1),
        (dt.date(2024, 3, 1), 30.0, 1, 1),
    ]
    assert average_check(visits)["average_check"].to_list() == pytest.approx([170 / 3, 40.0, 30.0])


def test_revenue_by_branch_staff_service_and_total(visits):
    branch = revenue_by(visits, by=["branch_id"], period=None)
    assert branch.select("branch_id", "revenue", "visits").rows() == [(1, 220.0, 4), (2, 20.0, 1)]
    staff = revenue_by(visits, by=["staff_id"], period=None)
    assert staff["revenue"].to_list() == [170.0, 70.0]
    total = revenue_by(visits, period=None)
    assert total.row(0, named=True)["average_check"] == pytest.approx(240 / 5)
    assert revenue_by(visits, by=["service_id", "branch_id"]).height == 4


def test_client_flow_hand_computed(visits):
    out = client_flow(visits, lost_after_days=30, as_of=AS_OF)
    # Client 1: Jan 20 -> Mar 10 is a 50-day gap: lost on 19 Feb, back in March (returning).
    # Client 2: last visit 10 Jan -> lost 9 Feb. Client 3: 15 Feb -> lost 16 Mar.
    # Client 1's 10 Mar visit would be lost on 9 Apr: after as_of, not yet.
    assert out.select("period", "active", "new", "returning", "lost", "complete").rows() == [
        (dt.date(2024, 1, 1), 2, 2, 0, 0, True),
        (dt.date(2024, 2, 1), 1, 1, 0, 2, True),
        (dt.date(2024, 3, 1), 1, 0, 1, 1, True),
    ]
    partial = client_flow(visits, lost_after_days=30, as_of=dt.date(2024, 3, 20))
    assert partial["complete"].to_list() == [True, True, False]


def test_client_flow_shows_empty_periods(visits):
    gap = visits_frame([visit(1, "2024-01-05T10:00"), visit(1, "2024-04-05T10:00")])
    out = client_flow(gap, lost_after_days=365, as_of=dt.date(2024, 5, 1))
    assert out["active"].to_list() == [1, 0, 0, 1]


def test_source_effectiveness_with_and_without_clients(visits):
    out = source_effectiveness(visits, window_days=30, as_of=AS_OF)
    # First-visit source: 1 google, 2 instagram, 3 google. Client 1 came back within 30 days, 3 did not.
    assert out.select("source", "clients", "revenue", "eligible", "retention").rows() == [
        ("google", 2, 220.0, 2, 0.5),
        ("instagram", 1, 20.0, 1, 0.0),
    ]
    clients = pl.DataFrame({"client_id": [1, 2, 3], "source": ["google", "instagram", "referral"]})
    out = source_effectiveness(visits, clients, window_days=30, as_of=AS_OF)
    assert dict(zip(out["source"], out["retention"], strict=True)) == {
        "google": 1.0,
        "instagram": 0.0,
        "referral": 0.0,
    }
    # With a 60-day window, client 3 (first visit 15 Feb) is too recent on 1 April to count; client 1 is not.
    sixty = source_effectiveness(visits, window_days=60, as_of=AS_OF)
    assert sixty.filter(pl.col("source") == "google").select("eligible", "retention").rows() == [(1, 1.0)]
    # The default 90-day window: nobody is old enough yet, so retention is unknown rather than 0.
    ninety = source_effectiveness(visits, as_of=AS_OF)
    assert ninety.select("eligible", "retention").rows() == [(0, None), (0, None)]


def test_staff_load_hand_computed(visits):
    schedule = pl.DataFrame(
        {
            "staff_id": [1, 1, 2, 2],
            "branch_id": [1, 1, 1, 2],
            "date": [dt.date(2024, 1, 5), dt.date(2024, 1, 6), dt.date(2024, 1, 10), dt.date(2024, 2, 1)],
            "scheduled_minutes": [480, 480, 480, 480],
        }
    )
    out = staff_load(visits, schedule)
    rows = {(r["staff_id"], r["period"].month): r for r in out.iter_rows(named=True)}
    assert rows[(1, 1)]["load"] == pytest.approx(60 / 960)  # the cancelled visit freed its slot
    assert rows[(2, 1)]["load"] == pytest.approx(120 / 480)
    assert rows[(2, 2)]["load"] == pytest.approx(60 / 480)  # a no-show still blocked the slot
    assert rows[(1, 2)]["load"] is None  # booked without a schedule: unknown, not infinite
    assert rows[(1, 2)]["booked_minutes"] == 60


def test_review_scores():
    reviews = pl.DataFrame(
        {
            "review_id": [1, 2, 3],
            "visit_id": [1, 2, 3],
            "client_id": [1, 2, 3],
            "staff_id": [1, 1, 2],
            "branch_id": [1, 1, 1],
            "score": [5.0, 4.0, 3.0],
            "created_at": [dt.datetime(2024, 1, d, tzinfo=dt.UTC) for d in (1, 2, 3)],
        }
    )
    out = review_scores(reviews)
    assert out.rows() == [(1, 4.5, 2), (2, 3.0, 1)]
    assert review_scores(reviews, by=()).rows() == [(4.0, 3)]
    assert review_scores(reviews, by=("branch_id",), period="month").rows() == [(1, dt.date(2024, 1, 1), 4.0, 3)]
