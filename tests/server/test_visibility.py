"""Who sees what: published to signed-in people, drafts only to admins and the authors; others get 404."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from server.models.people import Role
from server.runtime import Runtime
from tests.factories import make_user, sign_in
from tests.server.catalogue_fixtures import make_lecture, make_lecturer


async def test_draft_and_published_visibility(runtime: Runtime, make_client: object) -> None:
    admin = await make_user(runtime, Role.admin)
    author = await make_user(runtime, Role.lecturer)
    billed_user = await make_user(runtime, Role.lecturer)
    billed = await make_lecturer(runtime, admin, "李秀英", user=billed_user)
    draft = await make_lecture(runtime, author, "尚未发布的讲座", lecturers=[billed])
    public = await make_lecture(runtime, author, "已经发布的讲座", publish_by=admin)
    clients = {name: await sign_in(make_client(), runtime, user)  # type: ignore[operator]
               for name, user in [("admin", admin), ("author", author), ("billed", billed_user),
                                  ("worker", await make_user(runtime, Role.worker)),
                                  ("other", await make_user(runtime, Role.lecturer))]}
    for name, c in clients.items():
        page = await c.get(f"/lectures/{draft.id}")
        api = await c.get(f"/api/v1/lectures/{draft.id}")
        expected = 200 if name in ("admin", "author", "billed") else 404
        assert (page.status_code, api.status_code) == (expected, expected), name
        if expected == 404:
            assert "尚未发布" not in page.text
        assert (await c.get(f"/lectures/{public.id}")).status_code == 200
    listing = await clients["worker"].get("/api/v1/lectures")
    assert [x["title"] for x in listing.json()["items"]] == ["已经发布的讲座"]
    found = await clients["admin"].get("/api/v1/search", params={"q": "讲座"})
    assert [x["title"] for x in found.json()["lectures"]["items"]] == ["已经发布的讲座"]


async def test_anonymous_visitors_are_sent_to_login_by_default(runtime: Runtime, client: httpx.AsyncClient) -> None:
    admin = await make_user(runtime, Role.admin)
    lecture = await make_lecture(runtime, admin, "公开讲座", publish_by=admin)
    for path in ("/", "/lecturers", f"/lectures/{lecture.id}", "/search?q=x"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    assert (await client.get("/api/v1/lectures")).status_code == 401


async def test_anonymous_browse_setting_opens_published_only(runtime: Runtime, app: Starlette,
                                                            client: httpx.AsyncClient) -> None:
    runtime.settings.allow_anonymous_browse = True
    admin = await make_user(runtime, Role.admin)
    public = await make_lecture(runtime, admin, "公开讲座", publish_by=admin)
    draft = await make_lecture(runtime, admin, "内部草稿")
    page = await client.get(f"/lectures/{public.id}")
    assert page.status_code == 200
    assert "<title>公开讲座" in page.text and 'property="og:title"' in page.text
    assert f'src="/lectures/{public.id}/qr.svg"' in page.text
    qr = await client.get(f"/lectures/{public.id}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
    assert qr.content.startswith(b"<svg") and b"<script" not in qr.content
    assert (await client.get(f"/lectures/{draft.id}")).status_code == 404
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/admin/lectures")).status_code == 303
    assert app
