"""predictions.caller: who asked for each prediction (API key name or user name)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 07:20:00.000000

Nullable: rows logged before 0005, and batch scoring runs, have no caller.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('caller', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('caller')
