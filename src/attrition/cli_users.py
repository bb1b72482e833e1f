"""The ``attrition keys`` and ``attrition users`` commands: who may call the API.

Keys are for programs (shown once at creation); users are people who sign in at
``POST /v1/auth/token``. A password never goes on the command line (where shell
history and ``ps`` would keep it): it is asked twice at a hidden prompt, read
from stdin with ``--password-stdin`` (one line, for scripts), or generated with
``--generate`` and printed once, alone on the last line.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from attrition import jobs
from attrition.config import get_settings
from attrition.jobs.base import Outcome

keys_app = typer.Typer(
    help="API keys of the prediction API (stored hashed, shown once).", no_args_is_help=True
)
users_app = typer.Typer(
    help="People who sign in to the API (POST /v1/auth/token); passwords stored as argon2 hashes.",
    no_args_is_help=True,
)

_Name = Annotated[str, typer.Option(help="The user's sign-in name.")]
_Stdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from one line of stdin (for scripts).")
]
_Generate = Annotated[
    bool,
    typer.Option("--generate", help="Generate a random password and print it once, alone on the last line."),
]


def _finish(outcome: Outcome) -> None:
    if outcome.error:
        typer.echo(f"error: {outcome.error}", err=True)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def cli_actor() -> str:
    """The audit actor of a CLI command: ``cli:$USER``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _password(stdin: bool, generate: bool) -> str:
    """The new password: generated, one line of stdin, or a hidden prompt asked twice."""
    if stdin and generate:
        raise typer.BadParameter(
            "give either --password-stdin or --generate, not both", param_hint="--generate"
        )
    if generate:
        return jobs.users.generate_password()
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key (unique).")],
    role: Annotated[str, typer.Option(help="viewer, predictor or admin.")],
) -> None:
    """Create a key; the key itself is printed once, alone on the last line."""
    outcome = jobs.keys.create(get_settings(), name, role, actor=cli_actor())
    _finish(outcome)
    typer.echo(f"created API key {name!r} with role {role}; store it now, it is not shown again:")
    typer.echo(outcome.key)


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Option(help="Name of the key to revoke.")]) -> None:
    """Revoke a key (running APIs stop accepting it within serving.api_key_cache_seconds)."""
    outcome = jobs.keys.revoke(get_settings(), name, actor=cli_actor())
    _finish(outcome)
    if outcome.info is not None:
        typer.echo(f"revoked API key {outcome.info.name!r} (prefix {outcome.info.prefix})")


@keys_app.command("list")
def keys_list() -> None:
    """Every key: name, role, prefix, created, status (never the key)."""
    for line in jobs.keys.table_lines(jobs.keys.listing(get_settings())):
        typer.echo(line)


@users_app.command("create")
def users_create(
    name: _Name,
    role: Annotated[str, typer.Option(help="viewer, predictor or admin.")],
    password_stdin: _Stdin = False,
    generate: _Generate = False,
) -> None:
    """Create a user (password: prompt, --password-stdin or --generate). Exit 1 for a bad name, role or password."""
    password = _password(password_stdin, generate)
    _finish(jobs.users.create(get_settings(), name, role, password, actor=cli_actor()))
    typer.echo(f"created user {name!r} with role {role}")
    if generate:
        typer.echo("their password, shown only now:")
        typer.echo(password)


@users_app.command("reset-password")
def users_reset_password(name: _Name, password_stdin: _Stdin = False, generate: _Generate = False) -> None:
    """Set a new password; lifts a lockout and ends the user's tokens. Exit 1 for an unknown user."""
    password = _password(password_stdin, generate)
    _finish(jobs.users.reset(get_settings(), name, password, actor=cli_actor()))
    typer.echo(f"password of user {name!r} reset; their earlier tokens no longer work")
    if generate:
        typer.echo("their new password, shown only now:")
        typer.echo(password)


@users_app.command("disable")
def users_disable(name: _Name) -> None:
    """Disable a user: no sign-in, and running APIs refuse their tokens within serving.api_key_cache_seconds."""
    _finish(jobs.users.disable(get_settings(), name, actor=cli_actor()))
    typer.echo(f"disabled user {name!r}")


@users_app.command("list")
def users_list() -> None:
    """Every user: name, role, created, last sign-in, status (never a password)."""
    for line in jobs.users.table_lines(jobs.users.listing(get_settings())):
        typer.echo(line)
