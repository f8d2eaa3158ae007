"""The partitioned benchmark on a small day: it measures both plans and prints every figure."""

from scheduling_solver.bench_partition import format_report, run


def test_small_partitioned_bench_reports_parts_and_baseline():
    b = run(2_000, 200, 1, partitions=2, processes=2, time_limit_s=20.0)
    assert b.valid and b.baseline_valid
    assert len(b.report.parts) == 2 and sum(p.n_shifts for p in b.report.parts) == 200
    assert b.cost_ratio is not None and b.peak_self_mb > 0 and b.serialisation and b.serialisation.packed_bytes > 0
    assert b.wall_ok is None  # the wall target is judged on the whole shared pool only
    text = format_report(b)
    for needle in ("components", "cpu s", "peak RSS", "cost vs unpartitioned", "load average", "packed arrays"):
        assert needle in text
