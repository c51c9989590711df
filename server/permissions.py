"""Who may do what — pure decisions over roles and unit paths, used by routes and services."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.models.people import Role


class Access(StrEnum):
    """The coarse gate every route declares; object-level checks come on top."""

    public = "public"          # anyone, signed in or not (login page, health, static)
    browse = "browse"          # signed-in people; anonymous too when allow_anonymous_browse is on
    signed_in = "signed_in"    # any signed-in person
    lecturer = "lecturer"      # lecturers and admins
    unit_admin = "unit_admin"  # unit admins (scoped) and admins
    admin = "admin"            # admins only


@dataclass(frozen=True)
class Actor:
    """The signed-in person as permission checks see them."""

    user_id: int
    roles: frozenset[str]
    unit_path: str | None  # materialised path of the person's unit, e.g. "/1/4/"

    @property
    def is_admin(self) -> bool:
        return Role.admin in self.roles

    def has(self, role: Role) -> bool:
        return role in self.roles


def passes(access: Access, actor: Actor | None, *, anonymous_browse: bool) -> bool:
    if access is Access.public:
        return True
    if actor is None:
        return access is Access.browse and anonymous_browse
    if access in (Access.browse, Access.signed_in):
        return True
    if actor.is_admin:
        return True
    if access is Access.lecturer:
        return actor.has(Role.lecturer)
    if access is Access.unit_admin:
        return actor.has(Role.unit_admin)
    return False


def manages_unit(actor: Actor, unit_path: str | None) -> bool:
    """Admins manage every unit; a unit admin manages their own unit's subtree."""
    if actor.is_admin:
        return True
    if not actor.has(Role.unit_admin) or not actor.unit_path or not unit_path:
        return False
    return unit_path.startswith(actor.unit_path)


def scope_prefix(actor: Actor) -> str | None:
    """The unit-path prefix an actor's reports and lists are limited to; None means everything."""
    if actor.is_admin:
        return None
    return actor.unit_path or "/nowhere/"


def can_edit_lecture(actor: Actor, *, owner_id: int | None, lecturer_user_ids: set[int]) -> bool:
    if actor.is_admin:
        return True
    return actor.has(Role.lecturer) and (actor.user_id == owner_id or actor.user_id in lecturer_user_ids)


def can_see_unpublished(actor: Actor | None, *, owner_id: int | None, lecturer_user_ids: set[int]) -> bool:
    return actor is not None and can_edit_lecture(actor, owner_id=owner_id, lecturer_user_ids=lecturer_user_ids)
