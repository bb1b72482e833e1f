"""predictions.inputs packed: a snapshot score keeps its key, API and CSV records one compact array

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00.000000

``inputs`` was a JSON object per prediction, a second copy of the employees row for every
snapshot score. It becomes text holding the record as a JSON array in contract order
(``models.pack_inputs``), or NULL when the record is the ``employees`` row of the
prediction's (employee_number, snapshot_date): an old row whose inputs equal that stored
row exactly becomes NULL, every other row is packed. The downgrade writes every row's
object back (a NULL one from its employees row, ``{}`` when that row is gone).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from attrition.db.models import pack_inputs, unpack_inputs
from attrition.schema import ID_COLUMN, RECORD_COLUMNS, SNAPSHOT_DATE

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 2000


def _predictions(inputs: sa.types.TypeEngine[Any], *extra: str) -> sa.TableClause:
    return sa.table(
        'predictions', sa.column('id', sa.BigInteger), sa.column('employee_number', sa.BigInteger),
        sa.column('snapshot_date', sa.Date), sa.column('inputs', inputs),
        *(sa.column(name, sa.Text) for name in extra),
    )


def _employees() -> sa.TableClause:
    return sa.table('employees', sa.column(SNAPSHOT_DATE, sa.Date), *(sa.column(c) for c in RECORD_COLUMNS))


def _pages(conn: sa.Connection, table: sa.TableClause, *columns: str) -> Any:
    """(id, employee_number, snapshot_date, *columns) rows, keyset-paged on id."""
    last = -1
    while True:
        query = (
            sa.select(table.c.id, table.c.employee_number, table.c.snapshot_date, *(table.c[c] for c in columns))
            .where(table.c.id > last).order_by(table.c.id).limit(_PAGE)
        )
        rows = conn.execute(query).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _stored_records(conn: sa.Connection, rows: Sequence[Any]) -> dict[tuple[Any, Any], dict[str, Any]]:
    """The employees rows (RECORD_COLUMNS) of the (employee_number, snapshot_date) keys in ``rows``."""
    e = _employees()
    found: dict[tuple[Any, Any], dict[str, Any]] = {}
    by_day: dict[Any, set[int]] = {}
    for row in rows:
        if row.employee_number is not None and row.snapshot_date is not None:
            by_day.setdefault(row.snapshot_date, set()).add(int(row.employee_number))
    for day, numbers in by_day.items():
        query = sa.select(*(e.c[c] for c in RECORD_COLUMNS)).where(
            e.c[SNAPSHOT_DATE] == day, e.c[ID_COLUMN].in_(sorted(numbers))
        )
        for record in conn.execute(query):
            values = dict(record._mapping)
            found[(int(values[ID_COLUMN]), day)] = values
    return found


def upgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inputs_packed', sa.UnicodeText(), nullable=True))
    conn = op.get_bind()
    table = _predictions(sa.JSON(), 'inputs_packed')
    update = table.update().where(table.c.id == sa.bindparam('key')).values(inputs_packed=sa.bindparam('packed'))
    for rows in _pages(conn, table, 'inputs'):
        stored = _stored_records(conn, rows)
        params = []
        for row in rows:
            same = stored.get((row.employee_number, row.snapshot_date)) == row.inputs
            params.append({'key': row.id, 'packed': None if same else pack_inputs(row.inputs or {})})
        conn.execute(update, params)
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('inputs')
        batch_op.alter_column('inputs_packed', new_column_name='inputs', existing_type=sa.UnicodeText(), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inputs_json', sa.JSON(), nullable=True))
    conn = op.get_bind()
    table = _predictions(sa.Text(), 'inputs_json')
    json_column = sa.table('predictions', sa.column('id', sa.BigInteger), sa.column('inputs_json', sa.JSON))
    update = json_column.update().where(json_column.c.id == sa.bindparam('key')).values(
        inputs_json=sa.bindparam('record')
    )
    for rows in _pages(conn, table, 'inputs'):
        stored = _stored_records(conn, rows)
        params = [
            {
                'key': row.id,
                'record': unpack_inputs(row.inputs) if row.inputs is not None
                else stored.get((row.employee_number, row.snapshot_date), {}),
            }
            for row in rows
        ]
        conn.execute(update, params)
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('inputs')
        batch_op.alter_column('inputs_json', new_column_name='inputs', existing_type=sa.JSON(), nullable=False)
