"""Task-queue entry points of staffing: thin callers of the services (they take ids, load, call a service).

Handlers are idempotent: a task may run twice after a crash (``backend.core.tasking``), so each one re-reads state
and claims its work with a conditional UPDATE or acts only on rows still due.
"""

from __future__ import annotations

from django_tasks import task

from .services.confirmations import confirmations_due_run
from .services.dispatch import dispatch_run_execute
from .services.offers import offers_expire


@task()
def dispatch_run_task(run_id: int) -> str | None:
    """Solve and apply one queued solver run; returns its final status (None when another run of the task had it)."""
    run = dispatch_run_execute(run_id=run_id)
    return run.status if run is not None else None


@task()
def offers_expire_task(shift_id: int) -> int:
    """Expire a shift's offers whose answer time is over and offer their places to standby."""
    return offers_expire(shift_id=shift_id)


@task()
def confirmations_due_task() -> dict[str, int]:
    """The confirmation ladder's periodic step: ask the day before, release and replace after the cut-off."""
    return confirmations_due_run()


# --- st-ops: reliability ----------------------------------------------------------------------------------------


@task()
def reliability_recompute_task(as_of: str) -> dict[str, int]:
    """The nightly recomputation of every worker's reliability and rank as of ``as_of`` (ISO). Idempotent: a second
    run for the same night writes nothing (see ``services.reliability.reliability_recompute_all``)."""
    from datetime import datetime

    from .services.reliability import reliability_recompute_all

    return reliability_recompute_all(as_of=datetime.fromisoformat(as_of))
