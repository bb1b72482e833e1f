"""Data versions: a counter per data set, bumped by every write that changes it.

**Why.** The workforce summary is a GROUP BY over a snapshot's employees joined to their
latest scores (150-300 ms at 50,000 employees), and the UI asks for it again on every
rerun. Caching it is safe only if the cache learns of every change, in every API
replica: so each write that changes what the views count bumps ``WORKFORCE`` in its own
transaction (``insert_employees``, ``insert_predictions`` with snapshot scores), and a
reader keys its cache on the version it read *before* computing. Reading a version is
one primary-key lookup.

The bump is the last statement of its transaction, so the row lock it takes is held
only until the commit and two writers cannot deadlock on it.
"""

from __future__ import annotations

import sqlalchemy as sa

from attrition.db.models import data_versions

#: Employees of every snapshot and their latest scores (``db/workforce.py``).
WORKFORCE = "workforce"


def bump(conn: sa.Connection, name: str = WORKFORCE) -> None:
    """Add one to ``name``'s version inside the caller's transaction (the row is created if missing)."""
    table = data_versions
    changed = conn.execute(
        table.update().where(table.c.name == name).values(version=table.c.version + 1)
    ).rowcount
    if not changed:
        conn.execute(table.insert().values(name=name, version=1))


def read(engine: sa.Engine, name: str = WORKFORCE) -> int:
    """The current version of ``name`` (0 before its first bump)."""
    query = sa.select(data_versions.c.version).where(data_versions.c.name == name)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)
