from __future__ import annotations

import httpx

from server.models.people import Role
from server.runtime import Runtime
from tests.factories import make_user, sign_in


async def test_signed_in_page_shows_name_and_logout_works(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await make_user(runtime, Role.worker, name="张师傅")
    await sign_in(client, runtime, user)
    home = await client.get("/")
    assert "张师傅" in home.text
    out = await client.post("/logout", data={"csrf_token": client.headers["X-CSRF-Token"]})
    assert out.status_code == 303
    client.cookies.delete("jt_session")
    assert "张师傅" not in (await client.get("/")).text
