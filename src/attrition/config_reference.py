"""The configuration reference (docs/configuration.md), generated from the settings model.

Why generated: the model in ``attrition.config`` is the one place a setting's name,
type, default and description live, so the reference cannot fall behind it.
``tests/test_config_reference.py`` fails when the committed file differs from
:func:`render` (a setting added without regenerating) or a leaf setting has no
description. Regenerate with ``python scripts/config-reference.py``.

How a setting is reached, as ``attrition.config`` reads it: the environment variable
``ATTRITION_`` + the path joined with ``__`` (``ATTRITION_TRAINING__RISK_BANDS__MEDIUM``),
or the YAML file ``configs/<section>.yaml`` with the rest of the path as nested keys;
top-level settings live in ``configs/attrition.yaml``.
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from attrition.config import Settings

REGENERATE = "python scripts/config-reference.py"
TOP_LEVEL_FILE = "attrition.yaml"


@dataclass(frozen=True)
class SettingDoc:
    """One leaf setting: where it is set, what it holds, what it means."""

    path: tuple[str, ...]
    type_name: str
    default: str
    description: str

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def env(self) -> str:
        return "ATTRITION_" + "__".join(part.upper() for part in self.path)

    @property
    def yaml_file(self) -> str:
        return TOP_LEVEL_FILE if len(self.path) == 1 else f"{self.path[0]}.yaml"

    @property
    def yaml_key(self) -> str:
        return ".".join(self.path if len(self.path) == 1 else self.path[1:])


def leaf_settings(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()) -> list[SettingDoc]:
    """Every leaf of ``model``: its own in declaration order, then each nested model's (one table each)."""
    own: list[SettingDoc] = []
    nested: list[SettingDoc] = []
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        inner = _nested_model(info.annotation)
        if inner is not None:
            nested.extend(leaf_settings(inner, path))
        else:
            own.append(SettingDoc(path, _type_of(info), _default_of(info), (info.description or "").strip()))
    return own + nested


def undocumented(model: type[BaseModel] = Settings) -> list[str]:
    """Dotted names of the leaf settings of ``model`` without a description."""
    return [doc.dotted for doc in leaf_settings(model) if not doc.description]


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _type_of(info: FieldInfo) -> str:
    name = _type_name(info.annotation)
    bounds = [_bound(item) for item in info.metadata]
    return ", ".join([name, *(b for b in bounds if b)])


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (Union, types.UnionType):
        parts = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(parts) + (", optional" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if annotation is SecretStr:
        return "secret string"
    if annotation is Path:
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def _bound(item: Any) -> str | None:
    """A numeric bound of ``Field(gt=..., ge=..., lt=..., le=...)`` (annotated_types metadata)."""
    for attribute, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        value = getattr(item, attribute, None)
        if value is not None:
            return f"{symbol} {value}"
    return None


def _default_of(info: FieldInfo) -> str:
    if _is_secret(info.annotation):
        return "(secret: no default)"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool | list):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _cell(text: str) -> str:
    """Table-safe Markdown: no raw pipes or angle brackets (``<data_dir>`` is not an HTML tag)."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _section_title(prefix: tuple[str, ...]) -> str:
    if not prefix:
        return f"## Top level (`configs/{TOP_LEVEL_FILE}`)"
    level = "##" if len(prefix) == 1 else "###"
    return f"{level} `{'.'.join(prefix)}` (`configs/{prefix[0]}.yaml`)"


def _tables(docs: list[SettingDoc]) -> list[str]:
    lines: list[str] = []
    current: tuple[str, ...] | None = None
    for doc in docs:
        section = doc.path[:-1]
        if section != current:
            current = section
            lines += ["", _section_title(section), ""]
            lines += [
                "| environment variable | YAML key | type | default | description |",
                "|---|---|---|---|---|",
            ]
        lines.append(
            f"| `{doc.env}` | `{doc.yaml_key}` | {doc.type_name} | {_cell(doc.default)} | {_cell(doc.description)} |"
        )
    return lines


HEADER = f"""# Configuration reference

<!-- Generated from attrition.config.Settings by `{REGENERATE}`; do not edit by hand
     (tests/test_config_reference.py fails when this file and the model disagree). -->

Every setting of `attrition.config.Settings`, read in this order (the first that sets it wins):

1. the environment: `ATTRITION_` + the setting's path in capitals, nested levels joined with a
   double underscore (`training.risk_bands.medium` is `ATTRITION_TRAINING__RISK_BANDS__MEDIUM`);
   names are case-insensitive; lists are given as JSON
   (`ATTRITION_SERVING__CORS_ORIGINS='["https://hr.example.com"]'`);
2. the YAML files in the config directory (`ATTRITION_CONFIG_DIR`, else `./configs`, else the
   checkout's `configs/`): `training.yaml` fills the `training` section, `serving.yaml` the
   `serving` section and so on, nested keys as YAML mappings
   (`risk_bands: {{medium: 0.25}}` in `training.yaml`); top-level settings go in `attrition.yaml`.
   A key the `training`, `serving`, `monitoring` or `ui` section does not know is an error, so a
   typo there is never ignored (unknown top-level keys and files are ignored);
3. the defaults below (the shipped `configs/*.yaml` restate most of them, with comments).
   Relative paths are relative to the working directory.

`attrition.config.get_settings()` reads once per process: a change needs a restart.
Secrets (`serving.token_secret`, `monitoring.webhook_url`, passwords in database URLs) belong
in the environment, never in a YAML file in the repository.
"""

OTHER_VARIABLES = """
## Other environment variables

Read by the code outside the settings model:

| variable | read by | what |
|---|---|---|
| `ATTRITION_CONFIG_DIR` | `attrition.config.config_dir()` | folder of the YAML files (default `./configs`, else the checkout's `configs/`; none found: the code defaults) |
| `ATTRITION_BOOTSTRAP_ADMIN_NAME` | `attrition bootstrap --admin-name` | sign-in name of the first admin user (default `admin`) |
| `ATTRITION_BOOTSTRAP_ADMIN_PASSWORD` | `attrition bootstrap` | password of the first admin (12+ characters), used only while no admin exists; never on a command line |
| `ATTRITION_UI_APP` | `attrition serve ui --app` | the Streamlit app file (default `frontend/streamlit_app.py` of the checkout) |
| `GITHUB_SHA`, `GIT_COMMIT` | `attrition.registry.store.git_commit()` | the commit recorded on MLflow runs (else `git rev-parse HEAD`) |
| `PGCONNECT_TIMEOUT` | `attrition.db.engine` | when set, libpq's own connect timeout is used instead of `database_connect_timeout_seconds` for PostgreSQL |

Tests and CI only: `ATTRITION_TEST_POSTGRES_URL`, `ATTRITION_TEST_MARIADB_URL` (run the database
tests on those servers too), `ATTRITION_REQUIRE_SERVERS=1` and `ATTRITION_REQUIRE_BROWSER=1`
(fail instead of skipping when a server or Chromium is missing).

The compose stack's own variables (database passwords, published ports, replicas) are listed
with a comment each in `.env.example`; [deployment.md](deployment.md) says how they are used.
"""


def render() -> str:
    """The whole of docs/configuration.md."""
    return "\n".join([HEADER.rstrip("\n"), *_tables(leaf_settings()), OTHER_VARIABLES])


def write(path: Path) -> bool:
    """Write the reference to ``path``; True when the file changed."""
    text = render()
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True
