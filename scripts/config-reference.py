"""Write docs/configuration.md from the settings model (``attrition.config_reference``).

.venv/bin/python scripts/config-reference.py           # regenerate
.venv/bin/python scripts/config-reference.py --check   # exit 1 when the file is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attrition.config_reference import render, write

TARGET = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Only compare; exit 1 when out of date.")
    args = parser.parse_args()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.is_file() else ""
        if current != render():
            sys.stderr.write(f"{TARGET} is out of date: run python scripts/config-reference.py\n")
            return 1
        return 0
    changed = write(TARGET)
    sys.stdout.write(f"{TARGET} {'written' if changed else 'already up to date'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
