"""``attrition notify github``: drift issues opened, commented or not, against a fake GitHub REST server.

The drift outputs are the drift job's own: a verdict written by ``write_reports`` with the
job's JSON body and Markdown, and a failed check from a real ``run_drift_check``. Only
GitHub is faked: a real HTTP server on 127.0.0.1 that records every request.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import Settings, reset_settings
from attrition.drift.features import FeatureDrift
from attrition.drift.reports import verdict_markdown, write_reports
from attrition.drift.result import DriftResult
from attrition.jobs import drift as drift_job
from attrition.notify import report as notify_report
from attrition.registry.aliases import PromotionDecision

REPO = "acme/hr"
TOKEN = "ghp_test-token-never-printed"
ISSUES = f"/repos/{REPO}/issues"


# --- the fake GitHub -------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    auth: str | None


@dataclass
class FakeGitHub:
    """Issues of one repository; ``fail[(method, path)] = (status, payload)`` makes a request fail."""

    url: str = ""
    issues: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    fail: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def add_issue(self, number: int, labels: list[str], *, state: str = "open", pr: bool = False) -> None:
        issue = {"number": number, "title": f"issue {number}", "state": state, "labels": labels}
        issue["html_url"] = f"https://github.test/{REPO}/issues/{number}"
        if pr:
            issue["pull_request"] = {"url": "..."}
        self.issues.append(issue)

    @property
    def writes(self) -> list[Seen]:
        return [r for r in self.requests if r.method != "GET"]

    def answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if (method, path) in self.fail:
            return self.fail[(method, path)]
        if method == "GET" and path == ISSUES:
            label, state = query["labels"][0], query["state"][0]
            found = [i for i in self.issues if label in i["labels"] and i["state"] == state]
            return 200, sorted(found, key=lambda i: -i["number"])
        if method == "POST" and path == ISSUES:
            number = max((i["number"] for i in self.issues), default=0) + 1
            self.add_issue(number, body["labels"])
            return 201, self.issues[-1] | {"title": body["title"]}
        if method == "POST" and (match := re.fullmatch(rf"{ISSUES}/(\d+)/comments", path)):
            return 201, {"id": 1, "html_url": f"https://github.test/{REPO}/issues/{match[1]}#issuecomment-1"}
        return 404, {"message": "Not Found"}


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            query = parse_qs(parts.query)
            fake.requests.append(
                Seen(self.command, parts.path, query, body, self.headers.get("Authorization"))
            )
            status, payload = fake.answer(self.command, parts.path, query, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def env(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> dict[str, str]:
    """The Actions variables pointing at the fake (no GITHUB_RUN_ID: no run link in bodies)."""
    for name in ("GITHUB_RUN_ID", "GITHUB_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    return {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": TOKEN}


def notify(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(app, ["notify", "github", *args], env=env)
    assert TOKEN not in result.output and TOKEN not in result.stderr
    return result


# --- real drift outputs ----------------------------------------------------------------------


def write_verdict(settings: Settings, severity: str, *, fail_on: str = "severe") -> drift_job.DriftRunOutcome:
    """The reports ``run_drift_check`` writes for a verdict of ``severity`` (its body, Markdown, writer)."""
    feature = FeatureDrift(
        "OverTime", "categorical", test="chi2", p_value=1e-9, p_adjusted=1e-8, psi=0.41,
        jensen_shannon=0.2, significant=True, effect_passed=True, drifted=True, weight=0.3,
    )  # fmt: skip
    result = DriftResult(
        status="ok",
        severity=severity,
        reference_rows=1000,
        current_rows=800,
        parameters={"false_discovery_rate": 0.05, "min_psi": 0.1},
        reasons=[f"{severity}: OverTime drifted"],
        features=[feature],
    )
    run_id = uuid.uuid4().hex
    outcome = drift_job.DriftRunOutcome(
        run_id=run_id,
        status="ok",
        severity=severity,
        exit_code=drift_job._exit_code(result, fail_on),
        markdown=verdict_markdown(result, [], run_id),
        result=result,
    )
    outcome.reports, _ = write_reports(settings, run_id, drift_job._report(outcome), outcome.markdown, None)
    return outcome


def write_insufficient(settings: Settings) -> drift_job.DriftRunOutcome:
    result = DriftResult(
        status="insufficient_data",
        severity=None,
        reference_rows=1000,
        current_rows=40,
        parameters={},
        message="current window has 40 rows, fewer than min_rows (200)",
    )
    run_id = uuid.uuid4().hex
    outcome = drift_job.DriftRunOutcome(
        run_id=run_id, status=result.status, severity=None, exit_code=drift_job.EXIT_INSUFFICIENT,
        markdown=verdict_markdown(result, [], run_id), result=result,
    )  # fmt: skip
    write_reports(settings, run_id, drift_job._report(outcome), outcome.markdown, None)
    return outcome


def failed_check(settings: Settings, tmp_path: Path) -> drift_job.DriftRunOutcome:
    """A real failed run: the app database has no tables, so the job cannot even record the run."""
    broken = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    outcome = drift_job.run_drift_check(broken, drift_job.DriftRequest(html=False))
    assert outcome.status == "error" and outcome.exit_code == drift_job.EXIT_ERROR
    return outcome


def latest_markdown(settings: Settings) -> str:
    return (Path(settings.reports_dir) / "drift_latest.md").read_text()


def lookup(label: str) -> dict[str, list[str]]:
    return {
        "labels": [label], "state": ["open"], "sort": ["created"], "direction": ["desc"], "per_page": ["100"]
    }  # fmt: skip


# --- drift -----------------------------------------------------------------------------------


def test_exit_codes_agree_with_the_drift_job() -> None:
    job = (drift_job.EXIT_OK, drift_job.EXIT_DRIFT, drift_job.EXIT_ERROR, drift_job.EXIT_INSUFFICIENT)
    mine = (
        notify_report.EXIT_OK,
        notify_report.EXIT_DRIFT,
        notify_report.EXIT_ERROR,
        notify_report.EXIT_INSUFFICIENT,
    )
    assert job == mine


def test_drift_at_threshold_opens_one_issue_with_the_summary(
    github: FakeGitHub, env: dict[str, str], settings: Settings
) -> None:
    run = write_verdict(settings, "severe")
    result = notify(env, "drift", "--exit-code", str(run.exit_code))

    assert result.exit_code == 0, result.output
    day = run.result.created_at[:10] if run.result else ""
    assert [(r.method, r.path) for r in github.requests] == [("GET", ISSUES), ("POST", ISSUES)]
    assert github.requests[0].query == lookup("drift")
    assert github.requests[1].body == {
        "title": f"Attrition drift: SEVERE ({day})",
        "body": latest_markdown(settings),
        "labels": ["drift"],
    }
    assert run.run_id in github.requests[1].body["body"] and "OverTime" in github.requests[1].body["body"]
    assert all(r.auth == f"Bearer {TOKEN}" for r in github.requests)
    assert f"opened issue #1 (https://github.test/{REPO}/issues/1)" in result.output


def test_open_drift_issue_gets_a_comment_not_a_duplicate(
    github: FakeGitHub, env: dict[str, str], settings: Settings
) -> None:
    github.add_issue(3, ["drift"], state="closed")
    github.add_issue(7, ["drift", "ops"])
    github.add_issue(9, ["drift"], pr=True)  # the issues endpoint lists pull requests too
    github.add_issue(11, ["drift-check-error"])
    write_verdict(settings, "critical")

    result = notify(env, "drift", "--exit-code", "1")

    assert result.exit_code == 0, result.output
    assert [(w.method, w.path) for w in github.writes] == [("POST", f"{ISSUES}/7/comments")]
    assert github.writes[0].body == {"body": latest_markdown(settings)}
    assert "commented on issue #7" in result.output


def test_run_link_is_added_inside_actions(
    github: FakeGitHub, env: dict[str, str], settings: Settings
) -> None:
    write_verdict(settings, "severe")
    actions = env | {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42"}
    assert notify(actions, "drift").exit_code == 0
    assert (
        github.writes[0].body["body"].endswith(f"[Workflow run](https://github.com/{REPO}/actions/runs/42)\n")
    )


@pytest.mark.parametrize(
    ("severity", "threshold"), [("moderate", ""), ("none", "moderate"), ("severe", "critical")]
)
def test_below_threshold_writes_nothing(
    github: FakeGitHub, env: dict[str, str], settings: Settings, severity: str, threshold: str
) -> None:
    write_verdict(settings, severity)  # "" = the default, monitoring.fail_on (severe)
    result = notify(env, "drift", "--threshold", threshold)

    assert result.exit_code == 0, result.output
    assert github.requests == []
    assert (
        f"no drift issue: severity {severity} is below the threshold {threshold or 'severe'}" in result.output
    )


def test_default_threshold_is_monitoring_fail_on(
    github: FakeGitHub, env: dict[str, str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTRITION_MONITORING__FAIL_ON", "moderate")
    reset_settings()
    write_verdict(settings, "moderate", fail_on="moderate")
    result = notify(env, "drift", "--exit-code", "1")
    assert result.exit_code == 0, result.output
    assert github.writes[0].body["title"].startswith("Attrition drift: MODERATE")


def test_insufficient_data_opens_nothing(github: FakeGitHub, env: dict[str, str], settings: Settings) -> None:
    github.add_issue(7, ["drift"])
    write_insufficient(settings)
    result = notify(env, "drift", "--exit-code", "3", "--threshold", "none")

    assert result.exit_code == 0, result.output
    assert github.requests == []
    assert "no drift issue: too few rows for a verdict (current window has 40 rows" in result.output


def test_failed_check_opens_an_error_issue_never_a_drift_issue(
    github: FakeGitHub, env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    github.add_issue(7, ["drift"])
    run = failed_check(settings, tmp_path)
    result = notify(env, "drift", "--exit-code", "2", "--threshold", "none")

    assert result.exit_code == 2
    assert [(r.method, r.path) for r in github.requests] == [("GET", ISSUES), ("POST", ISSUES)]
    assert github.requests[0].query == lookup("drift-check-error")
    posted = github.requests[1].body
    assert posted["labels"] == ["drift-check-error"] and posted["title"].startswith(
        "Attrition drift check failed ("
    )
    assert posted["body"] == latest_markdown(settings) and run.error and run.error in posted["body"]
    assert f"error: the drift check failed: {run.error}" in result.stderr


def test_failed_check_comments_on_the_open_error_issue(
    github: FakeGitHub, env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    github.add_issue(5, ["drift-check-error"])
    failed_check(settings, tmp_path)
    result = notify(env, "drift", "--exit-code", "2")
    assert result.exit_code == 2
    assert [(w.method, w.path) for w in github.writes] == [("POST", f"{ISSUES}/5/comments")]


@pytest.mark.parametrize("case", ["missing", "stale"])
def test_missing_or_stale_report_is_a_failed_check(
    github: FakeGitHub, env: dict[str, str], settings: Settings, case: str
) -> None:
    if case == "stale":
        write_verdict(settings, "none")  # exit 0 recorded; this run "exited 2" without writing
    result = notify(env, "drift", "--exit-code", "2")

    assert result.exit_code == 2
    [posted] = [w.body for w in github.writes]
    assert posted["labels"] == ["drift-check-error"]
    expected = "no drift report at" if case == "missing" else "the drift run exited 2 but"
    assert expected in posted["body"] and expected in result.stderr


# --- retraining ------------------------------------------------------------------------------


def train_output(tmp_path: Path, decision: PromotionDecision | None, *, error: str | None = None) -> Path:
    """What ``attrition train --promote`` prints: the summary lines, the gate's message, an error."""
    lines = ["best lightgbm: holdout ROC-AUC 0.8123 [0.79, 0.83]; fairness gate passed"]
    if decision is not None:
        lines += [f"registered attrition version {decision.version} as challenger", decision.message()]
    if error:
        lines.append(f"error: {error}")
    path = tmp_path / "train.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_refused_promotion_is_commented_on_the_drift_issue(
    github: FakeGitHub, env: dict[str, str], tmp_path: Path, settings: Settings
) -> None:
    github.add_issue(7, ["drift"])
    decision = PromotionDecision(False, "4", "3", ["holdout ROC-AUC 0.61 < min_roc_auc 0.70"])
    result = notify(env, "retrain", "--output", str(train_output(tmp_path, decision)), "--exit-code", "1")

    assert result.exit_code == 0, result.output
    assert [(r.method, r.path) for r in github.requests] == [
        ("GET", ISSUES),
        ("POST", f"{ISSUES}/7/comments"),
    ]
    body = github.writes[0].body["body"]
    assert body.startswith("### Retraining after drift: NOT PROMOTED\n")
    assert "Model version 4: was refused by the promotion gate" in body
    assert "- holdout ROC-AUC 0.61 < min_roc_auc 0.70" in body and "version 4 NOT promoted" in body
    assert "retraining not promoted: commented on issue #7" in result.output


