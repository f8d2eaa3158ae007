"""The contract suite's fixture: the live stack (tests/contract/live_stack.py), the suite's world seeded into its
database, and a client generated from the OpenAPI document the running server publishes (ADR 0024)."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.contract.gen_client import generate
from tests.contract.live_stack import LiveStack, live_stack  # noqa: F401  (the fixture)


@dataclass
class Live:
    server: LiveStack
    api: ModuleType  # the generated client module
    world: dict[str, Any]

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    @property
    def redis(self) -> bool:
        return self.server.redis

    def client(self, token: str | None = None) -> Any:
        return self.api.BrigadaClient(self.server.url, token=token)

    def login(self, phone: str) -> Any:
        """Log in by phone code through the generated client, as the app does; returns an authenticated client."""
        anonymous = self.client()
        seen = self.server.sms_count()
        anonymous.auth_otp_request_view(body={"phone": phone})
        code = self.server.sms_code(phone, after=seen)
        pair = anonymous.auth_otp_verify_view(body={"phone": phone, "code": code})
        anonymous.close()
        return self.client(pair["access_token"])


@pytest.fixture(scope="module")
def live(live_stack: LiveStack) -> Iterator[Live]:  # noqa: F811
    t0 = time.monotonic()
    world = json.loads(live_stack.run_module("tests.contract.seed").strip().splitlines()[-1])
    document = httpx.get(f"{live_stack.url}/api/v1/openapi.json", timeout=60).json()
    # The client is generated from the document this server publishes, not from a file in the repository.
    path = live_stack.tmp / "brigada_client.py"
    path.write_text(generate(document), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("brigada_client", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(f"contract: world seeded and client generated in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    yield Live(server=live_stack, api=module, world=world)
