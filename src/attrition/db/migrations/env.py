"""Alembic environment: the URL comes from the caller (``attrition db upgrade``)."""

from __future__ import annotations

from alembic import context

from attrition.db.engine import create_db_engine
from attrition.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "attrition.db.migrate sets sqlalchemy.url"

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_db_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
