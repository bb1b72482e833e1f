"""Each image's install step, exercised without Docker: its extras alone in a fresh venv, then its command.

For every Dockerfile the test reads what the image does (the extras it installs, the service
directories it copies, its ENV, CMD and HEALTHCHECK), installs the project's wheel with only
those extras (versions from requirements.lock, as the image does) into a new venv, lays out
a working directory holding only what the image copies, and runs the image's command until
its own health check passes. An import the service needs from another extra, or a file the
image forgets to copy, fails here instead of in a container.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from compose_support import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.integration]

UV = [sys.executable, "-m", "uv"]
CONTAINER_PATHS = ("/var/lib/attrition", "/srv/attrition", "/app/configs", "/app", "/mlartifacts")


@dataclass
class Image:
    """What a Dockerfile's runtime stage installs, copies and runs."""

    dockerfile: str
    packages: list[str]
    copies: list[str]
    env: dict[str, str]
    cmd: list[str]
    healthcheck: list[str]


def _image(dockerfile: str) -> Image:
    text = (ROOT / dockerfile).read_text(encoding="utf-8").replace("\\\n", " ")
    install = re.search(r"uv pip install .*?--compile-bytecode\s+(.+)", text)
    assert install, f"{dockerfile}: no uv pip install"
    runtime = text[text.rindex("\nFROM ") :]
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", runtime, re.M):
        env.update(pair.split("=", 1) for pair in shlex.split(line))
    return Image(
        dockerfile,
        packages=shlex.split(install[1]),
        copies=re.findall(r"^COPY (?!--from)(\S+) \./\S+$", runtime, re.M),
        env=env,
        cmd=json.loads(re.findall(r"^CMD (\[.+\])$", runtime, re.M)[-1]),
        healthcheck=json.loads(re.search(r"HEALTHCHECK .*?CMD (\[.+\])", runtime)[1]),  # type: ignore[index]
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([*UV, "build", "-q", "--wheel", "-o", str(out), str(ROOT)], check=True)
    [built] = out.glob("attrition-*.whl")
    return built


def _venv(tmp: Path, image: Image, wheel: Path) -> Path:
    venv = tmp / "venv"
    base = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys._base_executable)"], capture_output=True, text=True
    ).stdout.strip()
    subprocess.run([*UV, "venv", "-q", "--python", base, str(venv)], check=True)
    packages = [
        p.replace(".[", f"{wheel}[", 1) if p.startswith("'.[") or p.startswith(".[") else p
        for p in image.packages
    ]
    packages = [p.strip("'") for p in packages]
    done = subprocess.run(
        [*UV, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
         "--compile-bytecode", "--constraint", str(ROOT / "requirements.lock"), *packages],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, f"{image.dockerfile}: install failed\n{done.stderr[-3000:]}"
    return venv


def _workdir(tmp: Path, image: Image) -> Path:
    """/app of the image: only the directories its runtime stage copies."""
    app = tmp / "app"
    app.mkdir()
    for source in image.copies:
        if (ROOT / source).is_dir():
            subprocess.run(["cp", "-r", str(ROOT / source), str(app / source)], check=True)
    return app


def _localise(value: str, tmp: Path, app: Path, ports: dict[str, str]) -> str:
    for path in CONTAINER_PATHS:
        if value.startswith(path):
            target = app if path in ("/app", "/app/configs") else tmp / "fs" / path.strip("/")
            value = str(target) + value[len(path) :]
            break
    for port, free in ports.items():
        if value == port:
            return free
        value = value.replace(f":{port}", f":{free}").replace(f"'{port}'", f"'{free}'")
    return "127.0.0.1" if value == "0.0.0.0" else value


def _exposed(image: Image) -> dict[str, str]:
    text = (ROOT / image.dockerfile).read_text(encoding="utf-8")
    return {port: str(_free_port()) for port in re.findall(r"^EXPOSE (\d+)$", text, re.M)}


@contextmanager
def _running(
    command: list[str], env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _healthy(
    check: list[str], env: dict[str, str], cwd: Path, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if subprocess.run(check, env=env, cwd=cwd, capture_output=True).returncode == 0:
            return
        assert process.poll() is None, f"exited {process.returncode}:\n{log.read_text()[-3000:]}"
        time.sleep(1)
    raise AssertionError(f"health check {check} never passed:\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize(
    "dockerfile", ["Dockerfile", "Dockerfile.frontend", "Dockerfile.drift", "Dockerfile.mlflow"]
)
def test_image_install_runs_its_service_until_healthy(dockerfile: str, wheel: Path, tmp_path: Path) -> None:
    image = _image(dockerfile)
    venv = _venv(tmp_path, image, wheel)
    app = _workdir(tmp_path, image)
    ports = _exposed(image)
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env.update({key: _localise(value, tmp_path, app, ports) for key, value in image.env.items()})
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"  # the image's PATH names /opt/venv
    for value in env.values():
        if value.startswith(str(tmp_path / "fs")):
            Path(value).mkdir(parents=True, exist_ok=True)
    command = [_localise(part, tmp_path, app, ports) for part in image.cmd]
    check = [_localise(part, tmp_path, app, ports) for part in image.healthcheck]
    # The drift image copies deploy/drift_healthcheck.py to /usr/local/bin: the same file here.
    check = [
        str(ROOT / "deploy" / Path(part).name) if part.endswith("_healthcheck.py") else part for part in check
    ]
    if dockerfile == "Dockerfile.drift":
        _drift_checks(command, check, env, app)
        return
    log = tmp_path / "service.log"
    with _running(command, env, app, log) as process:
        _healthy(check, env, app, process, log)


DRIFT_LOOP_ARGS = ["--interval", "3600", "--max-runs", "1"]


def _drift_checks(command: list[str], check: list[str], env: dict[str, str], app: Path) -> None:
    """A check with no champion yet fails saying why; the loop then leaves a fresh status file."""
    subprocess.run(["attrition", "db", "upgrade"], env=env, cwd=app, check=True, capture_output=True)
    once = subprocess.run([*command, "--once"], env=env, cwd=app, capture_output=True, text=True, timeout=180)
    assert once.returncode == 2, (
        f"a check without a champion exited {once.returncode}:\n{once.stderr[-2000:]}"
    )
    assert "champion" in once.stderr.lower(), once.stderr[-2000:]
    looped = subprocess.run([*command, *DRIFT_LOOP_ARGS], env=env, cwd=app, capture_output=True, timeout=180)
    assert looped.returncode == 0, looped.stderr[-2000:]
    healthy = subprocess.run(check, env=env, cwd=app, capture_output=True, text=True)
    assert healthy.returncode == 0, healthy.stderr
