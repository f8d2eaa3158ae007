"""Guard: no two distinct schema classes may share an OpenAPI component name.

django-ninja moves every nested model of every operation into ``components.schemas`` keyed by the
class name (pydantic's ``$defs`` key, derived from ``__name__``; ``model_config["title"]`` only sets the
``title`` field, not the key) and merges them with a plain ``dict.update``: a second class with the same
name silently replaces the first one's component, so one route's documented contract becomes another's.
This test walks every operation of the built API and fails on such a clash.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Iterable, Iterator
from typing import Any

from ninja import NinjaAPI, Router, Schema
from pydantic import BaseModel

from mobile_api.api import api as brigada_api


def _component_types(annotation: Any) -> Iterator[type]:
    """Yield the models/enums an annotation refers to, unwrapping list/Optional/Union/dict/Annotated."""
    if inspect.isclass(annotation) and issubclass(annotation, (BaseModel, enum.Enum)):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return
    for arg in typing.get_args(annotation):
        yield from _component_types(arg)


def _operation_roots(api: NinjaAPI) -> Iterator[type]:
    """Yield the models ninja builds the schema of each operation from (params and responses)."""
    for bound_router in api._get_bound_routers():
        for path_view in bound_router.path_operations.values():
            for operation in path_view.operations:
                yield from operation.models
                for model in operation.response_models.values():
                    if inspect.isclass(model):
                        yield model


def _named_classes(roots: Iterable[type]) -> dict[str, set[type]]:
    """Map each component name to the distinct classes reachable from ``roots`` that would use it."""
    by_name: dict[str, set[type]] = {}
    seen: set[type] = set()
    stack = list(roots)
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        if issubclass(model, BaseModel):
            for field in model.model_fields.values():
                for nested in _component_types(field.annotation):
                    by_name.setdefault(nested.__name__, set()).add(nested)
                    stack.append(nested)
    return by_name


def schema_name_clashes(api: NinjaAPI) -> list[str]:
    """Describe every component name used by two or more distinct classes in ``api``."""
    return [
        f"schema name {name!r} is used by " + " and ".join(sorted(f"{c.__module__}.{c.__qualname__}" for c in classes))
        for name, classes in sorted(_named_classes(_operation_roots(api)).items())
        if len(classes) > 1
    ]


def test_no_two_schema_classes_share_a_component_name() -> None:
    assert schema_name_clashes(brigada_api) == []


def test_walker_reports_two_same_named_schemas_from_two_routers() -> None:
    first = type("ClientOut", (Schema,), {"__annotations__": {"name": str}, "__module__": "guard.crm"})
    second = type("ClientOut", (Schema,), {"__annotations__": {"hours": int}, "__module__": "guard.staffing"})
    crm, staffing = Router(), Router()

    @crm.get("/clients", response=list[first])  # type: ignore[valid-type]
    def crm_clients(request: Any) -> list[Any]:
        return []

    @staffing.get("/clients", response=first | None)  # type: ignore[operator]
    def staffing_client(request: Any) -> Any:
        return None

    @staffing.post("/clients", response={201: dict[str, second]})  # type: ignore[valid-type]
    def staffing_create(request: Any) -> Any:
        return 201, {}

    api = NinjaAPI(urls_namespace="guard-proof")
    api.add_router("/crm", crm)
    api.add_router("/staffing", staffing)

    # The subject of the guard: ninja keeps a single ClientOut component, one class's contract lost.
    components = api.get_openapi_schema(path_prefix="")["components"]["schemas"]
    assert [name for name in components if name == "ClientOut"] == ["ClientOut"]
    assert schema_name_clashes(api) == [
        "schema name 'ClientOut' is used by guard.crm.ClientOut and guard.staffing.ClientOut"
    ]
