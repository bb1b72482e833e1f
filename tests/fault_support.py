"""Faults for the reliability tests: a path made read-only (for root too), counts of stored rows."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa


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
