"""`.env.example` lists exactly the variables docker-compose.yml reads, with safe placeholders."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.tokens import TokenSigner
from attrition.users import UserError, check_password

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
EXAMPLE = ROOT / ".env.example"
PLACEHOLDER = "change-me"
#: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN")
_REAL_LOOKING = (
    re.compile(r"(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{20,}"),  # a random token
    re.compile(r"hooks\.slack\.com/services/T|ghp_|github_pat_|sk-[A-Za-z0-9]|AKIA[0-9A-Z]{12}"),
    re.compile(r"-----BEGIN"),
)


@dataclass(frozen=True)
class Use:
    name: str
    operator: str | None  # ":-", "-", ":?", "?" or None
    argument: str

    @property
    def required(self) -> bool:
        return self.operator in (":?", "?")


def compose_uses() -> list[Use]:
    text = COMPOSE.read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return [Use(name, op or None, arg or "") for name, op, arg in _REFERENCE.findall(body)]


def example_values() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example: {line!r} is neither a comment nor NAME=value"
        assert name not in values, f".env.example sets {name} twice"
        values[name.strip()] = _unquote(value.strip())
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def test_the_compose_file_is_read() -> None:
    uses = compose_uses()
    assert {"APP_DB_PASSWORD", "ATTRITION_SERVING__TOKEN_SECRET", "API_REPLICAS"} <= {u.name for u in uses}
    assert any(u.required for u in uses) and any(u.operator == ":-" for u in uses)


def test_every_compose_variable_is_in_the_example_and_nothing_else() -> None:
    used = {u.name for u in compose_uses()}
    listed = set(example_values())
    assert not used - listed, f"add to .env.example (with a comment): {sorted(used - listed)}"
    assert not listed - used, (
        f"docker-compose.yml does not read these .env.example entries: {sorted(listed - used)}"
    )


def test_every_entry_has_a_comment_above_it() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            above = lines[index - 1] if index else ""
            assert above.lstrip().startswith("#"), (
                f".env.example: {line.split('=')[0]} has no comment above it"
            )


def test_required_and_secret_variables_have_a_change_me_placeholder() -> None:
    values = example_values()
    for use in compose_uses():
        if use.required or _SECRET_NAME.search(use.name):
            assert values[use.name].startswith(PLACEHOLDER), (
                f"{use.name} must hold a {PLACEHOLDER}-... placeholder, got {values[use.name]!r}"
            )


def test_optional_variables_show_the_compose_default() -> None:
    values = example_values()
    for use in compose_uses():
        if use.operator in (":-", "-") and not _SECRET_NAME.search(use.name):
            assert values[use.name] == use.argument, (
                f"{use.name}: .env.example says {values[use.name]!r}, docker-compose.yml defaults to {use.argument!r}"
            )


def test_no_value_looks_like_a_real_secret() -> None:
    for name, value in example_values().items():
        for pattern in _REAL_LOOKING:
            assert not pattern.search(value.replace(PLACEHOLDER, "")), (
                f".env.example: {name} looks like a real secret; use a {PLACEHOLDER}-... placeholder"
            )


def test_the_secret_check_catches_a_generated_secret() -> None:
    generated = "Qm9xZ2VuZXJhdGVkLXRva2VuLTEyMzQ1Njc4OTA"
    assert any(pattern.search(generated) for pattern in _REAL_LOOKING)
    assert any(pattern.search("https://hooks.slack.com/services/T000/B000/XXXX") for pattern in _REAL_LOOKING)


def test_a_forgotten_secret_placeholder_stops_the_start() -> None:
    """The two placeholders the code checks are too short on purpose: the API and bootstrap refuse them."""
    values = example_values()
    with pytest.raises(ValueError, match="at least 32 characters"):
        TokenSigner(values["ATTRITION_SERVING__TOKEN_SECRET"], 30)
    with pytest.raises(UserError, match="at least 12 characters"):
        check_password(values["ATTRITION_BOOTSTRAP_ADMIN_PASSWORD"])
