"""Faults for the reliability tests: a path made read-only (for root too), counts of stored rows."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from attrition.config import Settings, location_env
from attrition.db.migrate import upgrade


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """``paths`` cannot be written inside the block, and can again after it.

    chmod alone does not stop root (the CI user here), so as root the immutable
    attribute is set as well (``chattr +i``): even root cannot open the file for
    writing or create a file in the folder.
    """
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in paths}
    root = os.geteuid() == 0
    try:
        for path in paths:
            path.chmod(modes[path] & ~0o222)
            if root:
                subprocess.run(["chattr", "+i", str(path)], check=True, timeout=10)
        yield
    finally:
        for path in paths:
            if root:
                subprocess.run(["chattr", "-i", str(path)], check=True, timeout=10)
            path.chmod(modes[path])


def count(engine: sa.Engine, table: str, where: str = "") -> int:
    """Rows stored in ``table`` (optionally ``WHERE where``), read on a fresh connection."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} {where}")).scalar_one())


@contextmanager
def time_bound(seconds: int) -> Iterator[None]:
    """Fail the test (TimeoutError in the main thread) if the block runs longer than ``seconds``."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"fault test still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- a live API process (real uvicorn), for faults below the HTTP layer -------------------------


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveApi:
    """``attrition serve api`` running as a process; ``base`` is its loopback URL."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def api_environment(settings: Settings, workdir: Path, **serving: object) -> dict[str, str]:
    """The environment of an API process on ``settings``: no configs/ YAML, quick flushes, no rate limit."""
    env = {
        **os.environ,
        **location_env(settings, workdir / "no-configs"),
        "ATTRITION_DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    values: dict[str, object] = {
        "rate_limit_per_minute": 1_000_000,
        "log_flush_interval_seconds": 0.05,
        "reload_interval_seconds": 0,
        "workers": 1,
    }
    values.update(serving)
    env |= {f"ATTRITION_SERVING__{key.upper()}": str(value) for key, value in values.items()}
    return env


@contextmanager
def live_api(
    settings: Settings, workdir: Path, *, startup_seconds: float = 90, **serving: object
) -> Iterator[LiveApi]:
    """A real uvicorn process serving ``settings`` until the block ends (SIGTERM, then SIGKILL).

    Ready when ``/health`` answers: a model need not be loaded (``/ready`` may say 503).
    """
    port = free_port()
    log = workdir / f"api-{port}.log"
    command = [
        sys.executable,
        "-m",
        "attrition.cli",
        "serve",
        "api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=workdir, env=api_environment(settings, workdir, **serving), stdout=out, stderr=out
        )
    api = LiveApi(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + startup_seconds
        while not _answers(f"{api.base}/health"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"API did not start (exit {process.poll()}):\n{api.tail()}")
            time.sleep(0.2)
        yield api
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class Load:
    """A client thread posting predictions until stopped; what each request got back."""

    base: str
    key: str
    #: (status code or 0 for a transport error, prediction id, error text) per request.
    answers: list[tuple[int, str | None, str | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._run, name="prediction-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        from api.schemas import EXAMPLE_REQUEST
        from attrition.schema import ID_COLUMN

        number = 0
        with httpx.Client(base_url=self.base, headers={"X-API-Key": self.key}, timeout=30) as client:
            while not self._stop.is_set():
                number += 1
                body = {**EXAMPLE_REQUEST, ID_COLUMN: 10_000 + number}
                try:
                    response = client.post("/v1/predict", json=body)
                except httpx.TransportError as error:
                    self.answers.append((0, None, type(error).__name__))
                    continue
                ok = response.status_code == 200
                self.answers.append(
                    (
                        response.status_code,
                        response.json()["prediction_id"] if ok else None,
                        None if ok else response.text[:300],
                    )
                )

    @property
    def answered(self) -> list[str]:
        """Prediction ids of the requests answered 200."""
        return [pid for status, pid, _ in self.answers if status == 200 and pid is not None]

    def wait_answered(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answered) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.answered)} predictions answered: {self.answers[-3:]}")
            time.sleep(0.05)


def stored_prediction_ids(engine: sa.Engine) -> list[str]:
    """Every ``prediction_id`` in ``predictions`` (duplicates kept, to be counted)."""
    with engine.connect() as conn:
        return [str(pid) for pid in conn.execute(sa.text("SELECT prediction_id FROM predictions")).scalars()]


def wait_stored(engine: sa.Engine, expected: int, timeout: float = 30.0) -> list[str]:
    """The stored prediction ids once at least ``expected`` rows are there (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        stored = stored_prediction_ids(engine)
        if len(stored) >= expected or time.monotonic() > deadline:
            return stored
        time.sleep(0.1)


@contextmanager
def fresh_database(server_url: str, prefix: str) -> Iterator[tuple[sa.Engine, str, str]]:
    """(admin engine, name, URL) of a new migrated database on a shared server, dropped after.

    The server itself is never touched: only a database of this test's own (PostgreSQL's
    drop also ends the sessions still on it).
    """
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield admin, name, url
    finally:
        force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
        with admin.connect() as conn:
            for database in (name, f"{name}_away") if force else (name,):  # renamed away (PostgreSQL)
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database}{force}"))
        admin.dispose()
