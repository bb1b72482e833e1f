"""The ``attrition purge``, ``export-employee`` and ``forget-employee`` commands: data protection.

Registered in ``cli.py`` as top-level commands. Each is in the audit log with actor
(``cli:$USER`` unless ``--actor``), time and outcome; the job (``jobs.privacy``) says what
each removes, exports or keeps.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from attrition.cli_users import cli_actor
from attrition.config import get_settings
from attrition.jobs.base import Outcome

_Number = Annotated[int, typer.Argument(min=1, help="The employee's EmployeeNumber.")]
_Actor = Annotated[
    str | None, typer.Option("--actor", help="Who is acting, for the audit trail (default: cli:$USER).")
]


def _finish(outcome: Outcome) -> None:
    if outcome.error:
        typer.echo(f"error: {outcome.error}", err=True)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _days(value: str | None) -> int | None:
    """``--older-than 365d`` (or ``365``) -> 365; None: the retention_days setting."""
    from attrition.jobs.drift import parse_days  # the same syntax as `drift run --window`

    try:
        return None if value is None else parse_days(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--older-than") from exc


def purge_cmd(
    older_than: Annotated[
        str | None,
        typer.Option(
            help="Remove what was stored more than N days ago, e.g. 365d (default: retention_days)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be removed; remove nothing.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows deleted per transaction.")] = 1000,
    actor: _Actor = None,
) -> None:
    """Delete prediction-log rows, outcomes and drift runs (with their reports) past their retention.

    Deleted in short transactions of --batch-size rows, so the API keeps writing meanwhile.
    Exit 1 on a database error (what was removed until then is reported and stays removed).
    """
    from attrition.jobs import privacy

    request = privacy.PurgeRequest(_days(older_than), dry_run, batch_size, actor or cli_actor())
    outcome = privacy.purge(get_settings(), request)
    for line in privacy.purge_lines(outcome):
        typer.echo(line)
    _finish(outcome)


def export_employee_cmd(
    number: _Number,
    out: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write the JSON to this new file (mode 0600) instead of stdout."),
    ] = None,
    actor: _Actor = None,
) -> None:
    """Print everything stored about one employee as JSON: tables, score-job files, reference data.

    Exit 1 when nothing is stored about them (or on an error).
    """
    from attrition.jobs import privacy

    outcome = privacy.export_employee(get_settings(), number, actor or cli_actor())
    _finish(outcome)
    text = privacy.to_json(outcome.data)
    if out is None:
        typer.echo(text)
        return
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        typer.echo(f"error: cannot create {out}: {exc.strerror}", err=True)
        raise typer.Exit(1) from exc
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    typer.echo(f"wrote what is stored about employee {number} to {out}", err=True)


def forget_employee_cmd(
    number: _Number,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    reference: Annotated[
        str | None,
        typer.Option(
            help="The request's reference for the audit log (e.g. a ticket id; no personal data). "
            "Default: a random id, printed."
        ),
    ] = None,
    actor: _Actor = None,
) -> None:
    """Delete everything stored about one employee; audit events naming them are pseudonymised.

    Removes their rows from employees, predictions, latest scores and outcomes, their lines from
    score-job files and reference data, and records the forget in the audit log (with the
    reference and counts, not the number). Exit 1 when nothing is stored about them, a running
    score job holds their row, or on an error (re-running finishes a partial forget).
    """
    from attrition.jobs import privacy

    if not yes and not typer.confirm(f"Delete everything stored about employee {number}?", default=False):
        typer.echo("nothing deleted", err=True)
        raise typer.Exit(1)
    outcome = privacy.forget_employee(get_settings(), number, actor or cli_actor(), reference)
    _finish(outcome)
    for line in privacy.forget_lines(outcome):
        typer.echo(line)
