from __future__ import annotations

import io
import zipfile

import httpx
import pytest
from openpyxl import Workbook
from sqlmodel import select

from server.errors import Invalid
from server.models.people import Role, Unit, User
from server.runtime import Runtime
from server.services import member_sheet
from tests.factories import make_unit, make_user, sign_in, with_csrf

HEADER = ["姓名", "手机号", "工号", "单位", "角色"]


def xlsx(rows: list[list[object]], header: list[str] = HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_zip_bomb_disguised_as_xlsx_is_refused_before_parsing() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024))
    assert len(out.getvalue()) < 1024 * 1024
    with pytest.raises(Invalid, match="压缩炸弹"):
        member_sheet.read_rows(out.getvalue(), "members.xlsx")


def test_size_limit_and_wrong_columns_and_encodings() -> None:
    with pytest.raises(Invalid, match="文件过大"):
        member_sheet.check_size(50 * 1024 * 1024)
    with pytest.raises(Invalid, match="缺少列：手机号、工号"):
        member_sheet.read_rows("姓名,单位\n张三,区总工会\n".encode(), "a.csv")
    text = "姓名,手机号,工号,单位,角色\n张三,13800000001,,区总工会,职工\n"
    for encoded in (text.encode("gbk"), text.encode("utf-8-sig"), text.encode("gb18030")):
        rows = member_sheet.read_rows(encoded, "a.csv")
        assert rows[0].values["name"] == "张三" and rows[0].values["unit"] == "区总工会"


def test_formulas_are_text_and_numbers_keep_digits() -> None:
    rows = member_sheet.read_rows(xlsx([["=1+1", 13800000001, 1001.0, "区总工会", ""]]), "m.xlsx")
    assert rows[0].values == {"name": "=1+1", "phone": "13800000001", "employee_no": "1001", "unit": "区总工会",
                              "roles": ""}


async def _preview(client: httpx.AsyncClient, data: bytes, name: str = "m.xlsx", auto: bool = False) -> httpx.Response:
    form = with_csrf(client, {"auto_create_units": "1"} if auto else {})
    return await client.post("/admin/import", data=form, files={"file": (name, data)})


def _hidden(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="')[1].split('"')[0]


async def _commit(client: httpx.AsyncClient, preview: httpx.Response, auto: bool = False) -> httpx.Response:
    data = {k: _hidden(preview.text, k) for k in ("token", "filename", "expected")}
    return await client.post("/admin/import/commit", data=with_csrf(client, {**data, **(
        {"auto_create_units": "1"} if auto else {})}))


async def test_preview_commit_reimport_and_update(client: httpx.AsyncClient, runtime: Runtime) -> None:
    root = await make_unit(runtime, "区总工会")
    await make_unit(runtime, "机械厂工会", root)
    existing = await make_user(runtime, unit=root, name="老名字")
    await sign_in(client, runtime, await make_user(runtime, Role.admin, unit=root))
    rows = [["张三", "13800000001", "Z001", "区总工会/机械厂工会", "职工,讲师"],
            ["李四", "13800000002", "", "区总工会/机械厂工会/一车间", ""],
            ["新名字", existing.phone, existing.employee_no, "区总工会", "职工"],
            ["王五", "13800000001", "Z003", "区总工会", "职工"],
            ["赵六", "123", "Z004", "不存在/单位", "厂长"]]
    data = xlsx(rows)
    preview = await _preview(client, data)
    assert preview.status_code == 200
    for expected in ("手机号在文件中重复（另见第 5 行）", "单位不存在：区总工会/机械厂工会/一车间",
                     "手机号应为 11 位数字", "无法识别的角色：厂长"):
        assert expected in preview.text
    async with runtime.sessions() as db:
        assert len((await db.exec(select(User))).all()) == 2  # nothing written by the preview
    preview = await _preview(client, data, auto=True)
    assert "确认导入 2 条有效记录" in preview.text  # 李四 (unit auto-created) + 老名字 update; 张三/王五 duplicate
    done = await _commit(client, preview, auto=True)
    assert done.status_code == 200 and "新增 1 人，更新 1 人" in done.text
    async with runtime.sessions() as db:
        li = (await db.exec(select(User).where(User.phone == "13800000002"))).one()
        unit = await db.get(Unit, li.unit_id)
        renamed = await db.get(User, existing.id)
    assert unit is not None and unit.name == "一车间" and li.must_change_password and li.password_hash is None
    assert renamed is not None and renamed.name == "新名字"
    again = await _preview(client, data, auto=True)
    assert "确认导入 0 条有效记录" in again.text and "disabled" in again.text


async def test_commit_refuses_when_data_changed_and_writes_nothing(client: httpx.AsyncClient,
                                                                   runtime: Runtime) -> None:
    root = await make_unit(runtime, "区总工会")
    await sign_in(client, runtime, await make_user(runtime, Role.admin, unit=root))
    preview = await _preview(client, xlsx([["甲", "13800000011", "", "区总工会", ""],
                                           ["乙", "13800000012", "", "区总工会", ""]]))
    await make_user(runtime, unit=root, name="抢先")  # someone changes data between preview and commit
    async with runtime.sessions() as db:
        taken = (await db.exec(select(User).where(User.name == "抢先"))).one()
        taken.phone = "13800000012"
        db.add(taken)
        await db.commit()
    r = await _commit(client, preview)
    assert r.status_code == 409 and "重新上传" in r.text
    async with runtime.sessions() as db:
        assert (await db.exec(select(User).where(User.name == "甲"))).first() is None


async def test_hostile_uploads_get_clear_errors(client: httpx.AsyncClient, runtime: Runtime) -> None:
    root = await make_unit(runtime, "区总工会")
    await sign_in(client, runtime, await make_user(runtime, Role.admin, unit=root))
    big = await _preview(client, b"x" * (50 * 1024 * 1024), "big.csv")
    assert big.status_code == 422 and "文件过大" in big.text
    latin = await _preview(client, "姓名,手机号,工号,单位\nJosé,13800000021,,区总工会\n".encode("utf-16-le"), "a.csv")
    assert latin.status_code == 422
    fake = await _preview(client, b"not a zip at all", "m.xlsx")
    assert fake.status_code == 422 and "不是有效的 Excel" in fake.text


async def test_unit_admin_import_is_scoped(client: httpx.AsyncClient, runtime: Runtime) -> None:
    root = await make_unit(runtime, "区总工会")
    mine = await make_unit(runtime, "机械厂工会", root)
    await make_unit(runtime, "纺织厂工会", root)
    await sign_in(client, runtime, await make_user(runtime, Role.unit_admin, unit=mine))
    preview = await _preview(client, xlsx([["甲", "13800000031", "", "区总工会/纺织厂工会", "管理员"],
                                           ["乙", "13800000032", "", "区总工会/机械厂工会/新车间", ""]]), auto=True)
    assert "您无权管理该单位" in preview.text and "单位管理员不能授予管理员角色" in preview.text
    assert "确认导入 1 条有效记录" in preview.text
