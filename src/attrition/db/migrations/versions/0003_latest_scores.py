"""latest_scores: each employee's latest score per snapshot, backfilled from predictions

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 08:00:00.000000

The workforce views join this table instead of ranking the prediction log on every
request. The backfill uses the views' definition of "latest" (newest created_at, then
id, among predictions with an employee number and a snapshot date); the tables are
described here as they are at this revision, not imported from the models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COPIED = {
    'snapshot_date': 'snapshot_date',
    'employee_number': 'employee_number',
    'prediction_id': 'prediction_id',
    'probability': 'probability',
    'risk_band': 'risk_band',
    'label': 'label',
    'model_version': 'model_version',
    'scored_at': 'created_at',
    'top_factors': 'top_factors',
}


def upgrade() -> None:
    latest = op.create_table('latest_scores',
    sa.Column('snapshot_date', sa.Date(), nullable=False),
    sa.Column('employee_number', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('prediction_id', sa.String(length=36), nullable=False),
    sa.Column('probability', sa.Double(), nullable=False),
    sa.Column('risk_band', sa.String(length=16), nullable=False),
    sa.Column('label', sa.Boolean(), nullable=False),
    sa.Column('model_version', sa.String(length=32), nullable=False),
    sa.Column('scored_at', sa.DateTime(), nullable=False),
    sa.Column('top_factors', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('snapshot_date', 'employee_number')
    )
    assert latest is not None
    predictions = sa.table(
        'predictions',
        sa.column('id', sa.BigInteger()),
        *(sa.column(name) for name in set(_COPIED.values())),
    )
    p = predictions.c
    rank = sa.func.row_number().over(
        partition_by=(p.employee_number, p.snapshot_date), order_by=(p.created_at.desc(), p.id.desc())
    )
    ranked = (
        sa.select(*(p[source].label(name) for name, source in _COPIED.items()), rank.label('rank'))
        .where(p.employee_number.is_not(None), p.snapshot_date.is_not(None))
        .subquery('ranked')
    )
    newest = sa.select(*(ranked.c[name] for name in _COPIED)).where(ranked.c.rank == 1)
    op.execute(latest.insert().from_select(list(_COPIED), newest))


def downgrade() -> None:
    op.drop_table('latest_scores')
