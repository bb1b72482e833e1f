"""data_versions: a counter per data set, so the API can cache views of it exactly

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 19:10:00.000000

Every write that changes the employees or their latest scores bumps the ``workforce``
row in its transaction; the API's workforce summary cache keys on it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    versions = op.create_table('data_versions',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    assert versions is not None
    op.bulk_insert(versions, [{'name': 'workforce', 'version': 1}])


def downgrade() -> None:
    op.drop_table('data_versions')
