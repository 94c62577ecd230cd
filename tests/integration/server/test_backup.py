"""`labelbook server backup` while an annotator submits, and `restore` into another data dir.

The backup is taken from the session's running server while a thread keeps submitting
responses; the restored copy, started as a server of its own, holds every response that was
acknowledged before the backup began and none that was sent after it ended.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import tarfile
import threading
import time
import uuid
from pathlib import Path

import argilla as rg
import httpx
import pytest
from click.testing import CliRunner

from labelbook import server
from labelbook.cli import main
from labelbook.errors import ServerError
from labelbook.server import ServerPaths

RECORDS = 400


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_backup_taken_while_responses_arrive_restores_every_acknowledged_one(
    lb_server, argilla_client: rg.Argilla, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    workspace = rg.Workspace(name=f"backup-{tag}", client=argilla_client).create()
    dataset = rg.Dataset(
        name=f"backup-{tag}",
        workspace=workspace,
        settings=rg.Settings(
            fields=[rg.TextField("text")], questions=[rg.LabelQuestion("label", labels=["a", "b"])]
        ),
        client=argilla_client,
    ).create()
    dataset.records.log([{"text": f"item {n}"} for n in range(RECORDS)])
    record_ids = [str(record._server_id) for record in dataset.records]
    assert len(record_ids) == RECORDS

    sent: list[tuple[float, str]] = []  # (monotonic time the request left, record id)
    acked: list[tuple[float, str]] = []  # (monotonic time the 201 arrived, record id)
    errors: list[str] = []
    stop = threading.Event()

    def submit() -> None:
        headers = {"X-Argilla-Api-Key": lb_server.api_key}
        with httpx.Client(base_url=lb_server.url, headers=headers, timeout=30, trust_env=False) as client:
            for record_id in record_ids:
                if stop.is_set():
                    return
                sent.append((time.monotonic(), record_id))
                reply = client.post(
                    f"/api/v1/records/{record_id}/responses",
                    json={"values": {"label": {"value": "a"}}, "status": "submitted"},
                )
                if reply.status_code != 201:
                    errors.append(f"{reply.status_code} {reply.text[:200]}")
                    return
                acked.append((time.monotonic(), record_id))

    submitter = threading.Thread(target=submit, name="submitter")
    submitter.start()
    try:
        deadline = time.monotonic() + 60
        while len(acked) < 20 and time.monotonic() < deadline and submitter.is_alive():
            time.sleep(0.05)
        began = time.monotonic()
        info = server.backup(tmp_path / "lb-backup.tar", lb_server.data_dir)
        ended = time.monotonic()
        # Keep submitting for a moment after the backup, so "after" is not empty.
        time.sleep(0.5)
    finally:
        stop.set()
        submitter.join(timeout=60)
    assert errors == []
    acked_before = {record_id for at, record_id in acked if at < began}
    sent_before_end = {record_id for at, record_id in sent if at < ended}
    assert len(acked_before) >= 20
    assert len(acked) > len(sent_before_end), "no response was submitted after the backup"
    assert info.path.stat().st_mode & 0o077 == 0
    assert set(info.files) == {"argilla.db", "credentials.json", "auth-secret"}

    restored_dir = tmp_path / "restored"
    result = server.restore(info.path, restored_dir)
    assert result.previous is None
    assert result.counts == info.counts
    port = free_port()
    started = server.start(restored_dir, port=port)
    try:
        assert started.credentials is not None
        # The backup carries the owner's login: the restored server accepts the same API key.
        assert started.credentials.api_key == lb_server.api_key
        restored = rg.Argilla(api_url=started.url, api_key=started.credentials.api_key)
        try:
            copy = restored.datasets(name=dataset.name, workspace=workspace.name)
            answered = {
                str(record._server_id)
                for record in copy.records(with_responses=True)
                if len(record.responses) > 0
            }
            total = sum(1 for _ in copy.records)
        finally:
            restored.http_client.close()
    finally:
        server.stop(restored_dir)
    assert total == RECORDS
    assert acked_before <= answered, f"{len(acked_before - answered)} acknowledged responses lost"
    assert answered <= sent_before_end, "the backup holds responses sent after it ended"


def test_restore_refuses_a_running_server_and_files_that_are_not_backups(lb_server, tmp_path: Path) -> None:
    database = ServerPaths(lb_server.data_dir).database
    before = database.stat().st_ino
    backup = server.backup(tmp_path / "b.tar", lb_server.data_dir)

    with pytest.raises(ServerError, match=r"running.*Stop it first"):
        server.restore(backup.path, lb_server.data_dir)
    assert database.stat().st_ino == before

    text = tmp_path / "notes.txt"
    text.write_text("not a backup\n")
    with pytest.raises(ServerError, match="not a labelbook server backup"):
        server.restore(text, tmp_path / "elsewhere")
    foreign = tmp_path / "foreign.tar"
    with tarfile.open(foreign, "w") as tar:
        tar.add(text, arcname="manifest.json")
    with pytest.raises(ServerError, match="not a labelbook server backup"):
        server.restore(foreign, tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere" / "argilla.db").exists()

    with pytest.raises(ServerError, match="already exists"):
        server.backup(backup.path, lb_server.data_dir)


def test_restore_keeps_the_data_it_replaces(lb_server, tmp_path: Path) -> None:
    backup = server.backup(tmp_path / "b.tar", lb_server.data_dir)
    target = tmp_path / "target"
    target.mkdir()
    with sqlite3.connect(target / "argilla.db") as conn:
        conn.execute("CREATE TABLE precious (x)")
    (target / "credentials.json").write_text(json.dumps({"username": "u", "password": "p", "api_key": "k"}))

    result = server.restore(backup.path, target)
    assert result.previous is not None and result.previous.parent == target
    with sqlite3.connect(result.previous / "argilla.db") as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'precious'").fetchone()
    assert json.loads((result.previous / "credentials.json").read_text())["api_key"] == "k"
    with sqlite3.connect(target / "argilla.db") as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] >= 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert server.status(target).state == "stopped"


def test_the_cli_backs_up_and_restores(lb_server, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli.tar"
    done = runner.invoke(main, ["server", "backup", "--data-dir", str(lb_server.data_dir), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "left out" in done.output and lb_server.api_key not in done.output
    refused = runner.invoke(main, ["server", "restore", str(out), "--data-dir", str(lb_server.data_dir)])
    assert refused.exit_code == 1 and "Stop it first" in refused.output
    restored = runner.invoke(main, ["server", "restore", str(out), "--data-dir", str(tmp_path / "new")])
    assert restored.exit_code == 0, restored.output
    assert "restored the backup" in restored.output
