"""audit_log.outcome: how each audited action ended (ok, refused, failed, not_found)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:30:00.000000

Rows written before 0006 get their outcome from what they already said: a refused
promotion or a failed sign-in is ``refused``; an ``outcome`` in the detail (purge,
export, forget) is mapped to the same words; everything else was a completed action.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSED_ACTIONS = ('promotion_refused', 'user.sign_in_failed')
_FROM_DETAIL = {'failed': 'failed', 'refused': 'refused', 'not_found': 'not_found'}


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), server_default='ok', nullable=False))
        batch_op.create_index(batch_op.f('ix_audit_log_outcome'), ['outcome'], unique=False)
    audit = sa.table(
        'audit_log', sa.column('id', sa.Integer), sa.column('action', sa.String),
        sa.column('outcome', sa.String), sa.column('detail', sa.JSON),
    )
    conn = op.get_bind()
    conn.execute(audit.update().where(audit.c.action.in_(_REFUSED_ACTIONS)).values(outcome='refused'))
    for row in conn.execute(sa.select(audit.c.id, audit.c.detail).where(audit.c.detail.is_not(None))):
        said = (row.detail or {}).get('outcome') if isinstance(row.detail, dict) else None
        if said in _FROM_DETAIL:
            conn.execute(audit.update().where(audit.c.id == row.id).values(outcome=_FROM_DETAIL[said]))


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_outcome'))
        batch_op.drop_column('outcome')
