"""The UI is its own service: it reaches data over HTTP, never through the database or MLflow.

Ruff's banned-import rule cannot say "frontend may import streamlit but not the API", so
this test reads every module of frontend/ and checks what it imports.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
#: What the UI may import besides the standard library and itself.
ALLOWED = {"streamlit", "plotly", "pandas", "httpx", "numpy"}
#: The only parts of the package it may use: the record contract, settings, CSV safety.
ALLOWED_PACKAGE = {"attrition.schema", "attrition.config", "attrition.data.csv_safety"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _refused(name: str) -> bool:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top in ALLOWED or top == "frontend" or top == "__future__":
        return False
    return name not in ALLOWED_PACKAGE


def test_frontend_imports_only_the_contract_settings_and_ui_libraries() -> None:
    modules = sorted(FRONTEND.rglob("*.py"))
    assert len(modules) >= 10  # the app, its client and helpers, and the pages
    refused = {
        f"{path.relative_to(FRONTEND)}: {name}"
        for path in modules
        for name in _imports(path)
        if _refused(name)
    }
    assert not refused, "frontend/ must reach data through the API only: " + ", ".join(sorted(refused))


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    page = tmp_path / "page.py"
    page.write_text(
        "import sqlalchemy\nfrom attrition.db.engine import get_engine\nfrom attrition import schema\n"
    )
    assert {name for name in _imports(page) if _refused(name)} == {
        "sqlalchemy",
        "attrition.db.engine",
        "attrition",
    }
