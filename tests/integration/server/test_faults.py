"""The launcher under faults: a killed API, busy ports, unusable data dirs, stale pid files.

These tests run their own server (own data dir, own port) so they can kill it, and reuse it
from test to test in file order to keep the number of ~5 s server starts at three.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import argilla as rg
import httpx
import psutil
import pytest

from labelbook import server
from labelbook.errors import ServerError
from labelbook.server import ServerPaths

pytestmark = pytest.mark.load

TIMEOUT = httpx.Timeout(30.0)
BATCH = 200


@dataclass
class ExtraServer:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_key(self) -> str:
        info = server.status(self.data_dir)
        assert info.credentials is not None
        return info.credentials.api_key


@pytest.fixture(scope="module")
def extra_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtraServer]:
    data_dir = tmp_path_factory.mktemp("faults-server")
    running = ExtraServer(data_dir, free_port())
    try:
        info = server.start(data_dir, port=running.port)
        assert info.state == "running", info.problems
        yield running
    finally:
        server.stop(data_dir)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labelbook.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def cli_status(data_dir: Path) -> tuple[int, dict[str, Any]]:
    done = cli("server", "status", "--data-dir", str(data_dir), "--json")
    return done.returncode, json.loads(done.stdout)


def processes_of(data_dir: Path) -> list[psutil.Process]:
    """Every live process started for `data_dir`, found by the environment the launcher gives them."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get("LABELBOOK_SERVER_DATA_DIR") == str(data_dir):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_until_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def listed_external_ids(url: str, api_key: str, dataset_id: str) -> set[str]:
    ids: set[str] = set()
    with httpx.Client(
        base_url=url, headers={"X-Argilla-Api-Key": api_key}, timeout=TIMEOUT, trust_env=False
    ) as c:
        while True:
            page = c.get(f"/api/v1/datasets/{dataset_id}/records", params={"offset": len(ids), "limit": 1000})
            page.raise_for_status()
            items = page.json()["items"]
            if not items:
                return ids
            ids.update(item["external_id"] for item in items)


# --- the running server ----------------------------------------------------------------------------


def test_starting_twice_reports_the_running_server(extra_server: ExtraServer) -> None:
    first = server.status(extra_server.data_dir)
    again = server.start(extra_server.data_dir, port=extra_server.port)
    assert again.already_running
    assert again.state == "running"
    assert again.pids == first.pids
    assert again.url == extra_server.url


def test_status_cli_reports_running_as_json_and_credentials_are_private(extra_server: ExtraServer) -> None:
    code, report = cli_status(extra_server.data_dir)
    assert code == 0
    assert report["state"] == "running"
    assert report["url"] == extra_server.url
    assert set(report["pids"]) == {"redis", "api", "worker"}
    assert "api_key" not in report and "password" not in report
    mode = stat.S_IMODE(ServerPaths(extra_server.data_dir).credentials.stat().st_mode)
    assert mode == 0o600


# --- refusing to start ------------------------------------------------------------------------------


def test_a_port_held_by_another_program_is_refused_and_left_alone(tmp_path: Path) -> None:
    port = free_port()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            f"s = socket.create_server(('127.0.0.1', {port}))\n"
            "print('listening', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "listening"
        with pytest.raises(ServerError) as caught:
            server.start(tmp_path / "data", port=port)
        message = str(caught.value)
        assert str(port) in message and "--port" in message
        assert holder.poll() is None, "the program holding the port was signalled"
        assert server.status(tmp_path / "data").state == "stopped"
        assert list((tmp_path / "data" / "run").glob("*.pid")) == []
        assert processes_of(tmp_path / "data") == []
    finally:
        holder.kill()
        holder.communicate(timeout=10)


def test_a_data_dir_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    # As root chmod stops nothing, but no one can create a folder under a regular file.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    data_dir = blocker / "server"
    with pytest.raises(ServerError, match="not writable") as caught:
        server.start(data_dir, port=free_port())
    assert str(data_dir) in str(caught.value) and "--data-dir" in str(caught.value)


# --- kill -9 of the API during a bulk log ------------------------------------------------------------


