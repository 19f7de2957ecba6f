"""Accounts and bearer tokens.

A token is 32 random bytes (``pl_`` + URL-safe base64) shown once; only its SHA-256 digest is
stored.  A slow password hash is not needed: the token has 256 bits of entropy, so the digest cannot
be reversed by guessing, and lookups stay a single indexed query.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import secrets

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from promptloop.errors import Conflict, InputError, Unauthorized
from promptloop.service.store import TokenRow, User, now

__all__ = ["authenticate", "create_user", "digest", "issue_token", "revoke_tokens"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TOKEN_PREFIX = "pl_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(db: Session, user: User, ttl: _dt.timedelta | None = None) -> str:
    """A new token for ``user``, valid until revoked or, with ``ttl``, until it expires."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(TokenRow(user_id=user.id, digest=digest(token), expires=now() + ttl if ttl is not None else None))
    return token


def create_user(db: Session, name: str) -> tuple[User, str]:
    """Add a user and return it with a fresh token (the only time the token is visible)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError("user names are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if db.scalar(select(User).where(User.name == name)) is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(name=name)
    db.add(user)
    db.flush()
    token = issue_token(db, user)
    db.commit()
    return user, token


# Every request runs this: one indexed query, built once (SQLAlchemy then skips building the
# statement and its cache key on each call).
_TOKEN_USER = (select(User, TokenRow.expires).join(TokenRow, TokenRow.user_id == User.id)
               .where(TokenRow.digest == bindparam("digest"), TokenRow.revoked.is_(False)))


def authenticate(db: Session, token: str | None) -> User:
    """The user owning ``token``; unknown or revoked tokens are :class:`Unauthorized`."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise Unauthorized("a valid bearer token is required")
    found = db.execute(_TOKEN_USER, {"digest": digest(token)}).first()
    if found is None or (found.expires is not None and found.expires <= now()):
        raise Unauthorized("a valid bearer token is required")
    return found[0]


def revoke_tokens(db: Session, user: User) -> int:
    rows = db.scalars(select(TokenRow).where(TokenRow.user_id == user.id)).all()
    for row in rows:
        row.revoked = True
    return len(rows)
