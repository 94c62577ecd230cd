"""The vector cache's snapshot on disk: a restart loads it instead of parsing the table, catches up
with what changed meanwhile, and never serves vectors of another database (a restored backup, a
copied data dir) or a damaged file.

"A restart" here is a fresh set of per-process matrices (as in a newly started API process) over the
session server's database; the last test restarts a server of its own and reads its log.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import argilla as rg
import numpy as np
import pytest

from labelbook import server
from labelbook.server import ServerPaths, engine, vector_snapshots, vectors

RECORDS = 1500
DIMENSIONS = 8


@pytest.fixture(scope="module")
def world(make_vector_dataset: Any) -> dict[str, Any]:
    made = make_vector_dataset("snapshot", RECORDS, DIMENSIONS, seed=41)
    return {**made, "database": str(made["database"])}


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Per-process matrices as in a newly started API process (restored after the test)."""
    monkeypatch.setattr(vectors, "_matrices", {})
    yield


def restart(database: str, settings_id: str, monkeypatch: pytest.MonkeyPatch) -> vectors._VectorMatrix:
    """Forget this process's matrices, warm the caches as a start does, and wait until in and saved."""
    monkeypatch.setattr(vectors, "_matrices", {})
    assert settings_id in vectors.warm_vector_caches(database)
    matrix = vectors._matrix_for(database, settings_id)
    deadline = time.monotonic() + 60
    while (not matrix.ready or matrix.loading or matrix.saving) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert matrix.ready and not matrix.saving
    return matrix


def table_can_not_be_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> Any:
        raise AssertionError("the cache parsed the whole table instead of loading its snapshot")

    monkeypatch.setattr(vectors, "_load_matrix", refuse)


def assert_answers_like_the_table(world: dict[str, Any], database: str | None = None) -> None:
    database = database or world["database"]
    ids, values = world["stored"](database)
    search_engine = engine.LabelbookSearchEngine(database)
    for query in (values[3], values[-1] - values[10], np.arange(DIMENSIONS, dtype=float) - 3):
        found = asyncio.run(
            search_engine.similarity_search(
                world["dataset"], world["settings"], value=query.tolist(), max_results=10
            )
        )
        unit = values / np.linalg.norm(values, axis=1, keepdims=True)
        scores = unit @ (query / np.linalg.norm(query))
        expected = [ids[i] for i in np.argsort(-scores, kind="stable")[:10]]
        assert [item.record_id.hex for item in found.items] == expected


def snapshot_file(world: dict[str, Any], data_dir: Path | None = None) -> Path:
    return Path(data_dir or world["data_dir"]) / vector_snapshots.SNAPSHOT_DIR / f"{world['settings_id']}.npz"


def snapshot_seq(path: Path) -> int:
    with np.load(path, allow_pickle=False) as data:
        return int(json.loads(str(data["meta"]))["seq"])


def log_position(database: str, settings_id: str) -> int:
    with sqlite3.connect(database) as conn:
        return int(
            conn.execute(
                "SELECT coalesce(max(seq), 0) FROM lb_vector_log WHERE vector_settings_id = ?", (settings_id,)
            ).fetchone()[0]
        )


