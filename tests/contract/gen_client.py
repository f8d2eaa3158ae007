"""Generate a typed Python client from Brigada's published OpenAPI document (see ADR 0024).

    python -m tests.contract.gen_client SCHEMA.json OUT.py       # or an http(s) URL of /api/v1/openapi.json

The output is one module: a ``TypedDict`` per component schema (request bodies and responses), a ``Literal`` alias
per enum, and ``BrigadaClient`` with one method per operation, named after its operationId, taking path parameters
positionally, query parameters and headers as keywords and the JSON body as ``body``. A method returns the decoded
2xx body, after checking it against the operation's response schema at run time (required keys, types, enums,
nested, ``$ref`` resolved): a server answering outside its own document fails the caller, which is the point of a
contract suite. A non-2xx answer raises ``ApiError`` carrying the status and the error envelope.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
_PRIMITIVES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
# operationIds ninja derives from the view's module path: "mobile_api_staffing_router_offer_accept" -> the domain
# and the view ("staffing_offer_accept"); explicit ids ("booking_appointment_confirm") are kept.
_MODULE_WORDS = ("router", "attendance", "slots")


def method_name(operation_id: str) -> str:
    name = operation_id.removeprefix("mobile_api_")
    for word in _MODULE_WORDS:
        name = re.sub(rf"^([a-z]+(?:_comms)?)_{word}_", r"\1_", name)
    name = re.sub(r"\W", "_", name)
    return f"{name}_" if keyword.iskeyword(name) else name


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def py_type(node: dict[str, Any]) -> str:
    """The annotation for a JSON schema node (class names quoted by ``from __future__ import annotations``)."""
    if "$ref" in node:
        return _ref_name(node["$ref"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            parts = list(dict.fromkeys(py_type(part) for part in node[combinator]))
            return " | ".join(parts)
    if "allOf" in node and len(node["allOf"]) == 1:
        return py_type(node["allOf"][0])
    if "enum" in node:
        return "Literal[" + ", ".join(repr(v) for v in node["enum"]) + "]"
    kind = node.get("type")
    if kind == "array":
        return f"list[{py_type(node.get('items', {}))}]"
    if kind == "object":
        extra = node.get("additionalProperties")
        return f"dict[str, {py_type(extra)}]" if isinstance(extra, dict) and extra else "dict[str, Any]"
    if isinstance(kind, str) and kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    return "Any"


def _component(name: str, node: dict[str, Any]) -> list[str]:
    if "enum" in node:
        return [f"{name} = {py_type(node)}", ""]
    if node.get("type") != "object" or "properties" not in node:
        return [f"{name} = {py_type(node)}", ""]
    required = set(node.get("required", ()))
    lines = [f"class {name}(TypedDict, total=False):"]
    for field_name, sub in node["properties"].items():
        annotation = py_type(sub)
        if not field_name.isidentifier() or keyword.iskeyword(field_name):
            # A key that is not a Python name would need the functional TypedDict form; none exists today.
            raise SystemExit(f"{name}.{field_name}: not a Python identifier")
        lines.append(f"    {field_name}: {f'Required[{annotation}]' if field_name in required else annotation}")
    if len(lines) == 1:
        lines.append("    pass")
    return [*lines, "", ""]


def _success(op: dict[str, Any]) -> tuple[tuple[int, ...], dict[str, Any] | None]:
    """The documented 2xx statuses and the first one's body schema."""
    statuses = sorted(int(s) for s in op.get("responses", {}) if str(s).startswith("2"))
    if not statuses:
        return (200,), None
    first = op["responses"].get(str(statuses[0])) or op["responses"].get(statuses[0]) or {}
    content = first.get("content") or {}
    return tuple(statuses), (content.get("application/json") or {}).get("schema")


def _operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    name = method_name(op["operationId"])
    params = op.get("parameters", [])
    path_params = [p for p in params if p["in"] == "path"]
    query_params = [p for p in params if p["in"] == "query"]
    headers = [p for p in params if p["in"] == "header"]
    body = (op.get("requestBody", {}).get("content", {}).get("application/json") or {}).get("schema")
    status, answer = _success(op)
    returns = py_type(answer) if answer else "None"
    args = ["self"] + [f"{p['name']}: {py_type(p.get('schema', {}))}" for p in path_params]
    keywords = []
    if body is not None:
        required = op["requestBody"].get("required", False)
        keywords.append(f"body: {py_type(body)}" + ("" if required else " | None = None"))
    for p in query_params:
        annotation = py_type(p.get("schema", {}))
        if not p.get("required"):
            annotation = annotation if annotation.endswith("| None") else f"{annotation} | None"
            annotation += " = None"
        keywords.append(f"{p['name']}: {annotation}")
    if headers:
        keywords.append("idempotency_key: str | None = None")
    signature = ", ".join(args + (["*", *keywords] if keywords else []))
    summary = (op.get("summary") or name).replace('"', "'")
    query = "{" + ", ".join(f"{p['name']!r}: {p['name']}" for p in query_params) + "}"
    lines = [
        f"    def {name}({signature}) -> {returns}:",
        f'        """{method.upper()} {path}: {summary}."""',
        "        return self._call(  # type: ignore[no-any-return]",
        f"            {method.upper()!r}, f{path!r}, expect={answer!r}, ok={status}, query={query},",
        f"            body={'body' if body is not None else 'None'},"
        f" idempotency_key={'idempotency_key' if headers else 'None'},",
        "        )",
        "",
    ]
    return lines


