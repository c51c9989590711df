"""Catalogue building blocks for tests, made through the real services."""

from __future__ import annotations

from typing import Any

from server.db import transaction
from server.models.catalogue import Lecture, Lecturer
from server.models.people import User
from server.permissions import Actor
from server.runtime import Runtime
from server.services import lecture_admin, roster
from server.workflow import Action


def actor_of(user: User) -> Actor:
    return Actor(user.id or 0, frozenset(user.roles), None)


async def make_lecturer(runtime: Runtime, admin: User, name: str, *, category: str = "model_worker",
                        user: User | None = None, **extra: Any) -> Lecturer:
    values, errors = roster.clean_lecturer({"name": name, "category": category, **extra}, allow_link=True)
    assert not errors, errors
    values["user_id"] = user.id if user else None
    async with transaction(runtime.sessions) as db:
        return await roster.save_lecturer(db, actor=actor_of(admin), lecturer_id=None, values=values, ip=None)


async def make_lecture(runtime: Runtime, author: User, title: str, *, lecturers: list[Lecturer] = (),
                       publish_by: User | None = None, **fields: Any) -> Lecture:
    values, ids, errors = lecture_admin.clean_lecture({"title": title, **fields}, [lr.id for lr in lecturers])
    assert not errors, errors
    async with transaction(runtime.sessions) as db:
        lecture = await lecture_admin.save_lecture(db, actor=actor_of(author), lecture_id=None, values=values,
                                                   lecturer_ids=ids, ip=None)
    if publish_by is not None:
        async with transaction(runtime.sessions) as db:
            lecture = await lecture_admin.transition(db, actor=actor_of(publish_by), lecture_id=lecture.id or 0,
                                                     action=Action.publish, note="", ip=None)
    return lecture
