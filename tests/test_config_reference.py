"""docs/configuration.md is generated from the settings model; docs/deployment.md names only real commands."""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel, Field, SecretStr

from attrition import config_reference
from attrition.config import Settings
from attrition.config_reference import REGENERATE, SettingDoc, leaf_settings, render, undocumented

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
LEAVES = leaf_settings()


def test_reference_file_is_current() -> None:
    committed = REFERENCE.read_text(encoding="utf-8") if REFERENCE.is_file() else ""
    assert committed == render(), (
        f"docs/configuration.md is out of date with attrition.config: run {REGENERATE}"
    )


def test_every_setting_has_a_description() -> None:
    missing = undocumented()
    assert not missing, (
        f"settings without Field(description=...) in attrition/config.py: {', '.join(missing)}"
    )


def test_an_undocumented_setting_is_named_and_a_secret_default_is_hidden() -> None:
    class Inner(BaseModel):
        plain: int = 3

    class Model(BaseModel):
        token: SecretStr = Field(default=SecretStr("hunter2-not-shown"), description="A secret.")
        inner: Inner = Field(default_factory=Inner)

    assert undocumented(Model) == ["inner.plain"]
    rows = {doc.dotted: doc for doc in leaf_settings(Model)}
    assert "hunter2" not in rows["token"].default
    assert rows["inner.plain"].env == "ATTRITION_INNER__PLAIN"
    assert (rows["inner.plain"].yaml_file, rows["inner.plain"].yaml_key) == ("inner.yaml", "plain")


def test_every_leaf_is_a_row_of_the_reference() -> None:
    text = render()
    assert len(LEAVES) == len(set(doc.env for doc in LEAVES)) > 50
    for doc in LEAVES:
        assert f"| `{doc.env}` | `{doc.yaml_key}` |" in text, doc.dotted
    assert "| `ATTRITION_CONFIG_DIR` |" in text and "| `ATTRITION_OPTUNA_STORAGE` |" in text


def _changed(doc: SettingDoc, current: Any) -> Any:
    """A valid value different from ``current`` for the setting (what the test sets and reads back)."""
    examples: dict[str, Any] = {
        "monitoring.cron": "0 6 * * 1",
        "training.families": ["random_forest"],
        "serving.token_secret": "s" * 40,
        "training.timeout_seconds": 60.0,
    }
    if doc.dotted in examples:
        return examples[doc.dotted]
    field = _field(doc)
    annotation = field.annotation
    if get_origin(annotation) is Literal:
        return next(option for option in get_args(annotation) if option != current)
    if isinstance(current, bool):
        return not current
    if isinstance(current, int):
        return current + 1
    if isinstance(current, float):
        return round(current * 0.99, 6)
    if isinstance(current, list):
        return current[:1] if len(current) > 1 else [*current, "extra"]
    if isinstance(current, Path) or Path in get_args(annotation):
        return "/srv/elsewhere"
    return "http://changed.example:1234" if current is None or "://" in str(current) else f"{current}-changed"


def _field(doc: SettingDoc) -> Any:
    model: type[BaseModel] = Settings
    for part in doc.path[:-1]:
        model = model.model_fields[part].annotation  # type: ignore[assignment]
    return model.model_fields[doc.path[-1]]


def _read(settings: Settings, doc: SettingDoc) -> Any:
    value = functools.reduce(getattr, doc.path, settings)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value) if isinstance(value, Path) else value


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty config dir and no ATTRITION_* variables: only what a test sets counts."""
    for name in list(os.environ):
        if name.upper().startswith("ATTRITION_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "configs"
    folder.mkdir()
    monkeypatch.setenv("ATTRITION_CONFIG_DIR", str(folder))
    return folder


@pytest.mark.parametrize("doc", LEAVES, ids=[doc.dotted for doc in LEAVES])
def test_the_documented_variable_and_yaml_key_set_the_setting(
    doc: SettingDoc, no_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = _read(Settings(), doc)
    value = _changed(doc, default)
    assert value != default

    raw = value if isinstance(value, str) else json.dumps(value)
    monkeypatch.setenv(doc.env, raw)
    assert _read(Settings(), doc) == value, f"{doc.env}={raw} did not set {doc.dotted}"
    monkeypatch.delenv(doc.env)

    nested: Any = value
    for part in reversed(doc.yaml_key.split(".")):
        nested = {part: nested}
    (no_config / doc.yaml_file).write_text(yaml.safe_dump(nested), encoding="utf-8")
    assert _read(Settings(), doc) == value, (
        f"{doc.yaml_key} in configs/{doc.yaml_file} did not set {doc.dotted}"
    )


def test_markdown_cells_escape_pipes_and_angle_brackets() -> None:
    assert config_reference._cell("a|b <data_dir>") == "a\\|b &lt;data_dir&gt;"


DEPLOYMENT = REFERENCE.parent / "deployment.md"
#: `attrition ...` at the start of a line or inline code, or after the compose service it runs in.
_COMMAND = re.compile(r"(?:^|`|(?:bootstrap|api|drift) )attrition((?: [^\s`|]+)*)", re.MULTILINE)


def _commands(text: str) -> list[list[str]]:
    found = (match.group(1).split() for match in _COMMAND.finditer(text))
    return [tokens for tokens in found if tokens]  # a bare `attrition` names the database or package


def _check_command(tokens: list[str]) -> str | None:
    """Why ``attrition TOKENS`` is not a command with those options, or None when it is."""
    import typer.main

    from attrition.cli import app

    command: Any = typer.main.get_command(app)  # typer's own click: a group is what has commands
    rest = list(tokens)
    while getattr(command, "commands", None) and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    if getattr(command, "commands", None):
        return f"`attrition {' '.join(tokens)}`: no such command (the group has {sorted(command.commands)})"
    known = {name for param in command.params for name in param.opts}
    for token in rest:
        if token.startswith("#"):
            break
        option = token.split("=", 1)[0]
        if option.startswith("--") and option not in known:
            return f"`attrition {' '.join(tokens)}`: {option} is not an option of {command.name}"
    return None


def test_every_attrition_command_in_the_deployment_guide_exists() -> None:
    commands = _commands(DEPLOYMENT.read_text(encoding="utf-8"))
    assert len(commands) > 10
    problems = [problem for tokens in commands if (problem := _check_command(tokens))]
    assert not problems, "\n".join(problems)


def test_the_command_check_catches_a_wrong_command_or_option() -> None:
    assert _check_command(["keys", "rotate"]) is not None
    assert _check_command(["train", "--workers", "4"]) is not None
    assert _check_command(["train", "--study-name", "x", "--search-only"]) is None
    assert _commands("docker compose run --rm bootstrap attrition db upgrade") == [["db", "upgrade"]]