RUNTIME = '''
class ApiError(Exception):
    """A non-2xx answer: ``status`` and the error envelope's ``code`` / ``message`` / ``fields``."""

    def __init__(self, status: int, payload: Any) -> None:
        error = payload.get("error", {}) if isinstance(payload, dict) else {}
        self.status, self.payload = status, payload
        self.code = str(error.get("code", ""))
        super().__init__(f"HTTP {status} {self.code}: {error.get('message', payload)}")


class ContractViolation(AssertionError):
    """The server answered outside its own OpenAPI document."""


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,),
    "object": (dict,), "null": (type(None),),
}


def check(value: Any, node: dict[str, Any], where: str = "$") -> None:
    """Raise ContractViolation unless ``value`` fits the schema ``node`` (the subset ninja emits)."""
    if "$ref" in node:
        return check(value, COMPONENTS[node["$ref"].rsplit("/", 1)[-1]], where)
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            for part in node[combinator]:
                try:
                    check(value, part, where)
                    return None
                except ContractViolation:
                    continue
            raise ContractViolation(f"{where}: {value!r} fits none of {node[combinator]}")
    for part in node.get("allOf", ()):
        check(value, part, where)
    if "enum" in node and value not in node["enum"]:
        raise ContractViolation(f"{where}: {value!r} not in {node['enum']}")
    kind = node.get("type")
    if isinstance(kind, str):
        allowed = _JSON_TYPES.get(kind, (object,))
        if not isinstance(value, allowed) or (kind in ("integer", "number") and isinstance(value, bool)):
            raise ContractViolation(f"{where}: expected {kind}, got {type(value).__name__} {value!r}")
    if isinstance(value, dict):
        for key in node.get("required", ()):
            if key not in value:
                raise ContractViolation(f"{where}: required key {key!r} missing")
        for key, sub in node.get("properties", {}).items():
            if key in value:
                check(value[key], sub, f"{where}.{key}")
    if isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            check(item, node["items"], f"{where}[{i}]")
    return None


class BrigadaClient:
    """One caller of the API: ``base_url`` is the server's origin; ``token`` a bearer access token (``login``)."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 20.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.token = token

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, *, expect: dict[str, Any] | None, ok: tuple[int, ...],
              query: dict[str, Any],
              body: Any, idempotency_key: str | None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        params = {k: v for k, v in query.items() if v is not None}
        response = self.http.request(method, path, params=params, json=body, headers=headers)
        payload = response.json() if response.content else None
        if not response.is_success:
            raise ApiError(response.status_code, payload)
        if response.status_code not in ok:
            raise ContractViolation(f"{method} {path}: HTTP {response.status_code} is not documented ({ok})")
        if expect is not None:
            check(payload, expect)
        return payload
'''


def generate(schema: dict[str, Any]) -> str:
    components = schema.get("components", {}).get("schemas", {})
    out = [
        '"""Generated by tests/contract/gen_client.py from the published OpenAPI document: do not edit."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any, Literal, Required, TypedDict",
        "",
        "import httpx",
        "",
        f"API_VERSION = {schema.get('info', {}).get('version', '')!r}",
        f"COMPONENTS: dict[str, Any] = {components!r}",
        "",
        "",
    ]
    for name in sorted(components):
        out.extend(_component(name, components[name]))
    out.append(RUNTIME)
    seen: set[str] = set()
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            if method not in METHODS:
                continue
            name = method_name(op["operationId"])
            if name in seen:
                raise SystemExit(f"two operations map to the method name {name!r}")
            seen.add(name)
            out.extend(_operation(path, method, op))
    return "\n".join(out) + "\n"


def load(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=20) as answer:  # our own server, in tests
            return json.loads(answer.read())  # type: ignore[no-any-return]
    return json.loads(Path(source).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    Path(argv[1]).write_text(generate(load(argv[0])), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
