"""Files the CLI writes hold personal data: created 0600, folders 0700, whatever the caller's umask.

Real commands of the ``attrition`` console script in a subprocess started with umask 022
(the usual default, which made everything 0644 / 0755 before): the SQLite database, an
ingest's rejects file, predictions, reports, the drift reference data and the drift
service's (``python -m monitoring``) status file.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest_model import ModelEnv

ATTRITION = str(Path(sys.executable).with_name("attrition"))


REPO = Path(__file__).resolve().parents[1]


def _run(root: Path, *args: str, **env: str) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ATTRITION_")}
    base |= {
        "ATTRITION_DATA_DIR": str(root / "var"),
        "ATTRITION_REPORTS_DIR": str(root / "reports"),
        "ATTRITION_REFERENCE_DIR": str(root / "reference_data"),
        "ATTRITION_CONFIG_DIR": str(root / "no-configs"),
    }
    done = subprocess.run(
        [*args] if args[0] == sys.executable else [ATTRITION, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env=base | env,
        check=False,
        preexec_fn=lambda: os.umask(0o022),  # the caller's umask, as a shell has it
    )
    assert done.returncode in (0, 1), f"{args}: {done.stdout}\n{done.stderr}"


def _created(root: Path, before: set[Path]) -> list[Path]:
    return [p for p in sorted(root.rglob("*")) if p not in before]


def _loose(paths: list[Path]) -> list[str]:
    """Paths other users could read, write or enter, with their modes."""
    return [f"{p} {stat.filemode(p.stat().st_mode)}" for p in paths if p.stat().st_mode & 0o077]


def test_data_commands_create_private_files(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    _run(root, "db", "upgrade")  # the default SQLite database, var/attrition.db
    _run(root, "generate", "--out", "workforce.csv", "--rows", "300", "--snapshot-date", "2026-10-31")
    (root / "bad.csv").write_text((root / "workforce.csv").read_text() + "not,a,record\n")  # one rejected
    _run(root, "ingest", "bad.csv")
    created = _created(root, {root, root / "bad.csv"})  # bad.csv: the test's own file
    names = {p.relative_to(root).as_posix() for p in created}
    assert {"var", "var/attrition.db", "workforce.csv", "bad.rejects.csv"} <= names, names
    assert not _loose(created), _loose(created)


@pytest.mark.slow
def test_model_commands_create_private_files(champion_env: ModelEnv) -> None:
    root, settings = champion_env.root, champion_env.settings
    before = set(root.rglob("*")) | {root}
    env = {
        "ATTRITION_DATABASE_URL": settings.db_url,
        "ATTRITION_MLFLOW_TRACKING_URI": settings.tracking_uri,
        "ATTRITION_MLFLOW_ARTIFACT_ROOT": settings.artifact_root,
        "ATTRITION_MONITORING__DOMAIN_CLASSIFIER": "false",
    }
    _run(root, "score", "--out", "out/predictions.csv", **env)
    _run(root, "drift", "set-reference", **env)  # writes reference_data/
    _run(root, "drift", "run", "--no-html", "--fail-on", "critical", **env)  # writes reports/
    service = [sys.executable, "-m", "monitoring", "--once", "--no-html", "--fail-on", "critical"]
    _run(root, *service, "--status-file", str(root / "status" / "drift.json"), PYTHONPATH=str(REPO), **env)
    created = _created(root, before)
    names = {p.relative_to(root).as_posix() for p in created}
    expected = {"out", "out/predictions.csv", "reference_data", "reports", "reports/drift_latest.json"}
    assert expected | {"status", "status/drift.json"} <= names, names
    assert any(n.startswith("reference_data/") for n in names), names
    assert not _loose(created), _loose(created)
