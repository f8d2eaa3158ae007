"""Command line: ``python -m scheduling_solver solve|validate|bench|replan|generate``.

Exit codes: 0 success, 1 a solution that fails validation (or an infeasible instance), 2 unusable
input (missing file, bad JSON, schema error) with a one-line message and no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scheduling_solver.schemas import (
    Instance,
    SchemaError,
    Solution,
    instance_to_json,
    parse_instance,
    parse_solution,
    solution_to_json,
)

if TYPE_CHECKING:
    from scheduling_solver.partition import Partitions


class _InputError(Exception):
    """Unusable input; the message is shown as is."""


def _load_json(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _InputError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def _load_instance(path: str) -> Instance:
    try:
        return parse_instance(_load_json(path))
    except SchemaError as exc:
        raise _InputError(f"{path}: invalid instance: {exc}") from None


def _load_solution(path: str) -> Solution:
    try:
        return parse_solution(_load_json(path))
    except SchemaError as exc:
        raise _InputError(f"{path}: invalid solution: {exc}") from None


def _partitions(value: str) -> Partitions:
    if value == "auto":
        return "auto"
    if value == "off":
        return "off"
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected auto, off or a positive number of parts, got {value!r}")
    return n


def _cmd_solve(args: argparse.Namespace) -> int:
    from scheduling_solver.partition import solve_partitioned

    instance = _load_instance(args.instance)
    if args.time_limit is not None:
        instance = instance.with_policy(time_limit_s=args.time_limit)
    # Without --partitions or --processes the plain single-process solve, as before.
    partitions: Partitions = args.partitions or ("auto" if args.processes else "off")
    solution = solve_partitioned(instance, partitions=partitions, processes=args.processes)
    print(json.dumps(solution_to_json(solution), indent=None if args.compact else 2))
    return 0 if solution.status != "infeasible" else 1


def _cmd_validate(args: argparse.Namespace) -> int:
    from scheduling_solver.validate import validate

    instance = _load_instance(args.instance)
    solution = _load_solution(args.solution)
    report = validate(instance, solution)
    if report.ok:
        print("ok")
        return 0
    for v in report.violations:
        print(f"{v.code}\t{v.path}\t{v.message}")
    return 1


def _cmd_bench(args: argparse.Namespace) -> int:
    from scheduling_solver.bench import format_report, report_json, run

    if args.replan:
        return _bench_replan(args)
    rep = run(
        args.workers,
        args.shifts,
        args.seed,
        draws=args.draws,
        time_limit_s=args.time_limit,
        sweep=not args.no_sweep,
        sweep_time_limit_s=args.sweep_time_limit,
    )
    if args.json:
        print(json.dumps(report_json(rep), indent=2))
    else:
        print(format_report(rep))
    return 0


def _bench_replan(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from scheduling_solver.bench_replan import format_replan_report, run_replan_bench

    rep = run_replan_bench(args.workers, args.shifts, args.events, args.seed, time_limit_s=args.replan_time_limit)
    print(json.dumps(asdict(rep), indent=2) if args.json else format_replan_report(rep))
    return 0


def _load_events(path: str) -> list[Any]:
    from scheduling_solver.events import parse_event

    data = _load_json(path)
    if not isinstance(data, list):
        raise _InputError(f"{path}: expected a JSON list of events")
    events = []
    for i, item in enumerate(data):
        try:
            events.append(parse_event(item))
        except SchemaError as exc:
            raise _InputError(f"{path}: invalid event [{i}]: {exc}") from None
    return events


def _cmd_replan(args: argparse.Namespace) -> int:
    from scheduling_solver.incremental import EventError, change_to_json
    from scheduling_solver.replan import current_instance, current_solution, replan_one
    from scheduling_solver.solve import solve_with_context
    from scheduling_solver.validate import validate

    instance = _load_instance(args.instance)
    events = _load_events(args.events)
    solution, context = solve_with_context(instance)
    if context is None:
        print(json.dumps({"changes": [], "solution": solution_to_json(solution)}))
        return 1
    changes = []
    for i, event in enumerate(events):
        try:
            changes.append(change_to_json(replan_one(context, event)))
        except EventError as exc:
            raise _InputError(f"{args.events}: event [{i}]: {exc}") from None
    final = current_solution(context)
    doc = {"changes": changes, "solution": solution_to_json(final)}
    print(json.dumps(doc, indent=None if args.compact else 2))
    ok = final.status != "infeasible" and validate(current_instance(context), final).ok
    return 0 if ok else 1


def _cmd_generate(args: argparse.Namespace) -> int:
    from scheduling_solver.generator import generate_day

    day = generate_day(args.workers, args.shifts, args.seed)
    print(json.dumps(instance_to_json(day.instance)))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scheduling_solver", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("solve", help="plan an instance and print the solution JSON")
    p.add_argument("instance")
    p.add_argument("--time-limit", type=float, default=None, help="override policy.time_limit_s")
    p.add_argument("--compact", action="store_true", help="one-line JSON")
    p.add_argument(
        "--partitions",
        type=_partitions,
        default=None,
        help="auto (split big days), off, or a number of parts (default: off, or auto with --processes)",
    )
    p.add_argument("--processes", type=int, default=None, help="solve the parts in this many processes")
    p.set_defaults(func=_cmd_solve)
    p = sub.add_parser("validate", help="check a solution against an instance")
    p.add_argument("instance")
    p.add_argument("solution")
    p.set_defaults(func=_cmd_validate)
    p = sub.add_parser("bench", help="generate a city day and compare with flat over-booking rules")
    p.add_argument("--workers", type=int, default=10_000)
    p.add_argument("--shifts", type=int, default=1_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--draws", type=int, default=2000)
    p.add_argument("--time-limit", type=float, default=10.0)
    p.add_argument("--sweep-time-limit", type=float, default=10.0)
    p.add_argument("--no-sweep", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--replan", action="store_true", help="bench replan_one on random events instead")
    p.add_argument("--events", type=int, default=1000, help="events for --replan")
    p.add_argument("--replan-time-limit", type=float, default=20.0, help="solve time limit for --replan")
    p.set_defaults(func=_cmd_bench)
    p = sub.add_parser("replan", help="solve, apply a JSON list of events one by one, print each change")
    p.add_argument("instance")
    p.add_argument("events")
    p.add_argument("--compact", action="store_true", help="one-line JSON")
    p.set_defaults(func=_cmd_replan)
    p = sub.add_parser("generate", help="print a generated instance JSON")
    p.add_argument("--workers", type=int, default=100)
    p.add_argument("--shifts", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except _InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
