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

from sqlalchemy import select
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


def authenticate(db: Session, token: str | None) -> User:
    """The user owning ``token``; unknown or revoked tokens are :class:`Unauthorized`."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise Unauthorized("a valid bearer token is required")
    row = db.scalar(select(TokenRow).where(TokenRow.digest == digest(token)))
    if row is None or row.revoked or (row.expires is not None and row.expires <= now()):
        raise Unauthorized("a valid bearer token is required")
    user = db.get(User, row.user_id)
    if user is None:
        raise Unauthorized("a valid bearer token is required")
    return user


def revoke_tokens(db: Session, user: User) -> int:
    rows = db.scalars(select(TokenRow).where(TokenRow.user_id == user.id)).all()
    for row in rows:
        row.revoked = True
    return len(rows)
