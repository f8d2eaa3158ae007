"""replan_one from the command line and in the benchmark: JSON events in, JSON changes out."""

import json

import pytest

from scheduling_solver.__main__ import main
from scheduling_solver.bench_replan import format_replan_report, run_replan_bench
from scheduling_solver.schemas import instance_to_json
from tests.scheduling_solver.solver_factories import HOME, instance, shift, worker


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _day():
    workers = [worker(f"w{i}", shows=20, no_shows=1, rank=90 - i) for i in range(4)]
    return instance(workers, [shift("s1", headcount=2)], max_call_ratio=1.0, time_limit_s=0.5)


def test_replan_command_prints_each_change_and_a_valid_final_plan(tmp_path, capsys):
    ipath = _write(tmp_path, "i.json", instance_to_json(_day()))
    assert main(["solve", ipath]) == 0
    first = json.loads(capsys.readouterr().out)["shifts"]["s1"]["called"][0]
    newcomer = instance_to_json(instance([worker("n1", location=[HOME[0], HOME[1]])], []))["workers"][0]
    events = [{"type": "decline", "worker": first, "shift": "s1"}, {"type": "available", "worker": newcomer}]

    assert main(["replan", ipath, _write(tmp_path, "e.json", events)]) == 0

    doc = json.loads(capsys.readouterr().out)
    assert [c["event"]["type"] for c in doc["changes"]] == ["decline", "available"]
    assert doc["changes"][0]["changes"][0]["removed"] == [first]
    assert len(doc["changes"][0]["calls"]) == 1
    assert first not in doc["solution"]["shifts"]["s1"]["called"]


def test_replan_command_names_the_bad_event(tmp_path, capsys):
    ipath = _write(tmp_path, "i.json", instance_to_json(_day()))
    bad = [{"type": "decline", "worker": "w0", "shift": "nowhere"}]
    assert main(["replan", ipath, _write(tmp_path, "e.json", bad)]) == 2
    assert "event [0]" in capsys.readouterr().err
    typo = [{"type": "declined", "worker": "w0", "shift": "s1"}]
    assert main(["replan", ipath, _write(tmp_path, "e.json", typo)]) == 2
    assert "invalid event [0]: $.type" in capsys.readouterr().err


def test_small_replan_bench_reports_every_event_type_and_a_valid_plan():
    rep = run_replan_bench(300, 30, 60, 2, time_limit_s=0.5, validate_every=20)
    assert [t.kind for t in rep.times] == ["decline", "timeout", "no_show", "available", "all"]
    assert rep.overall.count == 60 == sum(t.count for t in rep.times[:-1])
    assert rep.validations == 3 and rep.validation_failures == 0
    assert rep.fresh_objective > 0 and rep.live_objective > 0
    assert rep.live_objective == pytest.approx(rep.live_objective_recomputed, rel=1e-9)
    text = format_replan_report(rep)
    assert "gap" in text and "p95" in text and "baseline" in text
