"""Schema migrations (Alembic), run from code so no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: Alembic's name for "before the first migration" (no tables).
BASE = "base"


class MigrationError(Exception):
    """A revision that cannot be reached; the message names it and the known ones."""


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the package's migrations and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` back to ``revision``."""
    command.downgrade(alembic_config(url), revision)


def migrate(url: str, revision: str = "head") -> str | None:
    """Upgrade or downgrade the database at ``url`` to ``revision`` (head, base or a revision id).

    Downgrades when ``revision`` is older than the database's, upgrades otherwise. Returns
    the revision the database is at afterwards (None: base, no tables); MigrationError for
    a revision the migrations do not know.
    """
    config = alembic_config(url)
    script = ScriptDirectory.from_config(config)
    target = _resolve(script, revision)
    at = current(url)
    if at is not None and target != at and target in _lineage(script, at):
        command.downgrade(config, target or BASE)
    else:
        command.upgrade(config, target or BASE)
    return current(url)


def _resolve(script: ScriptDirectory, revision: str) -> str | None:
    """The revision id ``revision`` names (None for base)."""
    name = revision.strip()
    if name == BASE:
        return None
    try:
        found = script.get_revision(name) if name else None
    except CommandError:
        found = None
    if found is None:
        known = ", ".join(s.revision for s in script.walk_revisions())
        raise MigrationError(f"unknown revision {revision!r}: expected head, {BASE} or one of {known}")
    return str(found.revision)


def _lineage(script: ScriptDirectory, revision: str) -> set[str | None]:
    """``revision`` and every revision below it, base (None) included."""
    try:
        below = {str(s.revision) for s in script.iterate_revisions(revision, BASE)}
    except (CommandError, RevisionError) as exc:
        raise MigrationError(
            f"the database is at revision {revision!r}, which these migrations do not know "
            "(is it from a newer version of attrition?)"
        ) from exc
    return {None, *below}


def current(url: str) -> str | None:
    """The revision the database is at (``None`` when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    from attrition.db.engine import create_db_engine

    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
