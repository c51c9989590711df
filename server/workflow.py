"""The lecture workflow (先审后发) as data: which action moves which status where, and who may take it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.models.catalogue import LectureStatus as S


class Action(StrEnum):
    submit = "submit"        # author asks for review
    withdraw = "withdraw"    # author takes it back to edit
    reject = "reject"        # admin sends it back with a note
    publish = "publish"      # admin approves (only admins publish)
    unpublish = "unpublish"  # admin takes it offline to be edited
    archive = "archive"
    restore = "restore"


@dataclass(frozen=True)
class Step:
    source: frozenset[S]
    target: S
    admin_only: bool
    label: str
    needs_note: bool = False


STEPS: dict[Action, Step] = {
    Action.submit: Step(frozenset({S.draft}), S.review, False, "提交审核"),
    Action.withdraw: Step(frozenset({S.review}), S.draft, False, "撤回修改"),
    Action.reject: Step(frozenset({S.review}), S.draft, True, "退回修改", needs_note=True),
    Action.publish: Step(frozenset({S.draft, S.review, S.archived}), S.published, True, "审核通过并发布"),
    Action.unpublish: Step(frozenset({S.published}), S.draft, True, "下线修改"),
    Action.archive: Step(frozenset({S.published, S.draft}), S.archived, True, "归档"),
    Action.restore: Step(frozenset({S.archived}), S.draft, True, "恢复为草稿"),
}


def decide(action: Action, status: S, *, is_admin: bool, is_author: bool) -> S | str:
    """The new status, or a Chinese reason why the action is refused (a plain str, never a status)."""
    step = STEPS[action]
    if step.admin_only and not is_admin:
        return "只有管理员可以执行此操作"
    if not step.admin_only and not (is_admin or is_author):
        return "只有讲座作者或管理员可以执行此操作"
    if status not in step.source:
        return f"当前状态下不能{step.label}"
    return step.target


def available(status: S, *, is_admin: bool, is_author: bool) -> list[Action]:
    """Actions to offer as buttons for a lecture in ``status``."""
    return [a for a in STEPS if isinstance(decide(a, status, is_admin=is_admin, is_author=is_author), S)]
