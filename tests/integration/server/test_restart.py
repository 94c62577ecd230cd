"""What survives a restart, what `start` prints when the server already runs, and the folders and
files the server refuses to use when someone else could read or replace them."""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from labelbook import server
from labelbook.errors import ServerError
from labelbook.server import ServerPaths


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class OwnServer:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnServer]:
    data_dir = tmp_path_factory.mktemp("restart-server")
    running = OwnServer(data_dir, free_port())
    try:
        assert server.start(data_dir, port=running.port).state == "running"
        yield running
    finally:
        server.stop(data_dir)


def test_a_restart_keeps_contractors_logged_in(own_server: OwnServer) -> None:
    info = server.status(own_server.data_dir)
    assert info.credentials is not None
    password = secrets.token_urlsafe(12)
    owner = {"X-Argilla-Api-Key": info.credentials.api_key}
    with httpx.Client(base_url=f"{own_server.url}/api/v1", timeout=30, trust_env=False) as client:
        created = client.post(
            "/users",
            headers=owner,
            json={
                "username": "restart-contractor",
                "password": password,
                "role": "annotator",
                "first_name": "c",
            },
        )
        assert created.status_code == 201, created.text
        # The web UI signs in like this and keeps the token.
        login = client.post("/token", data={"username": "restart-contractor", "password": password})
        assert login.status_code == 201, login.text
        token = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert client.get("/me", headers=token).json()["username"] == "restart-contractor"

    secret_file = ServerPaths(own_server.data_dir).auth_secret
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text()
    server.stop(own_server.data_dir)
    assert server.start(own_server.data_dir, port=own_server.port).state == "running"

    with httpx.Client(base_url=f"{own_server.url}/api/v1", timeout=30, trust_env=False) as client:
        again = client.get("/me", headers=token)
        assert again.status_code == 200, again.text
        assert again.json()["username"] == "restart-contractor"
        assert client.get("/me", headers={"Authorization": "Bearer forged.token.value"}).status_code == 401
    assert secret_file.read_text() == secret  # made once, kept
    logs = "".join(
        p.read_text(errors="replace") for p in ServerPaths(own_server.data_dir).log_dir.glob("*.log")
    )
    assert secret.strip() not in logs


def test_start_upgrades_an_existing_databases_search_schema_before_the_api_and_its_timeout(
    own_server: OwnServer,
) -> None:
    """At a million records rebuilding the search indexes takes minutes; inside the API it ran
    against the start's 90 s wait, and a start that timed out rolled it back every time."""
    import sqlite3

    from labelbook.server import schema

    database = ServerPaths(own_server.data_dir).database
    server.stop(own_server.data_dir)
    with sqlite3.connect(database) as conn:
        conn.execute("DROP INDEX lb_ix_records_dataset_inserted")
    schema._schema_ready.discard(str(database))
    heard: list[str] = []
    assert server.start(own_server.data_dir, port=own_server.port, announce=heard.append).state == "running"
    assert str(database) in schema._schema_ready  # upgraded here, in the launcher, before the API started
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        assert conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'lb_ix_records_dataset_inserted'"
        ).fetchone()
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    # The start says what takes long before it starts (silent otherwise, at a million records).
    assert heard == [
        f"Upgrading the search engine's tables for {records:,} records (1 index): "
        "minutes at a million records; the server starts when it is done."
    ]
    # Nothing to build: nothing said.
    schema._schema_ready.discard(str(database))
    schema.ensure_schema(database, announce=heard.append)
    assert len(heard) == 1


def test_start_of_a_running_server_does_not_print_the_login_again(own_server: OwnServer) -> None:
    info = server.status(own_server.data_dir)
    assert info.credentials is not None
    for extra in ([], ["--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "labelbook.cli", "server", "start", "--data-dir", str(own_server.data_dir),
             "--port", str(own_server.port), *extra],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        shown = done.stdout + done.stderr
        assert info.credentials.password not in shown and info.credentials.api_key not in shown
        assert str(ServerPaths(own_server.data_dir).credentials) in shown
        if extra:
            report = json.loads(done.stdout)
            assert report["already_running"] is True and report["state"] == "running"
        else:
            assert "already running" in shown


# --- refusing folders and files others could reach (no server is started) -----------------------------


def test_a_redis_socket_folder_open_to_others_is_refused(tmp_path: Path) -> None:
    paths = ServerPaths(tmp_path / "data")
    paths.run_dir.mkdir(parents=True)
    paths.run_dir.chmod(0o755)
    with pytest.raises(ServerError, match="open to others") as caught:
        server.start(paths.data_dir, port=free_port())
    assert str(paths.run_dir) in str(caught.value) and "chmod 700" in str(caught.value)
    assert not list(paths.run_dir.glob("*.pid"))


def test_a_redis_socket_folder_in_tmp_made_by_someone_else_is_refused(tmp_path: Path) -> None:
    # A data dir so deep that the socket moves to a folder with a predictable name under /tmp.
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "data"
    socket_dir = ServerPaths(deep).redis_socket.parent
    assert str(socket_dir).startswith("/tmp/labelbook-")
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    socket_dir.symlink_to(target)  # what someone who got there first could leave
    try:
        with pytest.raises(ServerError, match="symbolic link"):
            server.start(deep, port=free_port())
        socket_dir.unlink()
        socket_dir.mkdir(mode=0o700)
        socket_dir.chmod(0o777)
        with pytest.raises(ServerError, match="open to others"):
            server.start(deep, port=free_port())
    finally:
        if socket_dir.is_symlink():
            socket_dir.unlink()
        elif socket_dir.exists():
            socket_dir.rmdir()


def test_the_socket_folder_is_created_private(tmp_path: Path) -> None:
    from labelbook.server.launcher import _prepare_data_dir

    old = os.umask(0o000)  # even with a permissive umask
    try:
        paths = ServerPaths(tmp_path / "data")
        _prepare_data_dir(paths)
    finally:
        os.umask(old)
    assert stat.S_IMODE(paths.redis_socket.parent.stat().st_mode) == 0o700


def test_a_token_key_others_can_read_is_refused(tmp_path: Path) -> None:
    from labelbook.server.launcher import auth_secret

    paths = ServerPaths(tmp_path)
    first = auth_secret(paths)
    assert auth_secret(paths) == first and len(first) == 64
    paths.auth_secret.chmod(0o644)
    with pytest.raises(ServerError, match="mode 0600") as caught:
        auth_secret(paths)
    assert first not in str(caught.value)
