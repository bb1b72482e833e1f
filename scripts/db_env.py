"""Print ``export`` lines for the test database servers that answer.

``make test`` evals the output, so the repository tests also run against
PostgreSQL and MariaDB-over-pyodbc whenever those servers are reachable.
With ``ATTRITION_REQUIRE_SERVERS=1`` (set by ``.ci/run``) an unreachable
server is an error instead of a skip.
"""

from __future__ import annotations

import os
import sys

import sqlalchemy as sa

DEFAULTS = {
    "ATTRITION_TEST_POSTGRES_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test?connect_timeout=3",
    "ATTRITION_TEST_MARIADB_URL": (
        "mysql+pyodbc://root:@127.0.0.1:3306/test?driver=MariaDB+Unicode&charset=utf8mb4"
    ),
}


def reachable(url: str) -> str | None:
    """None when a connection works, else the reason."""
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver error means "not usable here"
        return str(exc).splitlines()[0][:300]
    return None


def main() -> int:
    required = os.environ.get("ATTRITION_REQUIRE_SERVERS") == "1"
    failed = False
    for var, default in DEFAULTS.items():
        url = os.environ.get(var) or default
        reason = reachable(url)
        if reason is None:
            print(f"export {var}='{url}'")
        else:
            failed = True
            print(f"echo 'skipping {var}: {reason}' >&2")
    return 1 if (failed and required) else 0


if __name__ == "__main__":
    sys.exit(main())
