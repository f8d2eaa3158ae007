from __future__ import annotations

import uuid

from backend.core.logging import redact


def test_uuids_stay_readable_but_opaque_tokens_do_not() -> None:
    task_id = str(uuid.uuid4())
    token = "bga_" + "x1Y2z3" * 8

    text = redact(f"task {task_id} finished for token {token}")

    assert task_id in text
    assert token not in text
