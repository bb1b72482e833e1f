"""The compose stack end to end, its services run as local processes (tests/stack_support.py).

docker-compose.yml is read as compose reads it (merge keys, ``${VAR:?}`` from a test .env of
random secrets), each service gets its own environment and its image's ENV with container paths
and host names mapped to this machine, and the deployment's own pieces do the work:
init-databases.sh makes the three databases, ``mlflow server`` serves the registry and the
artifacts, ``attrition bootstrap`` trains the first champion, two API replicas answer behind a
round-robin entry point, the drift service runs its first check, the UI shows it; the
compose healthchecks are the readiness probes. A setting renamed in compose but not in the
code (or the reverse) breaks a step here.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from stack_support import (
    RUNTIME_SUFFIX,
    LocalService,
    Network,
    Process,
    RoundRobinProxy,
    database_names,
    drop_databases,
    environment_of,
    existing,
    free_port,
    group_members,
    init_databases,
    load_compose,
    local_service,
    postgres_healthy,
    read_dot_env,
    runtime_roles,
    start,
    stop,
    wait_healthy,
)

from attrition.config import MODEL_NAME, MONITORING_EXPERIMENT, TRAINING_EXPERIMENT, reset_settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SERVER_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres?connect_timeout=3"
#: Small enough for a 2-core machine; the compose command gets them appended (test only).
BOOTSTRAP_ARGS = ["--rows", "600", "--trials", "2"]
PLACEHOLDER = "change-me"
STATUS_FILE = "monitoring_status.json"


def _server_url() -> str:
    """The local PostgreSQL superuser connection (ATTRITION_TEST_POSTGRES_URL's server, database postgres)."""
    given = os.environ.get("ATTRITION_TEST_POSTGRES_URL")
    if not given:
        return SERVER_DEFAULT
    return make_url(given).set(database="postgres").render_as_string(hide_password=False)


def _unusable(url: str) -> str | None:
    if shutil.which("psql") is None:
        return "psql is not installed (init-databases.sh runs it)"
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except sa.exc.SQLAlchemyError as exc:
        return (
            f"PostgreSQL at {make_url(url).render_as_string()} is not reachable: {str(exc).splitlines()[0]}"
        )
    return None


@pytest.fixture
def server_url() -> str:
    url = _server_url()
    reason = _unusable(url)
    if reason and os.environ.get("ATTRITION_REQUIRE_SERVERS") == "1":
        pytest.fail(f"ATTRITION_REQUIRE_SERVERS=1 but {reason}")
    if reason:
        pytest.skip(reason)
    return url


def dot_env() -> dict[str, str]:
    """The test's .env: .env.example (as the docs say: copy it) with every change-me value a random secret."""
    values = read_dot_env()
    placeholders = [name for name, value in values.items() if value.startswith(PLACEHOLDER)]
    assert "ATTRITION_BOOTSTRAP_ADMIN_PASSWORD" in placeholders, placeholders
    return values | {name: secrets.token_urlsafe(32) for name in placeholders}


@dataclass
class Stack:
    root: Path
    env: dict[str, str]
    compose: dict[str, Any]
    services: dict[str, LocalService] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    bootstrap_output: str = ""
    proxy: RoundRobinProxy | None = None
    mlflow: str = ""

    @property
    def entry(self) -> str:
        assert self.proxy is not None
        return f"http://127.0.0.1:{self.proxy.port}"

    @property
    def admin(self) -> str:
        return self.services["bootstrap"].env["ATTRITION_BOOTSTRAP_ADMIN_NAME"]

    def volume(self, name: str) -> Path:
        return self.root / "volumes" / name


def _bootstrap(service: LocalService, logs: Path) -> str:
    """The one-shot, in its own process group like the services (killed with it on a timeout)."""
    process = start(replace(service, command=service.command + BOOTSTRAP_ARGS), logs)
    try:
        code = process.popen.wait(timeout=180)
    except subprocess.TimeoutExpired:
        stop(process)
        pytest.fail(f"attrition bootstrap still running after 180 s:\n{process.tail()}")
    assert not group_members(process.pgid), "attrition bootstrap left processes behind"
    assert code == 0, f"attrition bootstrap exit {code}:\n{process.tail(4000)}"
    return process.log.read_text()


def _bring_up(stack: Stack, network: Network, logs: Path) -> None:
    """Start order of compose's depends_on: mlflow -> bootstrap -> api x2 -> drift, ui."""
    compose, root = stack.compose, stack.root
    mlflow = local_service(compose, "mlflow", network, root, port=network.mlflow_port)
    stack.services["mlflow"] = mlflow
    stack.processes["mlflow"] = start(mlflow, logs)
    wait_healthy(mlflow, stack.processes["mlflow"], timeout=90)

    stack.services["bootstrap"] = local_service(compose, "bootstrap", network, root)
    stack.bootstrap_output = _bootstrap(stack.services["bootstrap"], logs)

    assert stack.proxy is not None
    for index, (_, port) in enumerate(stack.proxy.upstreams):
        name = f"api-{index + 1}"
        stack.services[name] = local_service(compose, "api", network, root, port=port)
        stack.processes[name] = start(stack.services[name], logs, name)
    stack.services["drift"] = local_service(compose, "drift", network, root)
    stack.processes["drift"] = start(stack.services["drift"], logs)
    for index in range(len(stack.proxy.upstreams)):
        name = f"api-{index + 1}"
        wait_healthy(stack.services[name], stack.processes[name], timeout=120)
    stack.services["ui"] = local_service(compose, "ui", network, root, port=free_port())
    stack.processes["ui"] = start(stack.services["ui"], logs)
    wait_healthy(stack.services["ui"], stack.processes["ui"], timeout=90)


@pytest.fixture
def stack(tmp_path: Path, server_url: str) -> Iterator[Stack]:
    """The whole stack up; at the end every process group is gone and the databases are dropped."""
    suffix = uuid.uuid4().hex[:8]
    defaults = database_names()
    local_names = {default: f"{default}_stack_{suffix}" for default in defaults}
    roles = [*local_names.values(), *(f"{local_names[db]}{RUNTIME_SUFFIX}" for db in runtime_roles())]
    env = dot_env()
    compose = load_compose(env)
    stack = Stack(tmp_path, env, compose)
    server = make_url(server_url)
    network = Network(
        postgres=(server.host or "127.0.0.1", server.port or 5432),
        mlflow_port=free_port(),
        api_port=0,
        databases=local_names,
    )
    replicas = int(compose["services"]["api"]["deploy"]["replicas"])
    assert replicas >= 2, f"API_REPLICAS={replicas}: the round-robin check needs two replicas"
    proxy = RoundRobinProxy([("127.0.0.1", free_port()) for _ in range(replicas)])
    network.api_port = proxy.port
    stack.proxy = proxy
    leftovers: dict[str, list[int]] = {}
    with ExitStack() as cleanup:
        cleanup.callback(drop_databases, server_url, roles)
        ready = postgres_healthy(compose, server_url)
        assert ready.returncode == 0, f"postgres healthcheck: {ready.stdout}{ready.stderr}"
        postgres_env = environment_of(compose["services"]["postgres"])
        init_databases(postgres_env, server_url, {var: local_names[d] for d, (var, _) in defaults.items()})
        proxy.start()
        cleanup.callback(proxy.close)
        cleanup.callback(lambda: leftovers.update(_stop_all(stack)))
        stack.mlflow = f"http://127.0.0.1:{network.mlflow_port}"
        _bring_up(stack, network, tmp_path / "logs")
        yield stack
    assert not any(leftovers.values()), f"processes left running after teardown: {leftovers}"
    _stopped_cleanly(stack)
    assert existing(server_url, roles) == {"databases": [], "roles": []}


def _stopped_cleanly(stack: Stack) -> None:
    """SIGTERM (docker stop) ends each service gracefully: exit 0, or uvicorn's re-raised SIGTERM after its shutdown."""
    codes = {name: process.popen.returncode for name, process in stack.processes.items()}
    apis = [name for name in codes if name.startswith("api-")]
    assert {name: code for name, code in codes.items() if name not in apis} == dict.fromkeys(
        ["mlflow", "drift", "ui"], 0
    ), codes
    for name in apis:  # the lifespan's shutdown ran: the prediction log was flushed
        assert "Application shutdown complete." in stack.processes[name].tail(), stack.processes[name].tail()


def _stop_all(stack: Stack) -> dict[str, list[int]]:
    """Every service's process group, last started first; pids still alive per service."""
    return {name: stop(process) for name, process in reversed(list(stack.processes.items()))}


# --- the checks ------------------------------------------------------------------------------------


def _sign_in(stack: Stack) -> dict[str, str]:
    answer = httpx.post(
        f"{stack.entry}/v1/auth/token",
        data={
            "grant_type": "password",
            "username": stack.admin,
            "password": stack.env["ATTRITION_BOOTSTRAP_ADMIN_PASSWORD"],
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _predictions_reach_both_replicas(stack: Stack, auth: dict[str, str]) -> None:
    assert stack.proxy is not None
    with httpx.Client(base_url=stack.entry, headers=auth, timeout=30) as client:  # one keep-alive connection
        sample = client.get("/v1/employees/sample")
        assert sample.status_code == 200, sample.text
        answers = [client.post("/v1/predict", json=sample.json()) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert {a.json()["model_version"] for a in answers} == {"1"}
    assert all(0.0 <= a.json()["probability"] <= 1.0 for a in answers)
    served = stack.proxy.served("POST", "/v1/predict")
    assert all(count >= 1 for count in served.values()), served  # a token from one replica works on the other
    for name in (n for n in stack.processes if n.startswith("api-")):
        assert '"POST /v1/predict HTTP/1.1" 200' in stack.processes[name].log.read_text(), name


def _first_drift_check(stack: Stack) -> dict[str, Any]:
    """The drift service's status file once its first check is done; its compose healthcheck passes."""
    path = stack.volume("appdata") / STATUS_FILE
    process = stack.processes["drift"]
    deadline = time.monotonic() + 180
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert process.popen.poll() is None, f"drift service exited:\n{process.tail()}"
        if path.exists():
            status = json.loads(path.read_text())
            if status.get("runs", 0) >= 1:
                break
        time.sleep(1)
    else:
        pytest.fail(f"no drift check within 180 s (status {status}):\n{process.tail()}")
    last = status["last_run"]
    assert last["status"] == "ok" and last["error"] is None, last
    assert status["state"] == "sleeping" and status["next_run_at"], status
    check = subprocess.run(
        stack.services["drift"].healthcheck or [],
        env=stack.services["drift"].env,
        capture_output=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    return dict(last)


def _drift_run_in_api(stack: Stack, auth: dict[str, str], run: dict[str, Any]) -> None:
    runs = httpx.get(f"{stack.entry}/v1/drift/runs", headers=auth, timeout=30)
    assert runs.status_code == 200, runs.text
    listed = {item["run_id"]: item for item in runs.json()["items"]}
    assert run["run_id"] in listed, listed
    assert listed[run["run_id"]]["severity"] == run["severity"]
    latest = httpx.get(f"{stack.entry}/v1/drift/latest", headers=auth, timeout=30).json()
    assert latest["run_id"] == run["run_id"]


def _drift_run_on_ui_page(stack: Stack, run: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The UI's drift page (AppTest) against the API URL the ui service is given."""
    from streamlit.testing.v1 import AppTest
    from ui_support import APP, texts

    api_url = stack.services["ui"].env["ATTRITION_UI__API_URL"]
    assert api_url == stack.entry
    monkeypatch.setenv("ATTRITION_UI__API_URL", api_url)
    monkeypatch.setenv("ATTRITION_UI__CACHE_SECONDS", "0")
    reset_settings()
    from frontend.client import ApiClient

    client = ApiClient(api_url)
    try:
        session = client.sign_in(stack.admin, stack.env["ATTRITION_BOOTSTRAP_ADMIN_PASSWORD"])
    finally:
        client.close()
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["session"] = session
    app.run()
    app.switch_page("app_pages/drift.py").run()
    reset_settings()
    assert not app.exception, app.exception
    assert f"drift: {run['severity']}" in texts(app)
    assert app.selectbox(key="drift_run").value == run["run_id"]


def _mlflow(stack: Stack, method: str, path: str, **kwargs: Any) -> Any:
    answer = httpx.request(method, f"{stack.mlflow}{path}", timeout=30, **kwargs)
    assert answer.status_code == 200, f"{method} {path}: {answer.status_code} {answer.text[:500]}"
    return answer.json() if "json" in answer.headers.get("content-type", "") else answer


def _mlflow_has_champion_and_drift_run(stack: Stack, run: dict[str, Any]) -> None:
    """Registry, runs and served artifacts, over the MLflow server's REST API only."""
    version = _mlflow(
        stack,
        "GET",
        "/api/2.0/mlflow/registered-models/alias",
        params={"name": MODEL_NAME, "alias": "champion"},
    )["model_version"]
    assert version["version"] == "1"
    trained = _mlflow(stack, "GET", "/api/2.0/mlflow/runs/get", params={"run_id": version["run_id"]})["run"]
    experiment = _mlflow(
        stack,
        "GET",
        "/api/2.0/mlflow/experiments/get",
        params={"experiment_id": trained["info"]["experiment_id"]},
    )["experiment"]
    assert experiment["name"] == TRAINING_EXPERIMENT and trained["info"]["status"] == "FINISHED"

    monitoring = _mlflow(
        stack,
        "GET",
        "/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": MONITORING_EXPERIMENT},
    )["experiment"]
    found = _mlflow(
        stack,
        "POST",
        "/api/2.0/mlflow/runs/search",
        json={
            "experiment_ids": [monitoring["experiment_id"]],
            "filter": f"tags.drift_run_id = '{run['run_id']}'",
        },
    )
    [drift] = found["runs"]
    tags = {tag["key"]: tag["value"] for tag in drift["data"]["tags"]}
    assert tags["severity"] == str(run["severity"])

    _champion_artifact_downloads(stack, version)


def _champion_artifact_downloads(stack: Stack, version: dict[str, Any]) -> None:
    """The champion's MLmodel file through ``/api/2.0/mlflow-artifacts`` (the server holds the files)."""
    source = version["source"]
    if source.startswith("models:/"):
        model_id = source.removeprefix("models:/")
        logged = _mlflow(stack, "GET", f"/api/2.0/mlflow/logged-models/{model_id}")["model"]
        source = logged["info"]["artifact_uri"]
    assert source.startswith("mlflow-artifacts:/"), source
    path = source.removeprefix("mlflow-artifacts:").lstrip("/")
    listing = _mlflow(stack, "GET", "/api/2.0/mlflow-artifacts/artifacts", params={"path": path})
    assert "MLmodel" in {Path(f["path"]).name for f in listing.get("files", [])}, listing
    mlmodel = _mlflow(stack, "GET", f"/api/2.0/mlflow-artifacts/artifacts/{path}/MLmodel")
    assert "flavors:" in mlmodel.text
    assert (stack.volume("mlartifacts") / path / "MLmodel").read_text() == mlmodel.text


def _optuna_study_in_its_database(stack: Stack) -> None:
    """Bootstrap's search ran on the Optuna storage compose gives it (ATTRITION_OPTUNA_STORAGE)."""
    url = stack.services["drift"].env["ATTRITION_OPTUNA_STORAGE"]
    engine = sa.create_engine(url)
    try:
        tables = sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert "studies" in tables, (
        f"ATTRITION_OPTUNA_STORAGE is set for bootstrap but its database has no Optuna tables ({tables})"
    )


def _process_groups_hold_the_workers(stack: Stack) -> None:
    """Each service leads its own group; MLflow's (--workers 2) holds its workers too, so teardown's killpg reaches them."""
    for process in stack.processes.values():
        assert process.pgid in group_members(process.pgid), process.name
    assert len(group_members(stack.processes["mlflow"].pgid)) >= 3


def _services_write_rows_but_not_the_schema(stack: Stack) -> None:
    """The API and drift service run as the app database's runtime role: rows yes, DDL no; bootstrap as the owner."""
    urls = {name: make_url(stack.services[name].env["ATTRITION_DATABASE_URL"]) for name in ("api-1", "drift")}
    owner = make_url(stack.services["bootstrap"].env["ATTRITION_DATABASE_URL"])
    assert owner.username == owner.database
    assert {url.username for url in urls.values()} == {f"{owner.database}{RUNTIME_SUFFIX}"}
    engine = sa.create_engine(urls["api-1"])
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM predictions")).scalar_one() > 0
            for ddl in (
                "CREATE TABLE intruder (x int)",
                "DROP TABLE predictions",
                "ALTER TABLE audit_log DROP COLUMN actor",
            ):
                with pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|must be owner"):
                    conn.execute(sa.text(ddl))
                conn.rollback()
    finally:
        engine.dispose()


def test_the_compose_stack_runs_end_to_end(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    _process_groups_hold_the_workers(stack)
    assert "champion: trained and promoted" in stack.bootstrap_output, stack.bootstrap_output
    auth = _sign_in(stack)
    _predictions_reach_both_replicas(stack, auth)
    run = _first_drift_check(stack)
    _drift_run_in_api(stack, auth, run)
    _drift_run_on_ui_page(stack, run, monkeypatch)
    _mlflow_has_champion_and_drift_run(stack, run)
    _optuna_study_in_its_database(stack)
    _services_write_rows_but_not_the_schema(stack)
