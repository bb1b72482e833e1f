"""What a drift run and a retraining left behind, read and cross-checked before anyone is told.

Drift: ``attrition drift run`` writes ``drift_latest.json`` (run_id, status, severity,
exit_code, error) and ``drift_latest.md`` (the summary it prints) in the reports folder
(``attrition.drift.reports.write_reports``). A report that is missing, unreadable or
disagrees with the run's exit status (a stale file from an earlier run, a crash before the
job could write) is a failed check, never "no drift".

Retraining: ``attrition train --promote`` writes no file; its output (the promotion
decision's ``version N promoted to champion`` / ``version N NOT promoted`` and reasons, or
``error: ...``) and exit status are what the gate decided.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ``attrition.jobs.drift``'s exit statuses and the report status each goes with (not imported:
#: that module loads the whole drift stack; tests/test_notify_github.py checks they agree).
EXIT_OK, EXIT_DRIFT, EXIT_ERROR, EXIT_INSUFFICIENT = 0, 1, 2, 3
STATUS_OF_EXIT = {
    EXIT_OK: "ok",
    EXIT_DRIFT: "ok",
    EXIT_ERROR: "error",
    EXIT_INSUFFICIENT: "insufficient_data",
}
LATEST_JSON, LATEST_MARKDOWN = "drift_latest.json", "drift_latest.md"


class ReportError(ValueError):
    """The drift run's outputs are missing or inconsistent: the check is to be reported as failed."""


@dataclass(frozen=True)
class DriftReport:
    """One drift run as its reports tell it (``status``: ok | insufficient_data | error)."""

    run_id: str
    status: str
    severity: str | None
    exit_code: int
    markdown: str
    error: str | None = None
    created_at: str | None = None
    message: str = ""

    @classmethod
    def failed(cls, error: str, exit_code: int = EXIT_ERROR) -> DriftReport:
        """A check whose outputs cannot be trusted: an error report of its own."""
        markdown = f"## Attrition drift check: ERROR\n\nThe check could not be done: {error}\n"
        return cls(
            run_id="unknown",
            status="error",
            severity=None,
            exit_code=exit_code,
            markdown=markdown,
            error=error,
        )


def load_drift_report(folder: Path, exit_code: int | None = None) -> DriftReport:
    """The latest run's report from ``folder``, checked against ``exit_code`` when given."""
    data = _json(folder / LATEST_JSON)
    markdown = _text(folder / LATEST_MARKDOWN)
    report = _from_json(data, markdown, folder / LATEST_JSON)
    if report.run_id not in markdown:
        raise ReportError(
            f"{folder / LATEST_MARKDOWN} is not the summary of run {report.run_id} "
            f"({folder / LATEST_JSON}): the reports are from different runs"
        )
    if exit_code is not None and exit_code != report.exit_code:
        raise ReportError(
            f"the drift run exited {exit_code} but {folder / LATEST_JSON} (run {report.run_id}) records "
            f"exit {report.exit_code}: the report is stale or the run crashed before writing it"
        )
    return report


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"no drift report at {path}: the drift run wrote none") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the drift report {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ReportError(f"the drift report {path} is not a JSON object")
    return data


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read the drift summary {path}: {exc}") from exc


def _from_json(data: dict[str, Any], markdown: str, path: Path) -> DriftReport:
    run_id, status, code = data.get("run_id"), data.get("status"), data.get("exit_code")
    if not isinstance(run_id, str) or not run_id:
        raise ReportError(f"{path}: expected a run_id string, got {run_id!r}")
    if not isinstance(code, int) or code not in STATUS_OF_EXIT:
        raise ReportError(f"{path}: expected exit_code 0-3, got {code!r}")
    if status != STATUS_OF_EXIT[code]:
        raise ReportError(f"{path}: status {status!r} does not go with exit_code {code}")
    severity = data.get("severity")
    if (status == "ok") != isinstance(severity, str):
        raise ReportError(f"{path}: status {status!r} with severity {severity!r}")
    return DriftReport(
        run_id=run_id,
        status=status,
        severity=severity,
        exit_code=code,
        markdown=markdown,
        error=data.get("error") or (f"status error, no message ({path})" if status == "error" else None),
        created_at=data.get("created_at"),
        message=str(data.get("message") or ""),
    )


# --- retraining ------------------------------------------------------------------------------

_DECISION = re.compile(r"^version (?P<version>\S+) (?P<verdict>promoted to \S+|NOT promoted)")
_REGISTERED = re.compile(r"^registered \S+ version (?P<version>\S+) as challenger")
#: What ``attrition train``'s exit statuses mean (its --help).
TRAIN_EXITS = {
    0: "trained",
    1: "promotion refused or registry error",
    2: "the training data cannot train a model",
}


@dataclass(frozen=True)
class RetrainReport:
    """What ``attrition train --promote`` printed and how it exited."""

    exit_code: int
    output: str
    version: str | None = None
    promoted: bool | None = None
    reasons: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.promoted:
            return "PROMOTED"
        if self.promoted is False:
            return "NOT PROMOTED"
        return "FAILED" if self.exit_code else "TRAINED, NO PROMOTION DECISION"


def parse_retrain(output: str, exit_code: int) -> RetrainReport:
    """The gate's decision in the output of ``attrition train --promote`` (stdout and stderr)."""
    version, promoted, reasons, errors = None, None, [], []
    in_decision = False
    for line in output.splitlines():
        if match := _DECISION.match(line):
            version, promoted, in_decision = match["version"], match["verdict"] != "NOT promoted", True
        elif in_decision and line.startswith("  - "):
            reasons.append(line[4:])
        else:
            in_decision = False
            if (match := _REGISTERED.match(line)) and version is None:
                version = match["version"]
            if line.startswith("error: "):
                errors.append(line.removeprefix("error: "))
    if promoted and exit_code:
        errors.append(f"the output says promoted but the command exited {exit_code}")
        promoted = None
    return RetrainReport(exit_code, output, version, promoted, reasons, errors)
