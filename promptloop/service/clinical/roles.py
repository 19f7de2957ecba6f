"""Roles: listener (the default), therapist and admin.

A role decides which routes a user may call, never whose data they may see: a therapist reaches a
listener's data only through that listener's consent (:mod:`.consent`), and an admin manages roles
and sees no listener data at all.
"""

from __future__ import annotations

from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from promptloop.errors import Forbidden, InputError, NotFound
from promptloop.service.clinical.models import RoleRow
from promptloop.service.store import User, now

__all__ = ["ROLES", "Role", "require_role", "role_of", "set_role", "set_role_by_name"]

Role = Literal["listener", "therapist", "admin"]
ROLES: tuple[str, ...] = get_args(Role)


def role_of(db: DB, user: User) -> str:
    row = db.get(RoleRow, user.id)
    return row.role if row is not None else "listener"


def set_role(db: DB, user: User, role: str) -> None:
    """Give ``user`` a role (committed by the caller)."""
    if role not in ROLES:
        raise InputError(f"roles are {', '.join(ROLES)}; got {role!r}")
    row = db.get(RoleRow, user.id)
    if row is None:
        db.add(RoleRow(user_id=user.id, role=role))
    else:
        row.role, row.updated = role, now()


def set_role_by_name(db: DB, name: str, role: str) -> User:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user named {name!r}")
    set_role(db, user, role)
    return user


def require_role(db: DB, user: User, *roles: str) -> str:
    """The user's role when it is one of ``roles``; :class:`Forbidden` (403) otherwise."""
    role = role_of(db, user)
    if role not in roles:
        raise Forbidden(f"this needs a {' or '.join(roles)} account")
    return role