def test_promotion_and_failure_are_told_apart(
    github: FakeGitHub, env: dict[str, str], tmp_path: Path, settings: Settings
) -> None:
    promoted = train_output(tmp_path, PromotionDecision(True, "5", "4"))
    assert (
        notify(env, "retrain", "--output", str(promoted), "--exit-code", "0", "--issue", "12").exit_code == 0
    )
    assert github.writes[-1].path == f"{ISSUES}/12/comments"
    assert (
        "PROMOTED\n" in github.writes[-1].body["body"]
        and "is the new champion" in github.writes[-1].body["body"]
    )

    failed = train_output(tmp_path, None, error="no employees snapshot to train on")
    result = notify(env, "retrain", "--output", str(failed), "--exit-code", "2", "--issue", "12")
    assert result.exit_code == 2  # reported, and the workflow fails
    assert "### Retraining after drift: FAILED" in github.writes[-1].body["body"]
    assert "- error: no employees snapshot to train on" in github.writes[-1].body["body"]
    assert "error: the retraining failed (exit 2): no employees snapshot to train on" in result.stderr


def test_retrain_without_an_open_drift_issue_fails(
    github: FakeGitHub, env: dict[str, str], tmp_path: Path, settings: Settings
) -> None:
    output = train_output(tmp_path, PromotionDecision(True, "5", "4"))
    result = notify(env, "retrain", "--output", str(output), "--exit-code", "0")
    assert result.exit_code == 1 and github.writes == []
    assert "no open issue labelled 'drift'" in result.stderr


