"""The rules of the drift issues: who is told what, on GitHub, after a drift run or a retraining.

* severity at or above the threshold: comment on the open issue labelled ``drift``, else open one;
* below it, or too few rows for a verdict: nothing written (a window too small for a verdict
  is neither drift nor a failure; the run's summary says so in the workflow's log and summary);
* the check failed: never a drift issue; the open ``drift-check-error`` issue gets a comment,
  else one is opened, and the outcome exits ``EXIT_CHECK_FAILED`` so the workflow fails;
* a retraining's gate decision: a comment on the open drift issue (or a given one); a
  retraining that failed (not a refused promotion) exits ``EXIT_CHECK_FAILED`` once reported.

Each function returns a ``NotifyOutcome`` and never raises for GitHub's failures: they are
its ``error`` with ``EXIT_NOTIFY_FAILED``, never reported as done.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from attrition.config import at_least
from attrition.jobs.base import Outcome
from attrition.notify.github import GitHubClient, GitHubError, Issue, WriteRequest
from attrition.notify.report import DriftReport, RetrainReport

logger = logging.getLogger(__name__)

EXIT_DONE, EXIT_NOTIFY_FAILED, EXIT_CHECK_FAILED = 0, 1, 2
DRIFT_LABEL, ERROR_LABEL = "drift", "drift-check-error"
#: GitHub refuses bodies over 65,536 characters; the full report is in the run's artifacts.
MAX_BODY = 60_000
TAIL = 20_000


@dataclass(kw_only=True)
class NotifyOutcome(Outcome):
    """What was told where: ``action`` opened | commented | none; the writes made (or, dry run, planned)."""

    action: str = "none"
    message: str = ""
    issue: Issue | None = None
    planned: list[WriteRequest] = field(default_factory=list)


def notify_drift(
    client: GitHubClient,
    report: DriftReport,
    *,
    threshold: str,
    labels: tuple[str, str] = (DRIFT_LABEL, ERROR_LABEL),
    run_url: str | None = None,
) -> NotifyOutcome:
    """Tell GitHub about one drift run (see the module docstring for the rules)."""
    drift_label, error_label = labels
    day = (report.created_at or dt.datetime.now(dt.UTC).isoformat())[:10]
    body = _body(report.markdown, run_url)
    if report.status == "error":
        outcome = _post(client, error_label, f"Attrition drift check failed ({day})", body)
        outcome.message = f"the drift check failed: {report.error}; {outcome.message}"
        if not outcome.exit_code:
            outcome.exit_code, outcome.error = EXIT_CHECK_FAILED, f"the drift check failed: {report.error}"
        return outcome
    if report.severity is None:
        return NotifyOutcome(
            message=f"no drift issue: too few rows for a verdict ({report.message or 'insufficient data'})"
        )
    if not at_least(report.severity, threshold):
        return NotifyOutcome(
            message=f"no drift issue: severity {report.severity} is below the threshold {threshold}"
        )
    title = f"Attrition drift: {report.severity.upper()} ({day})"
    return _post(client, drift_label, title, body)


def notify_failure(
    client: GitHubClient, error: str, *, label: str = ERROR_LABEL, run_url: str | None = None
) -> NotifyOutcome:
    """A step of the drift workflow failed outside the check (scoring, say): the error issue, exit 2."""
    return notify_drift(
        client, DriftReport.failed(error), threshold="none", labels=(DRIFT_LABEL, label), run_url=run_url
    )


def notify_retrain(
    client: GitHubClient,
    retrain: RetrainReport,
    *,
    label: str = DRIFT_LABEL,
    issue: int | None = None,
    run_url: str | None = None,
) -> NotifyOutcome:
    """Comment the gate's decision on issue ``issue``, else on the open drift issue (none: an error)."""
    body = _body(retrain_markdown(retrain), run_url)
    try:
        number = issue if issue is not None else _open_number(client, label)
        if number is None:
            return NotifyOutcome(
                exit_code=EXIT_NOTIFY_FAILED,
                error=f"no open issue labelled {label!r} to report the retraining on",
            )
        url = client.comment(number, body)
    except GitHubError as exc:
        return _failed(client, exc)
    where = f"commented on issue #{number} ({url})" if url else f"would comment on issue #{number or '?'}"
    outcome = NotifyOutcome(
        action="commented",
        message=f"retraining {retrain.verdict.lower()}: {where}",
        issue=Issue(number, url or "", ""),
        planned=client.planned,
    )
    if retrain.verdict == "FAILED":  # reported; the workflow still fails (a refused promotion does not)
        outcome.exit_code = EXIT_CHECK_FAILED
        outcome.error = f"the retraining failed (exit {retrain.exit_code}): {'; '.join(retrain.errors) or 'see its output'}"
    return outcome


