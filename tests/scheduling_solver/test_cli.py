"""Command line: solve prints JSON, validate checks it, bad input exits 2 with one line."""

import json
import subprocess
import sys

from scheduling_solver.__main__ import main
from scheduling_solver.schemas import instance_to_json
from tests.scheduling_solver.solver_factories import instance, shift, worker


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_solve_then_validate(tmp_path, capsys):
    inst = instance([worker("w1"), worker("w2")], [shift("s1", headcount=1)], time_limit_s=0.5)
    ipath = write(tmp_path, "i.json", instance_to_json(inst))
    assert main(["solve", ipath]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["status"] in ("optimal", "feasible")
    spath = write(tmp_path, "s.json", out)
    assert main(["validate", ipath, spath]) == 0
    assert capsys.readouterr().out.strip() == "ok"


def test_validate_lists_violations(tmp_path, capsys):
    inst = instance([worker("w1", skills=("driver",))], [shift("s1")])
    ipath = write(tmp_path, "i.json", instance_to_json(inst))
    sol = {
        "status": "feasible",
        "wall_s": 0,
        "shifts": {
            "s1": {"called": ["w1"], "standby": [], "expected_attendance": 0, "fill_probability": 0, "expected_cost": 0}
        },
        "totals": {"called": 1, "expected_cost": 0, "mean_fill_probability": 0},
    }
    assert main(["validate", ipath, write(tmp_path, "s.json", sol)]) == 1
    assert "missing_skill" in capsys.readouterr().out


def test_bad_instance_exits_2_with_one_line(tmp_path, capsys):
    doc = instance_to_json(instance([worker("w1")], [shift("s1")]))
    doc["shifts"][0]["headcount"] = -3
    assert main(["solve", write(tmp_path, "bad.json", doc)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "$.shifts[0].headcount" in err


def test_broken_json_and_missing_file_exit_2(tmp_path, capsys):
    assert main(["solve", write(tmp_path, "broken.json", "{not json")]) == 2
    assert main(["solve", str(tmp_path / "missing.json")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_real_process_has_no_traceback(tmp_path):
    path = write(tmp_path, "bad.json", {"workers": [], "shifts": "nope"})
    proc = subprocess.run(
        [sys.executable, "-m", "scheduling_solver", "solve", path], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
