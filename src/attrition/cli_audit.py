"""``attrition audit``: read the audit log (who did what, when, how it ended) from the command line.

Registered in ``cli.py`` as a top-level command. The same events as ``GET /v1/admin/audit``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer

from attrition.audit import AuditOutcome
from attrition.config import get_settings

_COLUMNS = ("at", "actor", "action", "subject", "outcome")


def audit_cmd(
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. promote, model.train.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor, e.g. cli:ana or user:ana.")] = None,
    outcome: Annotated[AuditOutcome | None, typer.Option(help="Only events that ended so.")] = None,
    since: Annotated[
        dt.datetime | None,
        typer.Option(
            help="Only events at or after this UTC time.", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many, newest first.")] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line, with the detail.")
    ] = False,
) -> None:
    """List audit events, newest first: alias moves, training, keys, users, feedback, purges, exports."""
    import sqlalchemy as sa

    from attrition.db.engine import get_engine
    from attrition.db.repositories import AuditFilter, list_audit
    from attrition.errors import short_error

    where = AuditFilter(action=action, actor=actor, outcome=outcome, since=since, limit=limit)
    try:
        events = list_audit(get_engine(get_settings().db_url), where=where)
    except sa.exc.SQLAlchemyError as exc:
        typer.echo(f"error: could not read the audit log: {short_error(exc)}", err=True)
        raise typer.Exit(1) from None
    for line in (_json_line(e) for e in events) if as_json else _table(events):
        typer.echo(line)


def _json_line(event: dict[str, Any]) -> str:
    shown = {key: event[key] for key in (*_COLUMNS, "detail")}
    shown["at"] = event["at"].isoformat(timespec="seconds") + "Z"
    return json.dumps(shown, default=str, sort_keys=False)


def _table(events: list[dict[str, Any]]) -> list[str]:
    """Aligned columns; "no audit events" rather than an empty screen."""
    if not events:
        return ["no audit events match"]
    rows = [
        [e["at"].isoformat(sep=" ", timespec="seconds"), *(str(e[c]) for c in _COLUMNS[1:])] for e in events
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines
