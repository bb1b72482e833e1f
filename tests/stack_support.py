"""docker-compose.yml's services as local processes, for the stack smoke test (no Docker engine).

What a container would get, read from the deployment files themselves, so a name changed in
one of them and not in the code breaks the test:

* ``${VAR:-default}`` / ``${VAR:?message}`` interpolation from a dict (the test's ``.env``);
* each service's ``environment`` (``<<`` merge keys resolved by PyYAML) over its image's
  Dockerfile ``ENV``, ``command`` and ``healthcheck``;
* container paths mapped to host paths: named volumes to one directory per volume (shared by
  the services that mount it, as in compose), bind mounts to the checkout, the image's WORKDIR
  to a directory holding links to what the Dockerfile COPYs there, ``/opt/venv`` to this venv;
  any other absolute path of an ``ENV`` to a private directory of the service;
* service host names to loopback: ``postgres:5432`` the local server, ``mlflow:5000`` and
  ``api:8000`` the ports the test picked, the service's own port its free port;
* PostgreSQL URLs renamed to this run's databases (``init-databases.sh`` makes one role per
  database, named like it, and a ``<database>_app`` runtime role for the app database, so the
  URL's user must be one of those).

Processes run in their own session (process group) so teardown can signal every child a
server spawned (MLflow's workers and job consumers) and check that none is left.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
INIT_DATABASES = REPO / "deploy" / "postgres" / "init-databases.sh"
VENV = Path(sys.prefix)
#: The container image's virtualenv (every Dockerfile copies it from its builder stage).
IMAGE_VENV = "/opt/venv"


class ComposeError(ValueError):
    """The compose file or a Dockerfile cannot be turned into local processes (the message says why)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- interpolation -----------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_]\w*))"
)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation; an unset variable without a default is an error (compose only warns)."""

    def value(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg, current = match.group("op"), match.group("arg") or "", env.get(name)
        missing = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if missing else str(current)
        if op in (":?", "?") and missing:
            raise ComposeError(f"required variable {name} is not set: {arg}")
        if current is None:
            raise ComposeError(f"variable {name} is not set and has no default in {text!r}")
        return current

    return _VARIABLE.sub(value, text)


def read_dot_env(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """A compose ``.env``: ``KEY=value`` lines (comments and blank lines skipped, one pair of quotes removed)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", key.strip()):
            raise ComposeError(f"{path}:{number}: expected KEY=value, got {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _interpolate_all(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_all(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_all(item, env) for key, item in node.items()}
    return node


def load_compose(env: Mapping[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file with merge keys resolved and every string interpolated from ``env``."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
        raise ComposeError(f"{path}: expected a mapping with a 'services' mapping")
    resolved: dict[str, Any] = _interpolate_all(document, env)
    return resolved


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's ``environment`` (mapping or ``KEY=value`` list) as strings; null values as ''."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    if not isinstance(raw, dict):
        raise ComposeError(f"environment must be a mapping or a list, got {type(raw).__name__}")
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


# --- Dockerfiles -------------------------------------------------------------------------------


@dataclass
class Image:
    """The runtime stage of a Dockerfile: its ENV, WORKDIR, COPYs (source, destination), EXPOSEd ports."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    copies: list[tuple[str, str]] = field(default_factory=list)
    exposed: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    parsed = [(word.upper(), rest) for word, _, rest in (line.partition(" ") for line in lines)]
    last_from = max(i for i, (word, _) in enumerate(parsed) if word == "FROM")
    return parsed[last_from + 1 :]


def read_image(dockerfile: Path) -> Image:
    image = Image(dockerfile)
    for word, args in _instructions(dockerfile.read_text(encoding="utf-8")):
        if word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                image.env[key] = value
        elif word == "WORKDIR":
            image.workdir = args.strip()
        elif word == "COPY":
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            if "--from=" not in args:
                image.copies += [(src, parts[-1]) for src in parts[:-1]]
        elif word == "EXPOSE":
            image.exposed += args.split()
        elif word == "CMD":
            image.cmd = json.loads(args) if args.lstrip().startswith("[") else ["sh", "-c", args]
    return image


def dockerfile_of(compose: Mapping[str, Any], name: str) -> Path:
    """The service's ``build.dockerfile``, or that of the service building the same ``image``."""
    services = compose["services"]
    service = services[name]
    builders = [service] + [s for s in services.values() if s.get("image") == service.get("image")]
    for candidate in builders:
        build = candidate.get("build")
        if isinstance(build, dict):
            return REPO / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
    raise ComposeError(f"service {name!r}: no build section gives its image {service.get('image')!r}")


# --- container -> host ---------------------------------------------------------------------------


@dataclass
class Network:
    """Where the containers' host names are on loopback."""

    postgres: tuple[str, int]
    mlflow_port: int
    api_port: int
    #: Container database name (= role name) -> this run's name.
    databases: dict[str, str]


@dataclass
class LocalService:
    """One compose service, ready to start as a process."""

    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    healthcheck: list[str] | None
    port: int | None


class Mapper:
    """Rewrites one service's strings: container paths and host names to their local equivalents."""

    def __init__(self, replacements: dict[str, str], databases: dict[str, str]) -> None:
        keys = sorted(replacements, key=len, reverse=True)
        self._pattern = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w.-])")
        self._replacements = replacements
        self._databases = databases

    def __call__(self, text: str) -> str:
        mapped = self._pattern.sub(lambda m: self._replacements[m.group(1)], text)
        return re.sub(r"postgresql(\+\w+)?://[^\s'\"]+", lambda m: self._database_url(m.group(0)), mapped)

    def _database_url(self, text: str) -> str:
        url = make_url(text)
        runtime = runtime_roles().get(url.database or "")
        if url.database not in self._databases or url.username not in (url.database, runtime):
            raise ComposeError(
                f"{url.render_as_string()}: expected a database init-databases.sh creates "
                f"({', '.join(self._databases)}) reached as the role of the same name or its runtime role"
            )
        local = self._databases[url.database]
        user = local if url.username == url.database else f"{local}{RUNTIME_SUFFIX}"
        return url.set(username=user, database=local).render_as_string(hide_password=False)


def _volume_paths(service: Mapping[str, Any], root: Path) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for volume in service.get("volumes") or []:
        source, target = str(volume).split(":")[:2]
        local = REPO / source if source.startswith((".", "/")) else root / "volumes" / source
        if not source.startswith((".", "/")):
            local.mkdir(parents=True, exist_ok=True)
        paths[target] = local
    return paths


def _workdir(image: Image, name: str, root: Path) -> tuple[Path, dict[str, Path]]:
    """The WORKDIR with links to what the image copies into it; COPYs elsewhere map to the checkout."""
    workdir = root / "work" / name
    workdir.mkdir(parents=True, exist_ok=True)
    elsewhere: dict[str, Path] = {}
    for source, target in image.copies:
        if target.startswith("/") and not target.startswith(image.workdir.rstrip("/") + "/"):
            elsewhere[target] = REPO / source
            continue
        link = Path(os.path.normpath(workdir / target.removeprefix(image.workdir).lstrip("/")))
        if target.endswith("/") or target in (".", "./"):
            link = link / Path(source).name
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(REPO / source)
    return workdir, elsewhere


def local_service(
    compose: Mapping[str, Any], name: str, network: Network, root: Path, *, port: int | None = None
) -> LocalService:
    """Service ``name`` as a local process: its image's ENV, then its compose environment, mapped."""
    service = compose["services"][name]
    image = read_image(dockerfile_of(compose, name))
    paths = _volume_paths(service, root)
    workdir, copied = _workdir(image, name, root)
    paths |= copied | {image.workdir: workdir, IMAGE_VENV: VENV}
    for value in image.env.values():  # container-local paths (not on a volume): private directories
        for token in re.findall(r"(?<![\w.])(/[\w./-]+)", value):
            if not any(token == p or token.startswith(p.rstrip("/") + "/") for p in paths):
                paths[token] = root / "local" / name / token.lstrip("/")
                paths[token].mkdir(parents=True, exist_ok=True)
    replacements = {key: str(value) for key, value in paths.items()}
    pg_host, pg_port = network.postgres
    replacements |= {
        "postgres:5432": f"{pg_host}:{pg_port}",
        "mlflow:5000": f"127.0.0.1:{network.mlflow_port}",
        "api:8000": f"127.0.0.1:{network.api_port}",
        "0.0.0.0": "127.0.0.1",
    }
    for exposed in image.exposed if port is not None else []:
        replacements[f"127.0.0.1:{exposed}"] = f"127.0.0.1:{port}"
    mapper = Mapper(replacements, network.databases)
    env = {
        key: mapper(value.replace("$PATH", os.environ.get("PATH", ""))) for key, value in image.env.items()
    }
    if port is not None:  # the image's listen-port settings (ATTRITION_*__PORT = its EXPOSE) -> the free port
        env |= {k: str(port) for k, v in image.env.items() if k.endswith("_PORT") and v in image.exposed}
    env |= {key: mapper(value) for key, value in environment_of(service).items()}
    env.setdefault("HOME", str(workdir))
    command = [mapper(arg) for arg in service.get("command") or image.cmd]
    if not command:
        raise ComposeError(f"service {name!r}: no command in docker-compose.yml and no CMD in {image.path}")
    if port is not None and "--port" in command:
        command[command.index("--port") + 1] = str(port)
    return LocalService(name, command, env, workdir, _healthcheck(service, mapper), port)


def _healthcheck(service: Mapping[str, Any], mapper: Callable[[str], str]) -> list[str] | None:
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        return None
    if test[0] == "CMD":
        return [mapper(arg) for arg in test[1:]]
    if test[0] == "CMD-SHELL":
        return ["sh", "-c", mapper(test[1])]
    raise ComposeError(f"healthcheck test {test!r}: expected CMD or CMD-SHELL")


# --- databases -----------------------------------------------------------------------------------


def database_names(script: Path = INIT_DATABASES) -> dict[str, tuple[str, str]]:
    """``create "${APP_DB_NAME:-attrition}" "${APP_DB_PASSWORD:-}"`` lines: default name -> (name var, password var)."""
    found = re.findall(r'^create "\$\{(\w+):-(\w+)\}" "\$\{(\w+):-\}"', script.read_text(), re.MULTILINE)
    if not found:
        raise ComposeError(f'{script}: no create "${{NAME_VAR:-name}}" "${{PASSWORD_VAR:-}}" lines')
    return {default: (name_var, password_var) for name_var, default, password_var in found}


#: The runtime role of a database is named after it: ``create_runtime "${APP_DB_NAME:-attrition}" "${APP_DB_NAME:-attrition}_app"``.
RUNTIME_SUFFIX = "_app"


def runtime_roles(script: Path = INIT_DATABASES) -> dict[str, str]:
    """``create_runtime`` lines: default database name -> its runtime role's default name."""
    found = re.findall(
        r'^create_runtime "\$\{\w+:-(\w+)\}" "\$\{\w+:-(\w+)\}(\w+)"', script.read_text(), re.MULTILINE
    )
    if any(suffix != RUNTIME_SUFFIX or base != name for name, base, suffix in found):
        raise ComposeError(f"{script}: a runtime role not named <database>{RUNTIME_SUFFIX}: {found}")
    return {name: f"{name}{suffix}" for name, _, suffix in found}


def postgres_healthy(compose: Mapping[str, Any], server_url: str) -> subprocess.CompletedProcess[str]:
    """The postgres service's compose healthcheck (``pg_isready``), pointed at the local server."""
    test = compose["services"]["postgres"]["healthcheck"]["test"]
    url = make_url(server_url)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
    }
    command = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=False)


