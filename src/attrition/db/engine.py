"""Engine and session factory for the app database (any SQLAlchemy URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def create_db_engine(url: str) -> sa.Engine:
    """An engine for ``url``; a SQLite file's folder is created first."""
    parsed = make_url(url)
    kwargs: dict[str, object] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    return sa.create_engine(url, **kwargs)


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> sa.Engine:
    """One engine per URL per process (default: the settings' database)."""
    if url is None:
        from attrition.config import get_settings

        url = get_settings().db_url
    return create_db_engine(url)


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
