"""docker-compose.yml as Compose reads it: variables interpolated from an environment, `<<` merges resolved.

No Docker engine runs on the CI machines, so the tests that check the compose file (and the
smoke test that runs its services as local processes) load it with this.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

# $$ (a literal $), ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}, $NAME
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(ValueError):
    """A `${NAME:?message}` variable is unset: Compose refuses to start, naming it."""


def variables(text: str) -> dict[str, str | None]:
    """Every variable the text interpolates, with its operator (`:-`, `:?`, ...) or None."""
    found: dict[str, str | None] = {}
    for match in _VARIABLE.finditer(text):
        name = match["braced"] or match["bare"]
        if name:
            found.setdefault(name, match["op"])
    return found


def interpolate(text: str, env: dict[str, str]) -> str:
    """Substitute variables the way Compose does (the subset of its syntax this project uses)."""

    def value(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        given, op, arg = env.get(name), match["op"], match["arg"] or ""
        empty = given is None or (given == "" and op is not None and op.startswith(":"))
        if op in (":-", "-") and (given is None if op == "-" else empty):
            return arg
        if op in (":?", "?") and (given is None if op == "?" else empty):
            raise MissingVariable(f"{name}: {arg or 'required'}")
        return given or ""

    return _VARIABLE.sub(value, text)


def env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blank lines skipped, no quoting rules needed here)."""
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, val = line.partition("=")
            pairs[key.strip()] = val.strip()
    return pairs


def load(env: dict[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose model as `docker compose config` sees it: parsed, then each string value interpolated."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path} is not a mapping"
    return _interpolated(loaded, env)


def _interpolated(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: _interpolated(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolated(value, env) for value in node]
    return node
