"""``import analytics`` (and ``analytics.plots``) and the non-model functions load neither scipy nor matplotlib
(ADR 0027)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import datetime as dt, sys
import analytics
from analytics import abc, cohorts, diagnostics, kpis, plots, rfm, schema, synthetic
visits, clients = synthetic.generate_visits(clients=300, visits=2_000, seed=1)
done = analytics.purchases(visits)
summary = analytics.summarize(done, "client_id", "started_at", "W", dt.date(2025, 6, 30), dt.date(2025, 12, 30))
analytics.cohort_retention(visits)
analytics.abc_analysis(visits)
analytics.rfm(visits, as_of=dt.date(2025, 12, 30))
analytics.flag_summary(summary, "window_13w")
analytics.churn_flags(done, "fixed_window")
analytics.churn_flags(done, "inactivity_interval", as_of=dt.date(2025, 12, 30), horizon_days=60)
assert "scipy" not in sys.modules, sorted(m for m in sys.modules if m.startswith("scipy"))[:5]
assert "matplotlib" not in sys.modules  # analytics.plots imports it on the first figure
analytics.fit_bgnbd(summary)
assert "scipy" in sys.modules  # a model fit loads it
print("ok")
"""


def test_import_and_non_model_functions_do_not_load_scipy():
    out = subprocess.run(
        [sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
