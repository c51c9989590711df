"""The JSON API under hostile input: schemathesis fuzzes every documented operation as each role against a real
server (no 5xx, responses as documented), and malformed bodies get a 4xx with a Chinese message and a code."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.auth import SESSION_COOKIE
from server.middleware import CSRF_COOKIE
from server.models.people import Role
from server.runtime import Runtime
from server.security import new_token
from server.settings import Settings
from tests.e2e.conftest import LiveServer
from tests.factories import make_unit, make_user, run_with_runtime, sign_in

MAX_BODY = 64 * 1024
EXAMPLES_PER_OPERATION = 6
ROLES = ("anonymous", Role.worker, Role.lecturer, Role.unit_admin, Role.admin)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Signing out ends the session the rest of the run relies on, so it goes last.
LAST = ("DELETE", "/api/v1/session")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": MAX_BODY})


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings)
    server.start()
    yield server
    server.stop()


@dataclass
class Credentials:
    """What a browser of this role sends: the session cookie (none when anonymous) and the CSRF pair."""

    cookies: dict[str, str]
    headers: dict[str, str]


def _credentials(settings: Settings, role: Role | str) -> Credentials:
    if role == "anonymous":
        csrf = new_token(24)
        return Credentials({CSRF_COOKIE: csrf}, {"X-CSRF-Token": csrf})

    async def signed(runtime: Runtime) -> httpx.AsyncClient:
        unit = await make_unit(runtime, "机械厂工会")
        user = await make_user(runtime, Role(role), unit=unit)
        client = httpx.AsyncClient()
        await sign_in(client, runtime, user)
        await client.aclose()
        return client

    client = run_with_runtime(settings, signed)
    return Credentials({c.name: c.value or "" for c in client.cookies.jar},
                       {"X-CSRF-Token": client.headers["X-CSRF-Token"]})


def _fuzz(operation: Any, base_url: str, http: requests.Session, auth: Credentials) -> None:
    @hypothesis_settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def fuzz(case: schemathesis.Case) -> None:
        # The document declares the session cookie and CSRF header, so schemathesis fills them with random
        # values; the real ones replace those (anonymous: no session, but a valid CSRF pair like any browser).
        case.cookies = {k: v for k, v in (case.cookies or {}).items() if k != SESSION_COOKIE} | auth.cookies
        case.headers = {**(case.headers or {}), **auth.headers}
        response = case.call(base_url=base_url, session=http, timeout=30)
        case.validate_response(response, checks=CHECKS)

    fuzz()


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_every_operation_survives_fuzzing(role: Role | str, live_server: LiveServer, settings: Settings) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: (op.method.upper(), op.path) == LAST)
    assert len(operations) >= 40
    http = requests.Session()
    auth = _credentials(settings, role)
    for operation in operations:
        if role != "anonymous" and http.get(f"{live_server.url}/api/v1/me", cookies=auth.cookies).status_code != 200:
            auth = _credentials(settings, role)  # a case deactivated or signed out this role's user
        _fuzz(operation, live_server.url, http, auth)


# --- malformed bodies, over ASGI -----------------------------------------------------------------------------


@pytest.fixture
async def admin(client: httpx.AsyncClient, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    yield await sign_in(client, runtime, await make_user(runtime, Role.admin))


def _assert_error(response: httpx.Response, status: int | tuple[int, ...], code: str) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.text)
    body = response.json()
    assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["error"]), body  # a message people can read


async def test_oversized_body_is_413(admin: httpx.AsyncClient) -> None:
    declared = await admin.post("/api/v1/series", content=b"{" + b" " * (MAX_BODY + 10) + b"}",
                                headers={"Content-Type": "application/json"})
    _assert_error(declared, 413, "body_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts what arrives
        for _ in range(MAX_BODY // 4096 + 2):
            yield b" " * 4096

    streamed = await admin.post("/api/v1/series", content=chunks(), headers={"Content-Type": "application/json"})
    _assert_error(streamed, 413, "body_too_large")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""])
async def test_wrong_content_type_is_415(admin: httpx.AsyncClient, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await admin.post("/api/v1/series", content=json.dumps({"title": "安全生产"}).encode(),
                                headers=headers)
    _assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("depth", [40, 20_000])  # the latter exceeds Python's own recursion limit
async def test_deep_json_is_rejected(admin: httpx.AsyncClient, depth: int) -> None:
    body = ("[" * depth + "]" * depth).encode()
    response = await admin.post("/api/v1/series", content=body, headers={"Content-Type": "application/json"})
    _assert_error(response, 400, "json_too_deep" if depth < 1000 else "malformed_json")


async def test_nested_body_with_a_huge_integer_is_a_4xx(admin: httpx.AsyncClient) -> None:
    body = b"[" * 40 + b"1" * 5000 + b"]" * 40  # beyond Python's integer-string conversion limit
    response = await admin.post("/api/v1/series", content=body, headers={"Content-Type": "application/json"})
    _assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("body", [b'{"title": "\xff\xfe\xfd"}', b'{"title": "\xe5\xae"}', b"\xef\xbb"])
async def test_invalid_utf8_is_rejected(admin: httpx.AsyncClient, body: bytes) -> None:
    response = await admin.post("/api/v1/series", content=body, headers={"Content-Type": "application/json"})
    _assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("body", [b'{"title": "\\u0000"}', b'{"title": "ok", "\\u0000": 1}'])
async def test_nul_characters_are_rejected_before_the_database(admin: httpx.AsyncClient, body: bytes) -> None:
    response = await admin.post("/api/v1/series", content=body, headers={"Content-Type": "application/json"})
    _assert_error(response, 400, "nul_character")


async def test_heartbeat_rejects_malformed_text_plain(client: httpx.AsyncClient) -> None:
    # Heartbeats accept text/plain (sendBeacon) and need no session: the same guards apply there.
    url = "/api/v1/viewing-sessions/00000000-0000-4000-8000-000000000000/heartbeats"
    bad = await client.post(url, content=b"\xff" * 10, headers={"Content-Type": "text/plain"})
    _assert_error(bad, 400, "malformed_json")
    deep = await client.post(url, content=b"[" * 50 + b"]" * 50, headers={"Content-Type": "text/plain"})
    _assert_error(deep, 400, "json_too_deep")


async def test_ids_beyond_the_database_are_4xx(admin: httpx.AsyncClient) -> None:
    too_long = await admin.get("/api/v1/lectures/12345678901234567890")
    assert too_long.status_code == 404 and too_long.json()["code"] == "http_404"
    too_long = await admin.delete("/api/v1/lectures/12345678901234567890")
    assert too_long.status_code == 404 and too_long.json()["code"] == "http_404"
    _assert_error(await admin.delete("/api/v1/lectures/999999999"), 404, "not_found")
    _assert_error(await admin.get("/api/v1/reports/records", params={"lecture": "99999999999"}), 422, "invalid")
    _assert_error(await admin.get("/api/v1/reports/records", params={"unit": "²"}), 422, "invalid")
    listing = await admin.get("/api/v1/lectures", params={"series_id": "²", "lecturer_id": "99999999999"})
    assert listing.status_code == 200  # an impossible filter is ignored, as any unknown one is
    body = {"title": "安全生产", "series_id": 2**40}
    _assert_error(await admin.post("/api/v1/lectures", json=body), 422, "out_of_range")
