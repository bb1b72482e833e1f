"""drift_runs.runner: which process runs a check (host:pid), so a dead one can be closed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:40:00.000000

A drift check killed half-way (SIGKILL, OOM, a lost container) leaves its row "running"
forever; with the runner recorded, the next check on that host closes it as interrupted.
Rows before 0008 have none (closed by age alone).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('drift_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('runner', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('drift_runs', schema=None) as batch_op:
        batch_op.drop_column('runner')
