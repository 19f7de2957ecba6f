"""The clinical tables: roles, invitations, consents, the access log, programmes, proposals, the
sessions a programme started, and self-reports.

They share :class:`promptloop.service.store.Base`, so the store's ``create_all`` and its migrations
see them.  Anything a therapist wrote about a client (programmes) and anything a listener reported
(self-reports) is sealed with the service's Fernet vault, like readings.  Ids that reach the API are
unguessable (``new_id``); user ids in the access log are plain numbers so that a record outlives the
account that made it.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promptloop.service.store import Base, now

__all__ = [
    "AccessRecord",
    "ConsentRow",
    "InvitationRow",
    "ProgrammeRow",
    "ProgrammeSessionRow",
    "ProposalRow",
    "RoleRow",
    "SelfReportRow",
    "TABLES",
]


class RoleRow(Base):
    """A user's role; a user without a row is a listener."""

    __tablename__ = "roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # listener | therapist | admin
    updated: Mapped[_dt.datetime] = mapped_column(default=now)


class InvitationRow(Base):
    """A therapist's invitation; only the SHA-256 digest of its code is stored."""

    __tablename__ = "invitations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[_dt.datetime] = mapped_column(default=now)
    expires: Mapped[_dt.datetime] = mapped_column()
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    used_at: Mapped[_dt.datetime | None] = mapped_column(default=None)
    revoked: Mapped[bool] = mapped_column(default=False)


class ConsentRow(Base):
    """A listener's grant to one therapist; its id is the therapist's ``client_id``."""

    __tablename__ = "consents"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    listener_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[list[Any]] = mapped_column()
    created: Mapped[_dt.datetime] = mapped_column(default=now)
    updated: Mapped[_dt.datetime] = mapped_column(default=now)
    revoked: Mapped[_dt.datetime | None] = mapped_column(default=None)


class AccessRecord(Base):
    """One read or change of a listener's data by someone else (never the data itself)."""

    __tablename__ = "clinical_access"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(Integer, index=True)  # the listener
    actor_id: Mapped[int] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64), default="")
    scope: Mapped[str] = mapped_column(String(64), default="")  # one scope, or a grant's scopes joined by ","
    created: Mapped[_dt.datetime] = mapped_column(default=now)


class ProgrammeRow(Base):
    """A series of session specs a therapist wrote for one client (the body is sealed)."""

    __tablename__ = "programmes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    listener_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    therapist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # {"title", "steps", "questionnaires", "notes"}
    created: Mapped[_dt.datetime] = mapped_column(default=now)
    updated: Mapped[_dt.datetime] = mapped_column(default=now)


class ProposalRow(Base):
    """The planned path and first prompts of one programme step, and the therapist's decision."""

    __tablename__ = "proposals"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    programme_id: Mapped[str] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|approved|edited|rejected
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # {"waypoints", "plans", "note"}
    created: Mapped[_dt.datetime] = mapped_column(default=now)
    decided: Mapped[_dt.datetime | None] = mapped_column(default=None)


class ProgrammeSessionRow(Base):
    """A session started from a programme step: the locks it carries and the approved plans."""

    __tablename__ = "programme_sessions"
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    programme_id: Mapped[str | None] = mapped_column(ForeignKey("programmes.id", ondelete="SET NULL"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    locks: Mapped[dict[str, Any]] = mapped_column()
    plans: Mapped[dict[str, Any]] = mapped_column()  # {"<segment index>": MusicPlan as JSON}
    created: Mapped[_dt.datetime] = mapped_column(default=now)


class SelfReportRow(Base):
    """A listener's self-report before or after a session (sealed)."""

    __tablename__ = "self_reports"
    __table_args__ = (UniqueConstraint("session_id", "phase"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(String(8))  # pre | post
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[_dt.datetime] = mapped_column(default=now)


TABLES: list[Table] = [Base.metadata.tables[m.__tablename__] for m in (
    RoleRow, InvitationRow, ConsentRow, AccessRecord, ProgrammeRow, ProposalRow, ProgrammeSessionRow, SelfReportRow)]
