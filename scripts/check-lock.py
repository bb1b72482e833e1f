"""Check requirements.lock against PyPI: no pinned version may be yanked.

The dependency audit for known vulnerabilities (pip-audit) runs in the GitHub CI workflow,
which has the internet. The CI machines of this project reach only the package registries,
so `.ci/run` runs this instead: a yanked pin (its maintainers withdrew it: a broken or
dangerous release) fails the build. It does not look for vulnerabilities.

    python scripts/check-lock.py [requirements.lock]

Exit 0: nothing yanked; 1: a yanked pin (each named with PyPI's reason); 2: PyPI could not
be asked (network), which is never reported as "nothing yanked".
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)", re.M)
URL = "https://pypi.org/pypi/{name}/json"  # the per-release endpoint is not served by every mirror


def pins(lock: Path) -> list[tuple[str, str]]:
    return PIN.findall(lock.read_text(encoding="utf-8"))


def release(pin: tuple[str, str]) -> list[dict] | None:
    """The pinned release's files as PyPI lists them; None when PyPI has no such release."""
    name, version = pin
    try:
        with urllib.request.urlopen(URL.format(name=name), timeout=30) as answer:
            files: list[dict] | None = json.load(answer)["releases"].get(version)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    return files


def main() -> int:
    lock = Path(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock")
    pinned = pins(lock)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(release, pinned))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        print(f"check-lock: cannot ask PyPI about {lock}'s pins: {exc}", file=sys.stderr)
        return 2
    yanked = 0
    for (name, version), files in zip(pinned, answers, strict=True):
        if not files:
            print(f"warning: {name}=={version} is not on PyPI (a local index?): not checked", file=sys.stderr)
        elif all(f.get("yanked") for f in files):
            yanked += 1
            reason = next((f["yanked_reason"] for f in files if f.get("yanked_reason")), "no reason given")
            print(f"error: {name}=={version} is yanked on PyPI: {reason}", file=sys.stderr)
    print(f"check-lock: {len(pinned)} pins checked against PyPI, {yanked} yanked")
    return 1 if yanked else 0


if __name__ == "__main__":
    sys.exit(main())
