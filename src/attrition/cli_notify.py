"""The ``attrition notify`` commands: tell GitHub about a drift run or a retraining (the workflows' step).

``attrition notify github drift`` reads the latest drift reports and opens or comments the
drift issue (``attrition.notify.issues`` has the rules); ``attrition notify github error``
reports a failed workflow step on the error issue; ``attrition notify github retrain``
comments the promotion gate's decision; ``attrition notify retrain-summary`` prints that
Markdown (for ``$GITHUB_STEP_SUMMARY``). GitHub from ``GITHUB_API_URL``, ``GITHUB_REPOSITORY``
and ``GITHUB_TOKEN`` (as Actions sets them); ``--dry-run`` prints every write instead of sending it.
The notify modules (httpx: the ``drift`` extra) load on first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from attrition.config import SEVERITIES, get_settings

if TYPE_CHECKING:
    from attrition.notify.github import GitHubClient
    from attrition.notify.issues import NotifyOutcome
    from attrition.notify.report import RetrainReport

notify_app = typer.Typer(help="Tell people about drift and retraining (GitHub issues).", no_args_is_help=True)
github_app = typer.Typer(
    help="GitHub issues: GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL from the environment.",
    no_args_is_help=True,
)
notify_app.add_typer(github_app, name="github")

_DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the writes (method, URL, title, labels, body); send none.")
]
_Label = Annotated[str, typer.Option("--label", help="Label of the drift issue (one open issue per label).")]
_ErrorLabel = Annotated[
    str, typer.Option("--error-label", help="Label of the issue for a check that failed.")
]
_TrainOutput = Annotated[
    Path,
    typer.Option(
        "--output", exists=True, dir_okay=False, help="Captured output of `attrition train --promote`."
    ),
]
_TrainExit = Annotated[int, typer.Option("--exit-code", help="Exit status of `attrition train --promote`.")]


@github_app.command("drift")
def github_drift(
    exit_code: Annotated[
        int | None,
        typer.Option("--exit-code", help="Exit status of `attrition drift run`, checked against its report."),
    ] = None,
    reports_dir: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="Where the drift run wrote its reports (default: reports_dir)."),
    ] = None,
    threshold: Annotated[
        str | None,
        typer.Option(
            help="Open/comment at or above this severity (default: monitoring.fail_on; empty = default)."
        ),
    ] = None,
    label: _Label = "drift",
    error_label: _ErrorLabel = "drift-check-error",
    dry_run: _DryRun = False,
) -> None:
    """Open the drift issue, or comment on the open one, when the latest run's severity reaches --threshold.

    Below it, or too few rows for a verdict: nothing is written. A failed check (exit 2, or a
    missing/stale report) never opens a drift issue: it opens or comments the --error-label issue.
    Exit 0: done (or nothing to do); 1: GitHub refused or is not configured; 2: the drift check
    failed (reported on GitHub).
    """
    from attrition.notify import issues, report

    settings = get_settings()
    level = _threshold(threshold) or settings.monitoring.fail_on
    try:
        drift = report.load_drift_report(reports_dir or Path(settings.reports_dir), exit_code)
    except report.ReportError as exc:
        drift = report.DriftReport.failed(str(exc))
    with _client(dry_run) as client:
        outcome = issues.notify_drift(
            client, drift, threshold=level, labels=(label, error_label), run_url=issues.run_url(os.environ)
        )
    _finish(outcome, dry_run)


@github_app.command("error")
def github_error(
    message: Annotated[str, typer.Option("--message", help="What failed, for the issue (no secrets).")],
    error_label: _ErrorLabel = "drift-check-error",
    dry_run: _DryRun = False,
) -> None:
    """Open the --error-label issue, or comment on the open one, for a workflow step that failed.

    For steps around the check (scoring the snapshot): exit 2 once reported, so the workflow
    fails; 1 when GitHub refused or is not configured.
    """
    from attrition.notify import issues

    with _client(dry_run) as client:
        outcome = issues.notify_failure(
            client, message, label=error_label, run_url=issues.run_url(os.environ)
        )
    _finish(outcome, dry_run)


@github_app.command("retrain")
def github_retrain(
    output: _TrainOutput,
    exit_code: _TrainExit,
    issue: Annotated[
        int | None, typer.Option(min=1, help="Comment on this issue or PR (default: the open --label issue).")
    ] = None,
    label: _Label = "drift",
    dry_run: _DryRun = False,
) -> None:
    """Comment the promotion gate's decision (from `attrition train --promote`'s output) on the drift issue.

    Exit 0: commented (promoted or refused by the gate); 1: GitHub refused, is not configured, or
    no open issue; 2: the retraining itself failed (reported on GitHub).
    """
    from attrition.notify import issues

    retrain = _retrain(output, exit_code)
    with _client(dry_run) as client:
        outcome = issues.notify_retrain(
            client, retrain, label=label, issue=issue, run_url=issues.run_url(os.environ)
        )
    _finish(outcome, dry_run)


@notify_app.command("retrain-summary")
def retrain_summary(output: _TrainOutput, exit_code: _TrainExit) -> None:
    """Print the gate's decision as Markdown (what `notify github retrain` posts), e.g. for $GITHUB_STEP_SUMMARY.

    Exit 0: promoted or refused by the gate; 2: the retraining failed (after printing).
    """
    from attrition.notify.issues import EXIT_CHECK_FAILED, retrain_markdown

    retrain = _retrain(output, exit_code)
    typer.echo(retrain_markdown(retrain), nl=False)
    if retrain.verdict == "FAILED":
        typer.echo(f"error: the retraining failed (exit {exit_code})", err=True)
        raise typer.Exit(EXIT_CHECK_FAILED)


def _retrain(output: Path, exit_code: int) -> RetrainReport:
    from attrition.notify.report import parse_retrain

    return parse_retrain(output.read_text(encoding="utf-8", errors="replace"), exit_code)


def _threshold(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if value not in SEVERITIES:
        raise typer.BadParameter(
            f"expected one of {', '.join(SEVERITIES)}, got {value!r}", param_hint="--threshold"
        )
    return value


def _client(dry_run: bool) -> GitHubClient:
    from attrition.notify.github import GitHubClient, GitHubError, GitHubTarget

    try:
        return GitHubClient(GitHubTarget.from_env(os.environ), dry_run=dry_run)
    except GitHubError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _finish(outcome: NotifyOutcome, dry_run: bool) -> None:
    """The writes (dry run: the planned ones, in full), the result, the error on stderr and the exit code."""
    for request in outcome.planned if dry_run else []:
        typer.echo(f"dry run: would {request.method} {request.url}")
        for key in ("title", "labels"):
            if key in request.body:
                typer.echo(f"{key}: {request.body[key]}")
        typer.echo(f"body:\n{request.body['body']}")
    if outcome.message:
        typer.echo(outcome.message)
    if outcome.error:
        typer.echo(f"error: {outcome.error}", err=True)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)