def test_retrain_summary_prints_the_comment(tmp_path: Path, settings: Settings) -> None:
    output = train_output(tmp_path, PromotionDecision(False, "4", "3", ["fairness gate failed"]))
    result = CliRunner().invoke(
        app, ["notify", "retrain-summary", "--output", str(output), "--exit-code", "1"]
    )
    assert result.exit_code == 0
    assert (
        result.output.startswith("### Retraining after drift: NOT PROMOTED\n")
        and "- fairness gate failed" in result.output
    )


# --- dry run, configuration, GitHub's errors -------------------------------------------------


def test_dry_run_looks_up_but_writes_nothing(
    github: FakeGitHub, env: dict[str, str], settings: Settings
) -> None:
    run = write_verdict(settings, "severe")
    result = notify(env, "drift", "--dry-run")

    assert result.exit_code == 0, result.output
    assert [(r.method, r.path) for r in github.requests] == [("GET", ISSUES)]
    assert f"dry run: would POST {github.url}{ISSUES}\n" in result.output
    assert "title: Attrition drift: SEVERE (" in result.output and "labels: ['drift']" in result.output
    assert f"body:\n{latest_markdown(settings)}" in result.output and run.run_id in result.output

    github.add_issue(7, ["drift"])
    result = notify(env, "drift", "--dry-run")
    assert f"dry run: would POST {github.url}{ISSUES}/7/comments\n" in result.output
    assert github.writes == []