def init_databases(postgres_env: Mapping[str, str], server_url: str, names: Mapping[str, str]) -> str:
    """Run ``init-databases.sh`` against the local server with this run's names; returns its output.

    ``postgres_env`` is the compose postgres service's environment (its passwords and
    POSTGRES_USER); ``names`` maps APP_DB_NAME / MLFLOW_DB_NAME / OPTUNA_DB_NAME to this run's.
    """
    url = make_url(server_url)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **postgres_env,
        **names,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGPASSWORD": postgres_env.get("POSTGRES_PASSWORD", ""),
        "PGCONNECT_TIMEOUT": "5",
    }
    done = subprocess.run(
        ["bash", str(INIT_DATABASES)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode:
        raise ComposeError(f"init-databases.sh exit {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def drop_databases(server_url: str, names: list[str]) -> None:
    """Drop this run's databases and their roles (whatever of them exists)."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'DROP ROLE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


def existing(server_url: str, names: list[str]) -> dict[str, list[str]]:
    """Which of ``names`` exist as databases and as roles."""
    admin = sa.create_engine(server_url)
    try:
        with admin.connect() as conn:
            dbs = conn.execute(sa.text("SELECT datname FROM pg_database")).scalars().all()
            roles = conn.execute(sa.text("SELECT rolname FROM pg_roles")).scalars().all()
    finally:
        admin.dispose()
    return {"databases": [n for n in names if n in dbs], "roles": [n for n in names if n in roles]}


# --- processes -----------------------------------------------------------------------------------


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pgid(self) -> int:
        return self.popen.pid  # start_new_session: the leader's pid is the group id

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def start(service: LocalService, logs: Path, label: str | None = None) -> Process:
    """The service's command in a new session, output to ``logs/<label>.log``."""
    label = label or service.name
    log = logs / f"{label}.log"
    logs.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        popen = subprocess.Popen(
            service.command,
            cwd=service.cwd,
            env=service.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(label, popen, log)


def stop(process: Process, timeout: float = 30.0) -> list[int]:
    """SIGTERM the whole group, SIGKILL what is left after ``timeout``; returns pids still alive after that."""
    pgid = process.pgid
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (process.popen.poll() is None or group_members(pgid)):
        time.sleep(0.1)
    if process.popen.poll() is None or group_members(pgid):
        _signal_group(pgid, signal.SIGKILL)
        process.popen.wait(timeout=10)
        time.sleep(0.5)
    return group_members(pgid)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def healthy(service: LocalService, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    """Run the service's compose healthcheck once, in its environment."""
    if service.healthcheck is None:
        raise ComposeError(f"service {service.name!r} has no healthcheck")
    return subprocess.run(
        service.healthcheck,
        env=service.env,
        cwd=service.cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_healthy(service: LocalService, process: Process, timeout: float) -> None:
    """Until the compose healthcheck passes; ComposeError (with the log's tail) if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise ComposeError(f"{process.name} exited {process.popen.returncode}:\n{process.tail()}")
        check = healthy(service)
        if check.returncode == 0:
            return
        last = (check.stderr or check.stdout).strip()[-300:]
        time.sleep(0.5)
    raise ComposeError(f"{process.name} not healthy in {timeout:.0f} s ({last}):\n{process.tail()}")


# --- the round-robin entry point -----------------------------------------------------------------

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


class RoundRobinProxy:
    """``api:8000``: each HTTP request to the next upstream in turn, as Docker's DNS and nginx do.

    Per request, not per connection, so a keep-alive client still reaches every replica.
    ``hits`` counts (upstream index, method, path) of the requests answered.
    """

    def __init__(self, upstreams: list[tuple[str, int]]) -> None:
        self.upstreams = upstreams
        self.hits: Counter[tuple[int, str, str]] = Counter()
        self._turn = itertools.cycle(range(len(upstreams)))
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def next_upstream(self) -> int:
        with self._lock:
            return next(self._turn)

    def record(self, index: int, method: str, path: str) -> None:
        with self._lock:
            self.hits[(index, method, path.split("?", 1)[0])] += 1

    def served(self, method: str, path: str) -> dict[int, int]:
        """How many ``method path`` requests each upstream answered."""
        with self._lock:
            return {i: self.hits[(i, method, path)] for i in range(len(self.upstreams))}

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(proxy: RoundRobinProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            index = proxy.next_upstream()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["X-Forwarded-For"] = self.client_address[0]
            upstream = http.client.HTTPConnection(*proxy.upstreams[index], timeout=120)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                status, reason, content = response.status, response.reason, response.read()
                answer = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            except OSError as exc:
                status, reason = 502, "Bad Gateway"
                content = f'{{"detail": "upstream {index} unreachable: {exc}"}}'.encode()
                answer = [("Content-Type", "application/json")]
            finally:
                upstream.close()
            proxy.record(index, self.command, self.path)
            self.send_response_only(status, reason)
            for key, value in answer:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
