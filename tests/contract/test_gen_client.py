"""The client generator itself, on the committed OpenAPI snapshot (no server): every operation becomes a method,
bodies become TypedDicts, and the run-time check rejects answers outside the document."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any, get_type_hints

import pytest

from tests.contract.gen_client import METHODS, generate, method_name

SNAPSHOT = Path(__file__).resolve().parents[1] / "api" / "openapi_snapshot.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def module(schema: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    path = tmp_path_factory.mktemp("gen") / "generated_client.py"
    path.write_text(generate(schema), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("generated_client", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def test_every_operation_has_a_method(schema: dict[str, Any], module: ModuleType) -> None:
    ids = [op["operationId"] for ops in schema["paths"].values() for m, op in ops.items() if m in METHODS]
    for operation_id in ids:
        assert callable(getattr(module.BrigadaClient, method_name(operation_id))), operation_id
    assert method_name("mobile_api_staffing_router_offer_accept") == "staffing_offer_accept"
    assert method_name("mobile_api_staffing_attendance_check_in") == "staffing_check_in"
    assert method_name("booking_appointment_confirm") == "booking_appointment_confirm"


def test_bodies_are_typed_dicts_with_required_keys(module: ModuleType) -> None:
    register = module.DeviceRegisterIn
    # Postponed annotations (classes refer to each other in any order): what a type checker reads.
    annotations = {k: getattr(v, "__forward_arg__", v) for k, v in register.__annotations__.items()}
    assert annotations == {
        "app_version": "str",
        "language": "Language | None",
        "platform": "Required[Platform]",
        "token": "Required[str]",
    }
    hints = get_type_hints(module.BrigadaClient.devices_device_register, vars(module))
    assert hints["body"] is register and hints["return"] is module.DeviceOut


def test_the_run_time_check_rejects_answers_outside_the_document(module: ModuleType) -> None:
    ref = {"$ref": "#/components/schemas/DeviceOut"}
    good = {
        "id": 1,
        "platform": "ios",
        "language": "ru",
        "app_version": "",
        "last_seen_at": "2026-01-01T00:00:00Z",
        "active": True,
    }
    module.check(good, ref)
    for bad in (
        {**good, "platform": "symbian"},
        {k: v for k, v in good.items() if k != "id"},
        {**good, "id": "1"},
        {**good, "active": 1},
    ):
        with pytest.raises(module.ContractViolation):
            module.check(bad, ref)
