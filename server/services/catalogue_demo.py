"""Demo roster and catalogue: fictional lecturers, three series, online and offline lectures, drawn pictures."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import any_, func
from sqlmodel import select

from server.db import transaction
from server.models.base import utcnow
from server.models.catalogue import Lecturer
from server.models.people import Role, User
from server.permissions import Actor
from server.runtime import Runtime
from server.services import catalogue, lecture_admin, roster
from server.services.images import ImageKind, store_image
from server.workflow import Action

FONT_PATHS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
PALETTE = [(192, 39, 45), (176, 121, 28), (33, 93, 140), (46, 125, 80), (120, 60, 140), (90, 90, 90)]

DEMO_LECTURER_PHONE = "13900000002"  # accounts_demo's lecturer
LECTURERS = [
    ("韩立军", "model_worker", "全国劳动模范、大国工匠", "华东重型机械厂", "数控加工,工匠精神"),
    ("刘桂芳", "model_worker", "全国五一劳动奖章、省劳动模范", "滨江纺织集团", "质量管理,班组建设"),
    ("马振宇", "model_worker", "全国劳动模范", "北岭煤矿", "安全生产,技术革新"),
    ("邓春燕", "model_worker", "省五一巾帼标兵", "南湖公交公司", "服务标准化"),
    ("彭志强", "pioneer", "全国技术能手", "星海新能源汽车", "电池装配,智能制造"),
    ("许晓雯", "pioneer", "省青年岗位能手", "云帆软件园", "数字化转型"),
    ("唐国栋", "pioneer", "中华技能大奖", "东港造船厂", "焊接工艺"),
    ("梁雪梅", "pioneer", "省首席技师", "安和医院", "护理创新"),
    ("宋文博", "theory", "市委党校教授", "市委党校", "工人运动史,党的创新理论"),
    ("范一鸣", "theory", "理论宣讲团成员", "市总工会宣教部", "劳动关系,职工权益"),
    ("蒋慧琳", "theory", "马克思主义学院副教授", "江城理工大学", "思政教育"),
    ("董海涛", "theory", "劳动法律专家", "职工法律援助中心", "劳动法,集体协商"),
]
SERIES = [
    ("劳模大讲堂", "劳模工匠走上讲台，讲述奋斗故事与匠心技艺。", True),
    ("思政课程", "理论骨干深入浅出讲解党的创新理论与工人运动史。", True),
    ("工青益夜校", "面向青年职工的技能提升与兴趣课程，下班后也能学。", False),
]
TOPICS = ["匠心筑梦", "从学徒到大国工匠", "安全生产的第一道防线", "班组长的管理艺术", "新时代劳模精神",
          "工人阶级的历史使命", "劳动合同那些事", "数字时代的产业工人", "质量就是生命", "技术革新小窍门",
          "青年职工如何成长", "职工心理健康", "绿色低碳从岗位做起", "女职工权益保护", "集体协商怎么谈",
          "智能制造入门", "焊花里的青春", "守护城市的公交人", "医护一线的温度", "读懂工会法", "夜校：手机摄影",
          "夜校：职场沟通"]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for path in FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def draw_picture(text: str, colour: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    img = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, size[1] * 3 // 4, size[0], size[1]), fill=tuple(max(0, c - 40) for c in colour))
    font = _font(size[1] // (3 if len(text) <= 2 else 8))
    box = draw.textbbox((0, 0), text, font=font)
    draw.text(((size[0] - box[2]) / 2, (size[1] - box[3]) / 2), text, fill=(255, 248, 230), font=font)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


async def load(runtime: Runtime) -> None:
    async with runtime.sessions() as db:
        if (await db.exec(select(func.count()).select_from(Lecturer))).one():
            return
        admin = (await db.exec(select(User).where(any_(User.roles) == Role.admin.value).order_by(User.id))).first()
        # The demo lecturer account (accounts_demo) signs in as the first roster profile.
        lecturer_account = (await db.exec(select(User).where(User.phone == DEMO_LECTURER_PHONE))).first()
    actor = Actor(admin.id if admin and admin.id else 0, frozenset({Role.admin.value}), None)
    if admin is None:
        return
    made: list[Lecturer] = []
    for i, (name, category, honours, unit, topics) in enumerate(LECTURERS):
        key = await store_image(runtime.storage, draw_picture(name[0], PALETTE[i % 6], (480, 480)), ImageKind.avatar)
        async with transaction(runtime.sessions) as db:
            values: dict[str, object] = {
                "name": name, "category": category, "honours": honours.split("、"), "work_unit": unit,
                "topics": topics.split(","), "bio": f"{name}，{unit}。{honours}。长期扎根一线，"
                                                   f"结合亲身经历讲授{topics.replace(',', '、')}等内容。"}
            if i == 0 and lecturer_account is not None:
                values["user_id"] = lecturer_account.id
            lr = await roster.save_lecturer(db, actor=actor, lecturer_id=None, ip=None, values=values)
            await roster.set_photo(db, actor=actor, lecturer_id=lr.id or 0, key=key, ip=None)
        made.append(lr)
    series_ids = []
    for i, (title, description, featured) in enumerate(SERIES):
        cover = await store_image(runtime.storage, draw_picture(title, PALETTE[i], (1280, 720)), ImageKind.cover)
        async with transaction(runtime.sessions) as db:
            s = await catalogue.save_series(db, actor=actor, series_id=None, ip=None, values={
                "title": title, "description": description, "sort": i, "featured": featured})
            await catalogue.set_series_cover(db, actor=actor, series_id=s.id or 0, key=cover, ip=None)
        series_ids.append(s.id)
    now = utcnow()
    for i, title in enumerate(TOPICS):
        offline = i % 4 == 3
        form: dict[str, object] = {"title": title, "series_id": str(series_ids[i % 3]), "tags": "思政,劳模精神",
                                   "summary": f"《{title}》——{made[i % 12].name}结合岗位实践，"
                                              "讲述新时代产业工人的奋斗与担当。",
                                   "kind": "offline" if offline else "online"}
        if offline:
            start = (now + timedelta(days=3 + i)).astimezone(lecture_admin.LOCAL_TZ).replace(hour=14, minute=0)
            form.update(venue_type=["workshop", "park", "campus", "other"][i % 4], address="市职工服务中心三楼报告厅",
                        starts_at=start.isoformat(), ends_at=(start + timedelta(hours=2)).isoformat(), capacity="120")
        billed = [made[i % 12].id or 0, made[(i + 5) % 12].id or 0][: 1 + i % 2]
        values, ids, errors = lecture_admin.clean_lecture(form, billed)
        assert not errors, errors
        cover = await store_image(runtime.storage, draw_picture(title, PALETTE[i % 6], (1280, 720)), ImageKind.cover)
        async with transaction(runtime.sessions) as db:
            lecture = await lecture_admin.save_lecture(db, actor=actor, lecture_id=None, values=values,
                                                       lecturer_ids=ids, ip=None)
            lecture.cover_key = cover
            if i % 7 != 6:  # a few stay in draft/review so the workflow has something to show
                await lecture_admin.transition(db, actor=actor, lecture_id=lecture.id or 0, action=Action.publish,
                                               note="", ip=None)
            elif i % 2:
                await lecture_admin.transition(db, actor=actor, lecture_id=lecture.id or 0, action=Action.submit,
                                               note="", ip=None)
