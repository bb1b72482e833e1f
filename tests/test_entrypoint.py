"""The console script names the extra a command needs instead of ending in a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# ``sys.modules[name] = None`` makes ``import name`` fail as it does where the package is not installed.
_RUN = """
import sys
sys.modules[{missing!r}] = None
sys.argv = ["attrition", *{args!r}]
from attrition.entrypoint import main
main()
"""


def _attrition_without(missing: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = _RUN.format(missing=missing, args=list(args))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


@pytest.mark.parametrize(("missing", "extra"), [("optuna", "train"), ("fairlearn", "train")])
def test_train_without_the_train_extra_says_which_extra_to_install(
    missing: str, extra: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTRITION_DATA_DIR", str(tmp_path / "var"))
    done = _attrition_without(missing, "train", "--trials", "1", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"pip install 'attrition[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unrelated_missing_module_is_not_blamed_on_an_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTRITION_DATA_DIR", str(tmp_path / "var"))
    done = _attrition_without("sklearn", "train", "--trials", "1", cwd=tmp_path)
    assert done.returncode == 1
    assert "ModuleNotFoundError" in done.stderr and "pip install" not in done.stderr


def test_a_command_with_its_dependencies_runs_as_before(tmp_path: Path) -> None:
    done = _attrition_without("no_such_package", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "Usage: attrition" in done.stdout
