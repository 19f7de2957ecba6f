"""The listener profile kept with the account: read, edited, used as a prior, exported, erased.

The profile is health-adjacent data (triggers, comfortable loudness), so it is stored sealed by the
vault like readings and messages, one row per account, and every read and change is audited.  New
sessions draw on it: :meth:`Profiles.prior` folds its avoided sounds and loudness ceiling into the
session's preferences before the spec is built.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, delete, select
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm import Session as DB

from promptloop.acquisition.affect import Affect
from promptloop.representation.preferences import Preferences
from promptloop.representation.profile import ListenerProfile, ProfileUpdate
from promptloop.service.context import ServiceContext
from promptloop.service.store import Base, User, now

__all__ = ["ProfileRow", "Profiles"]


class ProfileRow(Base):
    __tablename__ = "profiles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted ListenerProfile JSON
    updated: Mapped[_dt.datetime] = mapped_column(default=now)


class Profiles:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def load(self, db: DB, user: User) -> ListenerProfile:
        """The stored profile (an empty one when there is none); not an audited read by a person."""
        row = db.get(ProfileRow, user.id)
        if row is None:
            return ListenerProfile()
        return ListenerProfile.model_validate(self.ctx.vault.open(row.sealed))

    def _store(self, db: DB, user: User, profile: ListenerProfile) -> None:
        sealed = self.ctx.vault.seal(profile.model_dump(mode="json"))
        row = db.get(ProfileRow, user.id)
        if row is None:
            db.add(ProfileRow(user_id=user.id, sealed=sealed, updated=now()))
        else:
            row.sealed, row.updated = sealed, now()

    def get(self, user: User) -> ListenerProfile:
        with self.ctx.db() as db:
            profile = self.load(db, user)
            self.ctx.audit_read(db, user, "profile", str(user.id))
            return profile

    def put(self, user: User, profile: ListenerProfile) -> ListenerProfile:
        """Replace the profile with the listener's edited version."""
        with self.ctx.db() as db:
            self._store(db, user, profile)
            self.ctx.audit(db, user, "update", "profile", str(user.id))
            db.commit()
        return profile

    def learn(self, user: User, update: ProfileUpdate) -> ListenerProfile:
        """Fold what a session learned into the stored profile."""
        with self.ctx.db() as db:
            profile = self.learn_in(db, user, update)
            db.commit()
        return profile

    def learn_in(self, db: DB, user: User, update: ProfileUpdate) -> ListenerProfile:
        """:meth:`learn` inside the caller's transaction (a session's last segment commits with it)."""
        profile = self.load(db, user).learn(update)
        self._store(db, user, profile)
        self.ctx.audit(db, user, "learn", "profile", str(user.id))
        return profile

    def heard_in(self, db: DB, user: User, before: Preferences, after: Preferences) -> None:
        """The listener changed a session's preferences (a chat message, the preference PATCH): what
        they newly avoided joins the profile's rejected sounds; what they newly asked for, or stopped
        avoiding, leaves it."""
        rejected = [t for t in after.avoid if t not in before.avoid]
        wanted = sorted((after.liked - before.liked) | (set(before.avoid) - set(after.avoid)))
        if not rejected and not wanted:
            return
        profile = self.load(db, user)
        changed = profile.heard(rejected, wanted)
        if changed != profile:
            self._store(db, user, changed)
            self.ctx.audit(db, user, "learn", "profile", str(user.id))

    def prior(self, user: User, preferences: Preferences, start: Affect | None = None,
              target: Affect | None = None) -> Preferences:
        """``preferences`` with the account's profile folded in (unchanged without a profile)."""
        with self.ctx.db() as db:
            return self.load(db, user).prior(preferences, start, target)

    def export(self, db: DB, user: User) -> dict[str, Any] | None:
        row = db.get(ProfileRow, user.id)
        return None if row is None else {"updated": row.updated, **self.ctx.vault.open(row.sealed)}

    def erase(self, db: DB, user: User) -> None:
        db.execute(delete(ProfileRow).where(ProfileRow.user_id == user.id))

    def exists(self, db: DB, user: User) -> bool:
        return db.scalar(select(ProfileRow.user_id).where(ProfileRow.user_id == user.id)) is not None
