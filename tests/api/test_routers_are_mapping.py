"""Routers map HTTP to selectors and services: no calendar arithmetic, no "which organization" choice, no file
handling rules of their own."""

from __future__ import annotations

import re
from pathlib import Path

import mobile_api

# Names that mean a decision belongs in a selector or service, not in a transport.
FORBIDDEN = re.compile(r"\b(timedelta|ZoneInfo|zoneinfo|make_aware|default_organization_id|MAX_FILE_BYTES)\b")
ROUTERS = sorted(Path(mobile_api.__file__).parent.glob("*/router.py"))


def test_routers_leave_dates_organizations_and_files_to_the_domain() -> None:
    found = [
        f"{path.relative_to(Path(mobile_api.__file__).parent.parent)}:{number}: {line.strip()}"
        for path in ROUTERS
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if FORBIDDEN.search(line)
    ]

    assert ROUTERS and found == []


def test_imports_have_their_own_router_under_the_crm_paths() -> None:
    from mobile_api.api import api

    paths = api.get_openapi_schema(path_prefix="/api/v1/")["paths"]
    tags = {
        op["tags"][0] for path, ops in paths.items() if path.startswith("/api/v1/crm/imports") for op in ops.values()
    }

    assert {"/api/v1/crm/imports", "/api/v1/crm/imports/{job_id}"} <= set(paths)
    assert tags == {"imports"}
