"""The launcher's bookkeeping, without starting a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from labelbook.errors import ServerError
from labelbook.server import launcher
from labelbook.server.launcher import Credentials, ServerPaths


def test_credentials_never_show_secrets_in_repr() -> None:
    credentials = Credentials.generate()
    assert credentials.password not in repr(credentials)
    assert credentials.api_key not in repr(credentials)
    assert credentials.username in repr(credentials)


def test_credentials_file_is_private_and_round_trips(tmp_path: Path) -> None:
    credentials = Credentials.generate()
    credentials.write(tmp_path / "credentials.json")
    assert (tmp_path / "credentials.json").stat().st_mode & 0o777 == 0o600
    assert Credentials.read(tmp_path / "credentials.json") == credentials
    assert Credentials.read(tmp_path / "missing.json") is None


def test_damaged_credentials_file_says_how_to_recover(tmp_path: Path) -> None:
    (tmp_path / "credentials.json").write_text("{not json")
    with pytest.raises(ServerError, match="Delete it and run `labelbook server start` again"):
        Credentials.read(tmp_path / "credentials.json")


def test_generated_credentials_differ_each_time() -> None:
    assert Credentials.generate().api_key != Credentials.generate().api_key


def test_redis_socket_moves_out_of_deep_data_dirs(tmp_path: Path) -> None:
    shallow = ServerPaths(tmp_path)
    assert shallow.redis_socket == tmp_path / "run" / "redis.sock"
    deep = ServerPaths(tmp_path / ("x" * 120))
    assert len(str(deep.redis_socket)) <= 100
    assert deep.redis_socket == ServerPaths(tmp_path / ("x" * 120)).redis_socket  # stable per data dir
    assert deep.redis_socket != ServerPaths(tmp_path / ("y" * 120)).redis_socket


def _write_pid_file(paths: ServerPaths, component: str, pid: int, create_time: float) -> None:
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "create_time": create_time, "cmdline": []}
    paths.pid_file(component).write_text(json.dumps(record))


def test_no_pid_files_means_stopped(tmp_path: Path) -> None:
    result = launcher.status(tmp_path)
    assert (result.state, result.exit_code) == ("stopped", 3)


def test_pid_file_naming_a_recycled_pid_is_not_trusted(tmp_path: Path) -> None:
    """A live process with another start time is somebody else's: reported, never adopted."""
    paths = ServerPaths(tmp_path)
    me = psutil.Process()
    _write_pid_file(paths, "api", me.pid, me.create_time() - 1000)
    result = launcher.status(tmp_path)
    assert result.state == "crashed"
    assert result.pids["api"] is None
    assert result.exit_code == 1


def test_stop_never_signals_a_process_it_did_not_start(tmp_path: Path) -> None:
    paths = ServerPaths(tmp_path)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        created = psutil.Process(bystander.pid).create_time()
        _write_pid_file(paths, "worker", bystander.pid, created + 5)  # same pid, other process
        _write_pid_file(paths, "redis", 2**22 + 7, 0.0)  # a pid that does not exist
        launcher.stop(tmp_path)
        assert bystander.poll() is None
        assert not paths.pid_file("worker").exists()
        assert launcher.status(tmp_path).state == "stopped"
    finally:
        bystander.kill()
        bystander.wait()


def test_stop_ends_the_process_group_of_an_owned_process(tmp_path: Path) -> None:
    paths = ServerPaths(tmp_path)
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    proc = psutil.Process(parent.pid)
    try:
        deadline = time.monotonic() + 30
        while not proc.children() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = proc.children()[0]
        _write_pid_file(paths, "api", parent.pid, proc.create_time())
        assert launcher.status(tmp_path).pids["api"] == parent.pid
        launcher.stop(tmp_path)
        parent.wait(timeout=10)
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait()


def test_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ServerError, match=r"not writable.*--data-dir"):
        launcher.start(blocker / "data")


def test_busy_port_is_refused_and_its_holder_named(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ServerError, match=rf"Port {port} .* in use.*--port"):
            launcher.start(tmp_path / "data", port=port)
    # Nothing was left behind for a port we refused.
    assert launcher.status(tmp_path / "data").state == "stopped"


@pytest.mark.parametrize(("state", "code"), [("running", 0), ("crashed", 1), ("stopped", 3)])
def test_status_exit_codes_follow_init_scripts(state: launcher.State, code: int) -> None:
    assert launcher.ServerStatus(state=state, data_dir=Path("/x")).exit_code == code


def test_child_environment_points_argilla_at_the_data_dir(tmp_path: Path) -> None:
    os.environ["ARGILLA_API_KEY"] = "leak-me-not"
    try:
        env = launcher.child_environment(ServerPaths(tmp_path))
    finally:
        del os.environ["ARGILLA_API_KEY"]
    assert "ARGILLA_API_KEY" not in env
    assert env["ARGILLA_DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path / 'argilla.db'}"
    assert env["ARGILLA_SEARCH_ENGINE"] == "labelbook"
    assert env["ARGILLA_ENABLE_TELEMETRY"] == "0"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("0.0.0.0", False)],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert launcher.is_loopback(host) is loopback