def retrain_markdown(retrain: RetrainReport) -> str:
    """The gate's decision for a person, with the command's output folded away."""
    lines = [f"### Retraining after drift: {retrain.verdict}", ""]
    if retrain.version is not None:
        lines.append(f"Model version {retrain.version}: {_verdict_sentence(retrain)}")
    else:
        lines.append(f"No model version was registered (exit {retrain.exit_code}).")
    lines += [f"- {reason}" for reason in retrain.reasons]
    lines += [f"- error: {error}" for error in retrain.errors]
    output = retrain.output[-TAIL:]
    fence = "`" * max(3, _longest_backtick_run(output) + 1)
    lines += [
        "",
        f"<details><summary>Output of <code>attrition train --promote</code> (exit {retrain.exit_code})</summary>",
        "",
        f"{fence}text",
        output.rstrip("\n"),
        fence,
        "",
        "</details>",
    ]
    return "\n".join(lines) + "\n"


def run_url(env: Mapping[str, str]) -> str | None:
    """The Actions run's page, from the runner's variables (None outside Actions)."""
    server, repo, run = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


# --- helpers ---------------------------------------------------------------------------------


def _post(client: GitHubClient, label: str, title: str, body: str) -> NotifyOutcome:
    """Comment on the open issue labelled ``label``, else open one: one open issue per label."""
    try:
        existing = client.open_issue(label) if client.can_read else None
        if existing is not None:
            url = client.comment(existing.number, body)
            where = f"commented on issue #{existing.number} ({url or existing.url})"
            return NotifyOutcome(action="commented", message=where, issue=existing, planned=client.planned)
        made = client.create_issue(title, body, [label])
    except GitHubError as exc:
        return _failed(client, exc)
    looked = "" if client.can_read else " (no lookup: GITHUB_REPOSITORY is not set)"
    message = f"opened issue #{made.number} ({made.url})" if made else f"would open issue {title!r}{looked}"
    return NotifyOutcome(action="opened", message=message, issue=made, planned=client.planned)


def _open_number(client: GitHubClient, label: str) -> int | None:
    if not client.can_read:  # dry run without a repository: show the comment on a placeholder
        return 0
    found = client.open_issue(label)
    return None if found is None else found.number


def _failed(client: GitHubClient, exc: GitHubError) -> NotifyOutcome:
    logger.error("GitHub notification failed: %s", exc)
    return NotifyOutcome(exit_code=EXIT_NOTIFY_FAILED, error=str(exc), planned=client.planned)


def _verdict_sentence(retrain: RetrainReport) -> str:
    if retrain.promoted:
        return "passed the promotion gate and is the new champion."
    if retrain.promoted is False:
        return "was refused by the promotion gate; the champion is unchanged:"
    return (
        "was registered as challenger; no promotion decision was made."
        if not retrain.exit_code
        else "failed:"
    )


def _body(markdown: str, url: str | None) -> str:
    text = (
        markdown
        if len(markdown) <= MAX_BODY
        else markdown[:MAX_BODY] + "\n\n_(truncated: see the run's reports)_\n"
    )
    return text + (f"\n---\n[Workflow run]({url})\n" if url else "")


def _longest_backtick_run(text: str) -> int:
    longest = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    return longest
