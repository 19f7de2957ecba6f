"""clinical_access.scope: wide enough for a grant's scopes joined by "," (was 16 characters)

A grant of several scopes records them all ("sessions,physiology,prescribe" is 29 characters).
SQLite never enforced the old width, PostgreSQL refused the insert (the consent answered 500).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clinical_access") as batch:
        batch.alter_column("scope", existing_type=sa.String(length=16), type_=sa.String(length=64),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("clinical_access") as batch:
        batch.alter_column("scope", existing_type=sa.String(length=64), type_=sa.String(length=16),
                           existing_nullable=False)
