"""Search for Chinese users through the real app and PostgreSQL pg_trgm: Chinese, pinyin, initials, typos."""

from __future__ import annotations

import httpx
import pytest

from server.models.people import Role
from server.runtime import Runtime
from tests.factories import make_user, sign_in
from tests.server.catalogue_fixtures import make_lecture, make_lecturer


@pytest.fixture
async def seeded(runtime: Runtime, client: httpx.AsyncClient) -> httpx.AsyncClient:
    admin = await make_user(runtime, Role.admin)
    hero = await make_lecturer(runtime, admin, "赵铁柱", honours="全国劳动模范", topics="焊接工艺")
    await make_lecturer(runtime, admin, "钱思远", category="theory")
    await make_lecture(runtime, admin, "劳模大讲堂：焊花里的青春", lecturers=[hero], tags="工匠精神",
                       summary="讲述一线焊工三十年的坚守。", publish_by=admin)
    await make_lecture(runtime, admin, "劳动法律知识讲座", publish_by=admin)
    await make_lecture(runtime, admin, "新时代产业工人队伍建设", summary="关于劳模精神的理论阐释", publish_by=admin)
    for n in range(12):
        await make_lecture(runtime, admin, f"安全生产培训第{n}讲", publish_by=admin)
    return await sign_in(client, runtime, admin)


async def _titles(client: httpx.AsyncClient, q: str, **params: str) -> list[str]:
    response = await client.get("/api/v1/search", params={"q": q, "type": "lectures", **params})
    assert response.status_code == 200
    return [x["title"] for x in response.json()["lectures"]["items"]]


async def test_chinese_pinyin_initials_and_typos(seeded: httpx.AsyncClient) -> None:
    assert (await _titles(seeded, "劳模"))[0] == "劳模大讲堂：焊花里的青春"
    assert "新时代产业工人队伍建设" in await _titles(seeded, "劳模")  # matched in the summary, ranked lower
    assert (await _titles(seeded, "laomo"))[0] == "劳模大讲堂：焊花里的青春"
    assert (await _titles(seeded, "lmdjt"))[0] == "劳模大讲堂：焊花里的青春"
    assert (await _titles(seeded, "LaoMo DaJiang"))[0] == "劳模大讲堂：焊花里的青春"
    assert "劳模大讲堂：焊花里的青春" in await _titles(seeded, "laomodajaingtang")  # transposed letters
    assert await _titles(seeded, "赵铁柱") == ["劳模大讲堂：焊花里的青春"]  # lecturer names are searchable
    assert await _titles(seeded, "量子物理") == []


async def test_lecturers_series_pagination_and_highlight(seeded: httpx.AsyncClient) -> None:
    people = (await seeded.get("/api/v1/search", params={"q": "zhaotiezhu"})).json()["lecturers"]["items"]
    assert [p["name"] for p in people] == ["赵铁柱"]
    first = await _titles(seeded, "安全生产")
    second = await _titles(seeded, "安全生产", page="2")
    assert len(first) == 12 and second == []
    page = await seeded.get("/search", params={"q": "劳模<script>"})
    assert page.status_code == 200 and "<script>" not in page.text.split("</header>")[1]
    page = await seeded.get("/search", params={"q": "焊花"})
    assert "<mark>焊花</mark>" in page.text
    empty = await seeded.get("/search", params={"q": "不存在的内容"})
    assert "没有找到" in empty.text
    roster = await seeded.get("/lecturers", params={"q": "ztz"})
    assert "赵铁柱" in roster.text and "钱思远" not in roster.text