def test_kill_9_of_the_api_during_a_bulk_log_loses_no_acknowledged_record(extra_server: ExtraServer) -> None:
    url, api_key = extra_server.url, extra_server.api_key
    client = rg.Argilla(api_url=url, api_key=api_key)
    dataset = rg.Dataset(
        name=f"crash-{uuid.uuid4().hex[:8]}",
        workspace="labelbook",
        settings=rg.Settings(
            fields=[rg.TextField("text")], questions=[rg.LabelQuestion("label", labels=["a", "b"])]
        ),
        client=client,
    ).create()
    client.http_client.close()
    api_pid = server.status(extra_server.data_dir).pids["api"]
    assert api_pid is not None

    acknowledged: list[str] = []
    failures: list[str] = []
    enough = threading.Event()

    def log_batches() -> None:
        headers = {"X-Argilla-Api-Key": api_key}
        with httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT, trust_env=False) as http:
            for batch in range(200):
                ids = [f"b{batch}-{n}" for n in range(BATCH)]
                items = [{"external_id": ext, "fields": {"text": f"text of {ext}"}} for ext in ids]
                try:
                    reply = http.post(f"/api/v1/datasets/{dataset.id}/records/bulk", json={"items": items})
                except httpx.HTTPError as err:
                    failures.append(repr(err))
                    return
                if reply.status_code != 201:
                    failures.append(f"{reply.status_code} {reply.text[:200]}")
                    return
                acknowledged.extend(ids)
                if batch >= 3:
                    enough.set()

    logger = threading.Thread(target=log_batches)
    logger.start()
    try:
        assert enough.wait(timeout=60), f"the bulk log never got going: {failures}"
        os.kill(api_pid, signal.SIGKILL)
    finally:
        logger.join(timeout=60)
    assert not logger.is_alive()
    assert failures, "the bulk log outlived the API it was talking to"
    assert len(acknowledged) >= 4 * BATCH

    # SIGKILL is asynchronous: the sockets close before the kernel finishes tearing the process down.
    assert wait_until_dead(api_pid, timeout=30)
    crashed = server.status(extra_server.data_dir)
    assert crashed.state == "crashed"
    assert crashed.pids["api"] is None and any("api" in problem for problem in crashed.problems)
    code, report = cli_status(extra_server.data_dir)
    assert (code, report["state"]) == (1, "crashed")

    restarted = server.start(extra_server.data_dir, port=extra_server.port)
    assert restarted.state == "running" and not restarted.already_running
    assert restarted.pids["api"] != api_pid

    stored = listed_external_ids(url, api_key, str(dataset.id))
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"

    # And the restarted server works: the SDK logs and reads back through it.
    client = rg.Argilla(api_url=url, api_key=api_key)
    try:
        again = client.datasets(dataset.name, workspace="labelbook")
        again.records.log([{"id": "after-restart", "text": "still here"}])
    finally:
        client.http_client.close()
    assert "after-restart" in listed_external_ids(url, api_key, str(dataset.id))


# --- stale pid files ---------------------------------------------------------------------------------


def test_stale_pid_files_mean_crashed_and_start_never_signals_a_stranger(extra_server: ExtraServer) -> None:
    paths = ServerPaths(extra_server.data_dir)
    server.stop(extra_server.data_dir)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    try:
        created = psutil.Process(stranger.pid).create_time()
        # A pid file naming a live process that is not ours (another create time), and one naming a dead pid.
        paths.pid_file("api").write_text(json.dumps({"pid": stranger.pid, "create_time": created - 1000.0}))
        paths.pid_file("worker").write_text(json.dumps({"pid": gone.pid, "create_time": time.time() - 5.0}))

        stale = server.status(extra_server.data_dir)
        assert stale.state == "crashed"
        assert stale.pids == {"redis": None, "api": None, "worker": None}
        assert cli_status(extra_server.data_dir)[0] == 1

        started = server.start(extra_server.data_dir, port=extra_server.port)
        assert started.state == "running" and not started.already_running
        assert stranger.poll() is None, "start signalled a process it did not start"
        assert stranger.pid not in started.pids.values()
    finally:
        stranger.kill()
        stranger.wait(timeout=10)


def test_stop_leaves_no_process_behind(extra_server: ExtraServer) -> None:
    running = server.status(extra_server.data_dir)
    assert running.state == "running"
    ours = [psutil.Process(pid) for pid in running.pids.values() if pid is not None]
    family = ours + [child for proc in ours for child in proc.children(recursive=True)]
    assert len(ours) == 3

    stopped = server.stop(extra_server.data_dir)

    assert stopped.state == "stopped"
    alive = [proc for proc in family if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    assert processes_of(extra_server.data_dir) == []
    assert list(ServerPaths(extra_server.data_dir).run_dir.glob("*.pid")) == []
    code, report = cli_status(extra_server.data_dir)
    assert (code, report["state"]) == (3, "stopped")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", extra_server.port))  # the port is free again
