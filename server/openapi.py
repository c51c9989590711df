"""A registry of JSON API operations and the OpenAPI 3.1 document built from it.

Route modules call ``api_operation(...)`` at import time (as a statement or a decorator), so every
operation is registered by the time the app serves ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from server.ids import MAX_ID_DIGITS

MAX_ID = 10**MAX_ID_DIGITS - 1
REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    request: Any = None
    response: Any = None
    query: type[BaseModel] | None = None
    status: int = 200
    tags: tuple[str, ...] = ()


_registry: dict[tuple[str, str], Operation] = {}


def api_operation(path: str, method: str, summary: str, *, request: Any = None, response: Any = None,
                  query: type[BaseModel] | None = None, status: int = 200,
                  tags: Iterable[str] = ()) -> Callable[[F], F]:
    """Register one operation. ``request``/``response`` are pydantic models or types such as list[Model].

    Returns an identity decorator, so it can also sit above the endpoint function.
    """
    op = Operation(path, method.lower(), summary, request, response, query, status, tuple(tags))
    _registry[(op.path, op.method)] = op
    return lambda endpoint: endpoint


def operations() -> list[Operation]:
    return sorted(_registry.values(), key=lambda o: (o.path, o.method))


class _Schemas:
    """Collects component schemas; each model appears once, referenced by name."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, annotation: Any) -> dict[str, Any]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            schema = annotation.model_json_schema(ref_template=REF_TEMPLATE)
            self.components.update(schema.pop("$defs", {}))
            self.components[annotation.__name__] = schema
            return {"$ref": REF_TEMPLATE.format(model=annotation.__name__)}
        schema = TypeAdapter(annotation).json_schema(ref_template=REF_TEMPLATE)
        self.components.update(schema.pop("$defs", {}))
        return schema


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "code"],
    "properties": {"error": {"type": "string", "description": "给用户看的中文说明"},
                   "code": {"type": "string"},
                   "fields": {"type": "object", "additionalProperties": {"type": "string"}}},
}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name, converter in _PATH_PARAM.findall(op.path):
        # Integer ids match at most MAX_ID_DIGITS digits (server.routes.base.IdConvertor); longer ones are 404.
        schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID} if converter == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF_TEMPLATE)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return params


def build_document(*, title: str, version: str = "1") -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in operations():
        item: dict[str, Any] = {"summary": op.summary, "operationId": f"{op.method}_{_slug(op.path)}"}
        if op.tags:
            item["tags"] = list(op.tags)
        params = _parameters(op)
        if params:
            item["parameters"] = params
        if op.request is not None:
            item["requestBody"] = {"required": True,
                                   "content": {"application/json": {"schema": schemas.ref(op.request)}}}
        ok: dict[str, Any] = {"description": "成功"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": schemas.ref(op.response)}}
        error = {"description": "错误", "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(
            model="Error")}}}}
        item["responses"] = {str(op.status): ok, "4XX": error}
        paths.setdefault(_PATH_PARAM.sub(r"{\1}", op.path), {})[op.method] = item
    schemas.components["Error"] = _ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "jt_session"},
                                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"}},
        },
        "security": [{"session": [], "csrf": []}],
    }


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", _PATH_PARAM.sub(r"\1", path).lower()).strip("_")