def update_vectors(database: str, settings_id: str, record_ids: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    with sqlite3.connect(database, timeout=30) as conn:
        for record_id in record_ids:
            conn.execute(
                "UPDATE vectors SET value = ? WHERE vector_settings_id = ? AND record_id = ?",
                (json.dumps(rng.normal(size=DIMENSIONS).round(4).tolist()), settings_id, record_id),
            )


def test_a_restart_loads_the_snapshot_without_parsing_the_table(
    world: dict[str, Any],
    fresh_process: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = restart(world["database"], world["settings_id"], monkeypatch)
    assert snapshot_file(world).is_file()
    assert (
        snapshot_seq(snapshot_file(world))
        == first.seq
        == log_position(world["database"], world["settings_id"])
    )

    table_can_not_be_parsed(monkeypatch)
    again = restart(world["database"], world["settings_id"], monkeypatch)
    assert again.source == "snapshot" and len(again.ids) == RECORDS
    assert (
        f"vector cache {world['settings_id']} ({RECORDS} vectors) from the snapshot"
        in capsys.readouterr().out
    )
    assert_answers_like_the_table(world)


def test_changes_made_while_the_server_was_down_are_caught_up(
    world: dict[str, Any], fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    database, settings_id = world["database"], world["settings_id"]
    restart(database, settings_id, monkeypatch)  # a snapshot as of now
    ids, _ = world["stored"](database)
    # Through the API: new records with vectors.
    tag = uuid.uuid4().hex[:6]
    added = np.random.default_rng(7).normal(size=(25, DIMENSIONS)).round(4)
    world["rg_dataset"].records.log(
        [
            rg.Record(id=f"{tag}-{i}", fields={"text": "new"}, vectors={"emb": added[i].tolist()})
            for i in range(25)
        ]
    )
    # Straight in the table: vectors changed, records deleted (argilla's connections cascade them).
    update_vectors(database, settings_id, ids[100:105], seed=8)
    with sqlite3.connect(database, timeout=30) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executemany("DELETE FROM records WHERE id = ?", [(record_id,) for record_id in ids[200:203]])

    table_can_not_be_parsed(monkeypatch)
    matrix = restart(database, settings_id, monkeypatch)
    assert matrix.source == "snapshot"
    assert len(matrix.ids) == len(ids) + 25 - 3
    assert not set(ids[200:203]) & set(matrix.ids)
    assert_answers_like_the_table(world)
    new_ids, values = world["stored"](database)
    found = asyncio.run(
        engine.LabelbookSearchEngine(database).similarity_search(
            world["dataset"], world["settings"], value=values[new_ids.index(ids[102])].tolist(), max_results=1
        )
    )
    assert found.items[0].record_id.hex == ids[102]


def test_a_restored_older_backup_does_not_use_a_newer_snapshot(
    world: dict[str, Any],
    fresh_process: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database, settings_id = world["database"], world["settings_id"]
    older = server.backup(tmp_path / "older.tar", world["data_dir"])
    ids, _ = world["stored"](database)
    # After the backup: vectors change and a full load saves a newer snapshot.
    update_vectors(database, settings_id, ids[:40], seed=9)
    snapshot_file(world).unlink()
    newer = restart(database, settings_id, monkeypatch)
    assert newer.source == "table" and snapshot_seq(snapshot_file(world)) == newer.seq

    for after_restore in ("as restored", "then as many changes as made since the backup"):
        restored = tmp_path / after_restore.replace(" ", "-")
        server.restore(older.path, restored)
        restored_db = str(ServerPaths(restored).database)
        # The snapshot stays where a restore into the same data dir leaves it (or a copy puts it).
        (restored / vector_snapshots.SNAPSHOT_DIR).mkdir()
        shutil.copy(snapshot_file(world), snapshot_file(world, restored))
        if after_restore != "as restored":
            # Other records change, so the log reaches past the snapshot's position again.
            update_vectors(restored_db, settings_id, ids[-60:], seed=10)
            assert log_position(restored_db, settings_id) >= newer.seq
        capsys.readouterr()
        matrix = restart(restored_db, settings_id, monkeypatch)
        assert matrix.source == "table", after_restore
        assert "not using the vector cache snapshot" in capsys.readouterr().out
        assert_answers_like_the_table(world, restored_db)
        # ... and replaced by one of the restored database.
        assert snapshot_seq(snapshot_file(world, restored)) == log_position(restored_db, settings_id)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other dimensions"])
def test_a_damaged_snapshot_is_ignored_and_replaced(
    world: dict[str, Any],
    fresh_process: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    database, settings_id = world["database"], world["settings_id"]
    restart(database, settings_id, monkeypatch)
    path = snapshot_file(world)
    whole = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(whole[: len(whole) // 2])
    elif damage == "garbage":
        path.write_bytes(whole[:100] + bytes(len(whole) - 100))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        log = log_position(database, settings_id)
        ids, _ = world["stored"](database)
        vector_snapshots._write_snapshot(
            database, settings_id, log, ids, np.ones((len(ids), DIMENSIONS + 1), np.float32)
        )
    capsys.readouterr()
    matrix = restart(database, settings_id, monkeypatch)
    assert matrix.source == "table"
    out = capsys.readouterr().out
    assert "ignoring the vector cache snapshot" in out or "not using the vector cache snapshot" in out
    assert_answers_like_the_table(world)
    assert snapshot_seq(path) == matrix.seq
    assert restart(database, settings_id, monkeypatch).source == "snapshot"


def test_the_checks_refuse_a_snapshot_that_is_not_this_databases(world: dict[str, Any]) -> None:
    database, settings_id = world["database"], world["settings_id"]
    ids, values = world["stored"](database)
    unit = (values / np.linalg.norm(values, axis=1, keepdims=True)).astype(np.float32)
    log = log_position(database, settings_id)
    with sqlite3.connect(database) as conn:
        logged = conn.execute("SELECT record_id FROM lb_vector_log WHERE seq = ?", (log,)).fetchone()[0]
        good = vector_snapshots._Snapshot(log, logged, ids, unit)
        assert vector_snapshots._check_snapshot(conn, settings_id, good) is None
        for bad in (
            good._replace(seq=log + 10_000),  # taken on a newer database than this one
            good._replace(log_record_id=uuid.uuid4().hex),  # this position is another change here
            good._replace(matrix=unit[:, :-1]),  # other dimensions
        ):
            assert vector_snapshots._check_snapshot(conn, settings_id, bad) is not None
        assert (
            vector_snapshots._check_snapshot(conn, uuid.uuid4().hex, good) == "the vector settings are gone"
        )

        def caught_up(snapshot: vector_snapshots._Snapshot) -> str | None:
            matrix = vectors._VectorMatrix()
            matrix.install(snapshot.seq, list(snapshot.ids), snapshot.matrix.copy())
            return vector_snapshots._check_caught_up(conn, settings_id, matrix)

        assert caught_up(good) is None
        assert caught_up(good._replace(ids=ids[:-1], matrix=unit[:-1])) is not None  # a vector missing
        changed = unit.copy()
        changed[[0, -1]] = -changed[[0, -1]]  # the first and last rows are always among those compared
        assert caught_up(good._replace(matrix=changed)) is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_line(log: Path, line: str, after: int = 0, limit: float = 90) -> str:
    """The first line of `log` past byte `after` that holds `line`, waiting for the server to write it."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")[after:] if log.exists() else ""
        found = [row for row in text.splitlines() if line in row]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"{log} never said {line!r}")


def test_a_restarted_server_answers_from_its_snapshot_with_the_changes_made_while_it_was_down(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir = tmp_path_factory.mktemp("snapshot-server")
    paths = ServerPaths(data_dir)
    log = paths.log_file("api")
    info = server.start(data_dir, port=free_port())
    try:
        assert info.credentials is not None
        client = rg.Argilla(api_url=info.url, api_key=info.credentials.api_key)
        try:
            workspace = rg.Workspace(name="restart", client=client).create()
            dataset = rg.Dataset(
                name="restart",
                workspace=workspace,
                settings=rg.Settings(
                    fields=[rg.TextField("text")],
                    questions=[rg.LabelQuestion("label", labels=["a", "b"])],
                    vectors=[rg.VectorField(name="emb", dimensions=DIMENSIONS)],
                ),
                client=client,
            ).create()
            values = np.random.default_rng(5).normal(size=(300, DIMENSIONS)).round(4)
            dataset.records.log(
                [
                    rg.Record(id=f"r{i}", fields={"text": "x"}, vectors={"emb": values[i].tolist()})
                    for i in range(300)
                ]
            )
            # The first search starts the load, which saves the snapshot once in.
            first = dataset.records(query=rg.Query(similar=rg.Similar(name="emb", value=values[9].tolist())))
            assert next(iter(first))[0].id == "r9"
            wait_for_line(log, "saved the vector cache")
        finally:
            client.http_client.close()
    finally:
        server.stop(data_dir)

    with sqlite3.connect(paths.database) as conn:
        settings_id, record_id = conn.execute(
            "SELECT v.vector_settings_id, v.record_id FROM vectors AS v "
            "JOIN records AS r ON r.id = v.record_id WHERE r.external_id = 'r42'"
        ).fetchone()
        apart = [0.0] * DIMENSIONS
        apart[0] = 1.0
        conn.execute("UPDATE vectors SET value = ? WHERE record_id = ?", (json.dumps(apart), record_id))
    assert (data_dir / vector_snapshots.SNAPSHOT_DIR / f"{settings_id}.npz").is_file()

    restarted_at = log.stat().st_size
    info = server.start(data_dir, port=free_port())
    try:
        assert info.credentials is not None
        line = wait_for_line(log, f"vector cache {settings_id} (300 vectors) from the", after=restarted_at)
        assert "from the snapshot, 1 records changed since" in line
        client = rg.Argilla(api_url=info.url, api_key=info.credentials.api_key)
        try:
            dataset = client.datasets(name="restart", workspace="restart")
            found = dataset.records(query=rg.Query(similar=rg.Similar(name="emb", value=apart)))
            assert next(iter(found))[0].id == "r42"
        finally:
            client.http_client.close()
    finally:
        server.stop(data_dir)


def test_a_start_deletes_the_snapshots_of_vector_settings_that_are_gone(
    world: dict[str, Any], fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    restart(world["database"], world["settings_id"], monkeypatch)
    folder = Path(world["data_dir"]) / vector_snapshots.SNAPSHOT_DIR
    gone = folder / f"{uuid.uuid4().hex}.npz"
    gone.write_bytes(snapshot_file(world).read_bytes())
    restart(world["database"], world["settings_id"], monkeypatch)
    assert not gone.exists() and snapshot_file(world).exists()
