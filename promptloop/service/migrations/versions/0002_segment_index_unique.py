"""segments: one row per (session, index)

A session's segment numbers were unique only by the service's own locking; the database now says so
too, so a bug or a second process can never record two segments with one index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("uq_segments_session_index", "segments", ["session_id", "index"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_segments_session_index", table_name="segments")
