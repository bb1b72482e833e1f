"""The GitHub Actions workflows: actionlint-clean, calling commands that exist, no script injection.

The checks read the YAML itself: a renamed CLI command, a drift workflow that stops opening
issues or uploading its reports, a Dockerfile left out of the image builds, or an expression
pasted into a shell script fails here, before a scheduled run does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from attrition.cli import app

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".venv" / "bin" / "actionlint"
#: ``attrition`` (or ``.venv/bin/attrition``) and the words naming its sub-command.
COMMAND = re.compile(r"(?:^|[\s;|&(])(?:\S*/)?attrition((?:[ \t]+[a-z][a-z-]*)+)")
GUARD = re.compile(r"attrition((?:[ \t]+[a-z][a-z-]*)+)[ \t]+--help")


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def scripts() -> list[tuple[str, str]]:
    """(workflow, run script) of every step of every workflow."""
    return [
        (path.name, step["run"])
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for step in steps(load(path.name))
        if "run" in step
    ]


def test_the_four_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS.glob("*.yml")} >= {
        "ci.yml",
        "drift.yml",
        "retrain.yml",
        "maintenance.yml",
    }


def test_actionlint_passes() -> None:
    if not ACTIONLINT.is_file():
        pytest.fail(f"{ACTIONLINT} is missing: the dev extra ships it (make venv)")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.y*ml"))
    done = subprocess.run([str(ACTIONLINT), "-no-color", *files], cwd=ROOT, capture_output=True, text=True)
    shellcheck = "with shellcheck" if shutil.which("shellcheck") else "without shellcheck (not installed)"
    assert done.returncode == 0, f"actionlint ({shellcheck}):\n{done.stdout}{done.stderr}"


def test_no_expression_is_pasted_into_a_script() -> None:
    """``${{ }}`` in ``run:`` is text-substituted before the shell runs: inputs go through env."""
    offenders = [(name, script) for name, script in scripts() if "${{" in script]
    assert offenders == [], f"pass these through env: instead: {offenders}"


def _command_path(words: list[str]) -> list[str]:
    """The leading words that name a command in the CLI's tree (stops at its arguments)."""
    node: Any = typer.main.get_command(app)  # typer's own (vendored) click classes
    path: list[str] = []
    for word in words:
        commands = getattr(node, "commands", None)
        if commands is None:  # a command: the rest are its arguments
            break
        if word not in commands:
            pytest.fail(f"`attrition {' '.join([*path, word])}` is not a command (a workflow calls it)")
        node, path = commands[word], [*path, word]
    if getattr(node, "commands", None) is not None:
        pytest.fail(f"`attrition {' '.join(path)}` is a group, not a command")
    return path


def test_workflow_commands_exist_in_the_cli() -> None:
    called: set[tuple[str, ...]] = set()
    for name, script in scripts():
        guarded = {tuple(m.split()) for m in GUARD.findall(script)}
        for match in COMMAND.findall(script):
            words = tuple(match.split())
            if words in guarded:  # a command another issue adds: the script must say it skipped
                assert "::notice::" in script, (
                    f"{name}: the guard of `attrition {match.strip()}` prints no notice"
                )
                continue
            called.add(tuple(_command_path(list(words))))
    assert ("notify", "github", "drift") in called and ("drift", "run") in called
    runner = CliRunner()
    for path in sorted(called):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"attrition {' '.join(path)} --help: {result.output}"


def test_drift_workflow_schedules_notifies_and_keeps_its_reports() -> None:
    drift = load("drift.yml")
    assert {"schedule", "workflow_dispatch"} <= set(drift["on"])
    assert set(drift["on"]["workflow_dispatch"]["inputs"]) == {"threshold", "retrain"}
    assert drift["permissions"] == {"contents": "read", "issues": "write"}
    runs = [s.get("run", "") for s in steps(drift)]
    check = next(r for r in runs if "attrition drift run" in r)
    assert (
        "|| status=$?" in check and 'exit-code=$status" >> "$GITHUB_OUTPUT"' in check
    )  # never fails the step
    assert any("attrition notify github drift --exit-code" in r for r in runs)
    assert any("attrition train --promote" in r for r in runs) and any(
        "notify github retrain" in r for r in runs
    )
    uploads = [s for s in steps(drift) if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert len(uploads) == 1 and uploads[0]["if"] == "always()" and uploads[0]["with"]["path"] == "reports/"
    env = drift["jobs"]["drift"]["env"]
    assert env["ATTRITION_DATABASE_URL"] == "${{ secrets.ATTRITION_DATABASE_URL }}"
    assert env["ATTRITION_MLFLOW_TRACKING_URI"] == "${{ secrets.ATTRITION_MLFLOW_TRACKING_URI }}"


def test_ci_builds_every_dockerfile_with_the_actions_cache() -> None:
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    built = {entry["dockerfile"] for entry in ci["jobs"]["images"]["strategy"]["matrix"]["include"]}
    assert built == {p.name for p in ROOT.glob("Dockerfile*")}
    [build] = [s for s in steps(ci) if str(s.get("uses", "")).startswith("docker/build-push-action")]
    assert build["with"]["push"] is False
    assert build["with"]["cache-from"].startswith("type=gha") and build["with"]["cache-to"].startswith(
        "type=gha"
    )
    runs = " ".join(s.get("run", "") for s in steps(ci))
    assert "make lint" in runs and "make test" in runs and "actionlint" in runs and "hadolint" in runs
    assert ci["jobs"]["browser"]["env"]["ATTRITION_REQUIRE_BROWSER"] == "1"


def test_retrain_runs_only_on_the_retrain_label() -> None:
    retrain = load("retrain.yml")
    assert retrain["on"]["issues"]["types"] == ["labeled"] and retrain["on"]["pull_request"]["types"] == [
        "labeled"
    ]
    assert "github.event.label.name == 'retrain'" in retrain["jobs"]["retrain"]["if"]
    runs = " ".join(s.get("run", "") for s in steps(retrain))
    assert "attrition train --promote" in runs and '>> "$GITHUB_STEP_SUMMARY"' in runs


def test_maintenance_collects_purges_and_backs_up() -> None:
    maintenance = load("maintenance.yml")
    assert "schedule" in maintenance["on"]
    runs = " ".join(s.get("run", "") for s in steps(maintenance))
    assert "mlflow gc --backend-store-uri" in runs and "pg_dump" in runs
    assert '.venv/bin/attrition purge --older-than "${RETENTION_DAYS}d"' in runs
    assert "predictions purge" not in runs  # the real command, no longer a guarded placeholder
    uploads = [s for s in steps(maintenance) if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert [u["with"]["path"] for u in uploads] == ["backups/"]
