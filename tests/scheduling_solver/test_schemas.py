"""Instance and solution schemas: the issue's example parses; errors name the JSON path."""

import copy

import pytest

from scheduling_solver.schemas import (
    Policy,
    SchemaError,
    instance_to_json,
    parse_instance,
    parse_solution,
    solution_to_json,
)

EXAMPLE = {
    "workers": [
        {
            "id": "w1",
            "rank": 87.5,
            "shows": 12.4,
            "no_shows": 1.0,
            "skills": ["loader"],
            "location": [59.93, 30.36],
            "available": [["2026-12-01T06:00:00+03:00", "2026-12-01T22:00:00+03:00"]],
            "max_shifts_per_day": 1,
            "fixed": ["s1"],
            "excluded": ["s7"],
        }
    ],
    "shifts": [
        {
            "id": "s1",
            "start": "2026-12-01T08:00:00+03:00",
            "end": "2026-12-01T20:00:00+03:00",
            "headcount": 10,
            "skills": ["loader"],
            "location": [59.95, 30.31],
        }
    ],
    "policy": {
        "prior": [4.0, 1.0],
        "cost_unfilled": 6.0,
        "cost_idle": 1.0,
        "max_travel_km": 25,
        "min_rest_minutes": 60,
        "max_call_ratio": 2.5,
        "rank_weight": 0.01,
        "distance_weight": 0.001,
        "time_limit_s": 10,
        "seed": 0,
    },
}


def error_paths(doc):
    with pytest.raises(SchemaError) as info:
        parse_instance(doc)
    return [path for path, _ in info.value.errors]


def test_issue_example_parses_and_round_trips():
    inst = parse_instance(EXAMPLE)
    assert inst.workers[0].fixed == ("s1",)
    assert inst.show_probability(inst.workers[0]) == pytest.approx((12.4 + 4) / (12.4 + 1 + 5))
    assert parse_instance(instance_to_json(inst)) == inst


def test_every_policy_field_has_a_default():
    doc = copy.deepcopy(EXAMPLE)
    doc.pop("policy")
    assert parse_instance(doc).policy == Policy()


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["workers"][0].update(location=[59.9]), "$.workers[0].location"),
        (lambda d: d["workers"][0].update(location=[99.0, 30.0]), "$.workers[0].location[0]"),
        (lambda d: d["workers"][0].update(rank="high"), "$.workers[0].rank"),
        (lambda d: d["workers"][0].update(shows=-1), "$.workers[0].shows"),
        (
            lambda d: d["workers"][0]["available"][0].__setitem__(0, "2026-12-01T06:00:00"),
            "$.workers[0].available[0][0]",
        ),
        (lambda d: d["workers"][0].update(fixed=["nope"]), "$.workers[0].fixed[0]"),
        (lambda d: d["workers"][0].update(max_shifts_per_day=0), "$.workers[0].max_shifts_per_day"),
        (lambda d: d["shifts"][0].pop("headcount"), "$.shifts[0].headcount"),
        (lambda d: d["shifts"][0].update(headcount=True), "$.shifts[0].headcount"),
        (lambda d: d["shifts"][0].update(end="2026-12-01T07:00:00+03:00"), "$.shifts[0].end"),
        (lambda d: d["shifts"][0].update(headcout=3), "$.shifts[0].headcout"),
        (lambda d: d["shifts"].append(dict(d["shifts"][0])), "$.shifts[1].id"),
        (lambda d: d["policy"].update(max_call_ratio=0.5), "$.policy.max_call_ratio"),
        (lambda d: d["policy"].update(prior=[0, 1]), "$.policy.prior"),
        (lambda d: d.update(workers={}), "$.workers"),
    ],
)
def test_errors_name_the_json_path(mutate, path):
    doc = copy.deepcopy(EXAMPLE)
    mutate(doc)
    assert path in error_paths(doc)


def test_message_is_one_line_with_the_first_path_and_a_count():
    doc = copy.deepcopy(EXAMPLE)
    doc["shifts"][0]["headcount"] = 0
    doc["workers"][0]["rank"] = 101
    with pytest.raises(SchemaError) as info:
        parse_instance(doc)
    text = str(info.value)
    assert "\n" not in text and text.startswith("$.") and "1 more error" in text


def test_solution_round_trips_and_reports_paths():
    doc = {
        "status": "feasible",
        "wall_s": 0.1,
        "shifts": {
            "s1": {
                "called": ["w1"],
                "standby": [],
                "expected_attendance": 0.9,
                "fill_probability": 0.9,
                "expected_cost": 0.6,
            }
        },
        "totals": {"called": 1, "expected_cost": 0.6, "mean_fill_probability": 0.9},
    }
    sol = parse_solution(doc)
    assert parse_solution(solution_to_json(sol)) == sol
    doc["shifts"]["s1"]["fill_probability"] = 1.5
    doc["status"] = "great"
    with pytest.raises(SchemaError) as info:
        parse_solution(doc)
    assert {p for p, _ in info.value.errors} == {"$.status", "$.shifts.s1.fill_probability"}
