"""clinical: roles, invitations, consents, the access log, programmes, proposals, programme sessions,
self-reports (issue 16; the models are promptloop.service.clinical.models)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_USERS = "users.id"


def _id(name: str = "id") -> sa.Column:
    return sa.Column(name, sa.String(length=32), nullable=False)


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        _when("updated"),
        sa.ForeignKeyConstraint(["user_id"], [_USERS], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "invitations",
        _id(),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        _when("created"),
        _when("expires"),
        sa.Column("used_by", sa.Integer(), nullable=True),
        _when("used_at", nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["therapist_id"], [_USERS], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["used_by"], [_USERS], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index(op.f("ix_invitations_therapist_id"), "invitations", ["therapist_id"])
    op.create_table(
        "consents",
        _id(),
        sa.Column("listener_id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _when("created"),
        _when("updated"),
        _when("revoked", nullable=True),
        sa.ForeignKeyConstraint(["listener_id"], [_USERS], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["therapist_id"], [_USERS], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_consents_listener_id"), "consents", ["listener_id"])
    op.create_index(op.f("ix_consents_therapist_id"), "consents", ["therapist_id"])
    op.create_table(
        "clinical_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),  # plain numbers: records outlive accounts
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        _when("created"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_clinical_access_subject_id"), "clinical_access", ["subject_id"])
    op.create_table(
        "programmes",
        _id(),
        sa.Column("listener_id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        _when("created"),
        _when("updated"),
        sa.ForeignKeyConstraint(["listener_id"], [_USERS], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["therapist_id"], [_USERS], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_programmes_listener_id"), "programmes", ["listener_id"])
    op.create_index(op.f("ix_programmes_therapist_id"), "programmes", ["therapist_id"])
    op.create_table(
        "proposals",
        _id(),
        sa.Column("programme_id", sa.String(length=32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        _when("created"),
        _when("decided", nullable=True),
        sa.ForeignKeyConstraint(["programme_id"], ["programmes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_proposals_programme_id"), "proposals", ["programme_id"])
    op.create_table(
        "programme_sessions",
        _id("session_id"),
        sa.Column("programme_id", sa.String(length=32), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("locks", sa.JSON(), nullable=False),
        sa.Column("plans", sa.JSON(), nullable=False),
        _when("created"),
        sa.ForeignKeyConstraint(["programme_id"], ["programmes.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index(op.f("ix_programme_sessions_programme_id"), "programme_sessions", ["programme_id"])
    op.create_table(
        "self_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        _when("created"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], [_USERS], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "phase"),
    )
    op.create_index(op.f("ix_self_reports_session_id"), "self_reports", ["session_id"])
    op.create_index(op.f("ix_self_reports_user_id"), "self_reports", ["user_id"])


def downgrade() -> None:
    for table in ("self_reports", "programme_sessions", "proposals", "programmes", "clinical_access", "consents",
                  "invitations", "roles"):
        op.drop_table(table)