def test_dry_run_needs_no_token_or_repository(
    github: FakeGitHub, env: dict[str, str], settings: Settings
) -> None:
    write_verdict(settings, "critical")
    result = notify(
        {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "", "GITHUB_TOKEN": ""}, "drift", "--dry-run"
    )
    assert result.exit_code == 0, result.output
    assert github.requests == []
    assert f"would POST {github.url}/repos/OWNER/REPO/issues" in result.output
    assert "no lookup: GITHUB_REPOSITORY is not set" in result.output


@pytest.mark.parametrize("missing", ["GITHUB_TOKEN", "GITHUB_REPOSITORY"])
def test_missing_variable_is_named(
    github: FakeGitHub, env: dict[str, str], settings: Settings, missing: str
) -> None:
    write_verdict(settings, "severe")
    result = notify(env | {missing: ""}, "drift")
    assert result.exit_code == 1 and github.requests == []
    assert f"error: {missing} is not set" in result.stderr


def test_bad_credentials_fail_clearly(github: FakeGitHub, env: dict[str, str], settings: Settings) -> None:
    github.fail[("GET", ISSUES)] = (401, {"message": "Bad credentials"})
    write_verdict(settings, "severe")
    result = notify(env, "drift")

    assert result.exit_code == 1 and github.writes == []
    assert f"error: GitHub answered GET {ISSUES} with 401: Bad credentials" in result.stderr
    assert "opened" not in result.output


