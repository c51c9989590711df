from __future__ import annotations

import httpx

from server.db import transaction
from server.models.media import Media, MediaState
from server.models.people import Role
from server.runtime import Runtime
from tests.factories import make_user, sign_in
from tests.server.media_support import make_lecture


async def test_status_follows_the_newest_media(client: httpx.AsyncClient, make_client, runtime: Runtime) -> None:
    owner = await make_user(runtime, Role.lecturer)
    lecture = await make_lecture(runtime, owner)
    await sign_in(client, runtime, owner)
    url = f"/api/v1/lectures/{lecture.id}/media-status"
    assert (await client.get(url)).json() == {"state": "none", "percent": 0.0, "eta_s": None, "message": "",
                                              "playable": False}
    async with transaction(runtime.sessions) as db:
        media = Media(lecture_id=lecture.id, source_key="uploads/x/source", state=MediaState.transcoding,
                      percent=42.456, eta_s=17)
        db.add(media)
    body = (await client.get(url)).json()
    assert body == {"state": "transcoding", "percent": 42.5, "eta_s": 17, "message": "", "playable": False}
    async with transaction(runtime.sessions) as db:
        row = await db.get(Media, media.id)
        assert row is not None
        row.state, row.error = MediaState.failed, "无法识别的文件格式"
        db.add(row)
    failed = (await client.get(url)).json()
    assert failed["state"] == "failed" and failed["message"] == "无法识别的文件格式"

    stranger = await sign_in(make_client(), runtime, await make_user(runtime, Role.lecturer))
    assert (await stranger.get(url)).status_code == 403
