from __future__ import annotations

import re

import httpx
from pydantic import BaseModel
from starlette.applications import Starlette

from server.openapi import _registry, api_operation, build_document
from server.routes.base import AccessRoute


class Item(BaseModel):
    n: int


class Box(BaseModel):
    items: list[Item]


def test_document_references_components() -> None:
    saved = dict(_registry)
    try:
        api_operation("/api/v1/boxes/{id:int}", "PUT", "替换", request=Box, response=list[Box], tags=["t"])
        doc = build_document(title="t")
    finally:
        _registry.clear()
        _registry.update(saved)
    op = doc["paths"]["/api/v1/boxes/{id}"]["put"]
    assert op["parameters"][0] == {"name": "id", "in": "path", "required": True,
                                   "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999}}
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Box"}
    assert doc["components"]["schemas"]["Box"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Item"}
    assert "Item" in doc["components"]["schemas"]


async def test_served_document_covers_every_api_route(client: httpx.AsyncClient, app: Starlette) -> None:
    doc = (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    api = {(m, re.sub(r"{(\w+):\w+}", r"{\1}", r.path)) for r in app.routes if isinstance(r, AccessRoute)
           and r.path.startswith("/api/v1/") and r.path != "/api/v1/openapi.json" for m in r.methods - {"HEAD"}}
    mine = {k for k in api if k[1].startswith(("/api/v1/people", "/api/v1/units", "/api/v1/me", "/api/v1/session"))}
    assert mine and mine <= documented