def test_rejected_issue_fails_with_githubs_reason(
    github: FakeGitHub, env: dict[str, str], settings: Settings
) -> None:
    github.fail[("POST", ISSUES)] = (
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": "labels", "code": "invalid"}],
        },
    )
    write_verdict(settings, "severe")
    result = notify(env, "drift")

    assert result.exit_code == 1
    assert (
        f"error: GitHub answered POST {ISSUES} with 422: Validation Failed (labels invalid)" in result.stderr
    )
    assert "opened" not in result.output


def test_unreachable_github_fails_clearly(env: dict[str, str], settings: Settings) -> None:
    write_verdict(settings, "severe")
    result = notify(env | {"GITHUB_API_URL": "http://127.0.0.1:9"}, "drift")
    assert result.exit_code == 1
    assert "error: cannot reach GitHub at http://127.0.0.1:9: ConnectError" in result.stderr


def test_bad_threshold_is_refused(github: FakeGitHub, env: dict[str, str], settings: Settings) -> None:
    write_verdict(settings, "critical")
    result = notify(env, "drift", "--threshold", "high")
    assert result.exit_code == 2 and "got 'high'" in result.output
    assert github.requests == []


def test_failed_workflow_step_opens_the_error_issue(
    github: FakeGitHub, env: dict[str, str], settings: Settings
) -> None:
    github.add_issue(7, ["drift"])
    result = notify(env, "error", "--message", "attrition score failed")

    assert result.exit_code == 2
    assert [(r.method, r.path) for r in github.requests] == [("GET", ISSUES), ("POST", ISSUES)]
    assert github.requests[0].query == lookup("drift-check-error")
    posted = github.writes[0].body
    assert posted["labels"] == ["drift-check-error"] and "attrition score failed" in posted["body"]


def test_retrain_summary_fails_for_a_failed_retraining(tmp_path: Path, settings: Settings) -> None:
    output = train_output(tmp_path, None, error="registry unreachable")
    result = CliRunner().invoke(
        app, ["notify", "retrain-summary", "--output", str(output), "--exit-code", "1"]
    )
    assert result.exit_code == 2
    assert result.output.startswith("### Retraining after drift: FAILED\n")
    assert "- error: registry unreachable" in result.output
