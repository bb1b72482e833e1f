"""Bring the app database's schema to a revision: upgrade or downgrade, whichever it takes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import make_url

from attrition.config import Settings
from attrition.db.migrate import BASE, MigrationError, migrate
from attrition.jobs.base import Outcome


@dataclass(kw_only=True)
class MigrationOutcome(Outcome):
    """The database (password hidden) and the revision it is really at; exit 2 for an unknown one."""

    url: str
    revision: str = BASE


def migrate_database(settings: Settings, revision: str = "head") -> MigrationOutcome:
    """Migrate the settings' database to ``revision`` (head, base or a revision id)."""
    url = make_url(settings.db_url).render_as_string(hide_password=True)
    try:
        at = migrate(settings.db_url, revision)
    except MigrationError as exc:
        return MigrationOutcome(exit_code=2, error=str(exc), url=url)
    return MigrationOutcome(url=url, revision=at or BASE)
