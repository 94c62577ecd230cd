"""Similarity search through the approximate index (HNSW), with its threshold lowered to this
small clustered dataset: answers like exact scoring, changes reflected, filters respected, a bad
saved index rebuilt, and searches answered (exactly) while it builds.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from argilla_server.enums import SimilarityOrder

from labelbook.server import engine, vector_index, vector_snapshots, vectors
from labelbook.server.schema import read

RECORDS = 1500
DIMENSIONS = 16


@pytest.fixture(scope="module")
def world(make_vector_dataset: Any) -> dict[str, Any]:
    made = make_vector_dataset("hnsw", RECORDS, DIMENSIONS, seed=23, clusters=30)
    return {**made, "database": str(made["database"])}


@pytest.fixture
def indexed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh process's matrices, indexed from 1000 vectors on (200k outside the tests)."""
    monkeypatch.setattr(vectors, "_matrices", {})
    monkeypatch.setattr(vectors, "INDEX_MIN_VECTORS", 1000)
    yield


def start(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> vectors._VectorMatrix:
    """As a start does: forget the matrices, warm the caches, wait until the index is in and saved."""
    monkeypatch.setattr(vectors, "_matrices", {})
    vectors.warm_vector_caches(world["database"])
    matrix = vectors._matrix_for(world["database"], world["settings_id"])
    wait(lambda: matrix.index is not None and not matrix.indexing and not matrix.saving)
    return matrix


def wait(condition: Any, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def table(world: dict[str, Any], database: str | None = None) -> tuple[list[str], np.ndarray]:
    """Every record id and unit vector of the settings as stored, in insertion order."""
    ids, values = world["stored"](database)
    return ids, values / np.linalg.norm(values, axis=1, keepdims=True)


def exact(world: dict[str, Any], query: np.ndarray, k: int, skip: str | None = None) -> list[str]:
    ids, unit = table(world)
    scores = unit @ (query / np.linalg.norm(query))
    order = [ids[i] for i in np.argsort(-scores, kind="stable") if ids[i] != skip]
    return order[:k]


def search(world: dict[str, Any], **kwargs: Any) -> list[tuple[str, float]]:
    found = asyncio.run(
        engine.LabelbookSearchEngine(world["database"]).similarity_search(
            world["dataset"], world["settings"], **kwargs
        )
    )
    return [(item.record_id.hex, item.score) for item in found.items]


@pytest.fixture
def index_searches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many searches went through the index (a counter around `_from_index`)."""
    calls: list[int] = []
    real = vectors._from_index

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(vectors, "_from_index", counted)
    return calls


def test_searches_through_the_index_answer_like_exact_scoring(
    world: dict[str, Any], indexed: None, index_searches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix = start(world, monkeypatch)
    assert matrix.index_source in {"the matrix", "its saved copy"}
    ids, unit = table(world)
    recalls = []
    for i in range(0, RECORDS, 75):
        found = search(world, record=SimpleNamespace(id=uuid.UUID(ids[i])), max_results=50)
        expected = exact(world, unit[i], 50, skip=ids[i])
        assert found[0][0] == expected[0]
        recalls.append(len({r for r, _ in found} & set(expected)) / 50)
        # The scores are the exact cosine scores of the records returned, best first.
        rows = [ids.index(r) for r, _ in found]
        assert [s for _, s in found] == pytest.approx(((1 + unit[rows] @ unit[i]) / 2).tolist(), abs=1e-5)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert np.mean(recalls) >= 0.95
    query = unit[3] - unit[4]
    least = search(world, value=query.tolist(), max_results=10, order=SimilarityOrder.least_similar)
    assert [r for r, _ in least][:3] == exact(world, -query, 3)
    assert len(index_searches) == len(recalls) + 1


def test_updated_and_deleted_vectors_are_reflected(
    world: dict[str, Any], indexed: None, index_searches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    database, settings_id = world["database"], world["settings_id"]
    matrix = start(world, monkeypatch)
    ids, unit = table(world, database)
    moved, gone = ids[10], ids[20]
    far = -unit[500]  # a direction no record points in: only the moved record will
    # Hold the worker back: the searches first see the changes as pending (scored exactly).
    release = threading.Event()
    real_catch_up = vectors._catch_up_index

    def held_back(*args: Any) -> Any:
        release.wait(timeout=60)
        return real_catch_up(*args)

    monkeypatch.setattr(vectors, "_catch_up_index", held_back)
    with sqlite3.connect(database, timeout=30) as conn:
        conn.execute(
            "UPDATE vectors SET value = ? WHERE vector_settings_id = ? AND record_id = ?",
            (json.dumps(far.round(4).tolist()), settings_id, moved),
        )
        conn.execute(
            "DELETE FROM vectors WHERE vector_settings_id = ? AND record_id = ?", (settings_id, gone)
        )
    try:
        for phase in ("pending", "applied"):
            found = search(world, value=far.tolist(), max_results=5)
            assert found[0][0] == moved, phase
            assert found[0][1] == pytest.approx(1.0, abs=1e-4)
            near_gone = search(world, value=unit[20].tolist(), max_results=20)
            assert gone not in [r for r, _ in near_gone], phase
            assert [r for r, _ in near_gone][:5] == exact(world, unit[20], 5), phase
            if phase == "pending":
                assert matrix.index_pending >= {moved, gone}
                release.set()
                wait(lambda: not matrix.index_pending and not matrix.indexing)
    finally:
        release.set()
    assert matrix.index is not None and gone not in matrix.index.label_of
    assert matrix.index.dead == 2  # the moved record's old label and the deleted one's
    assert len(index_searches) == 4


def test_a_filter_is_respected_whether_small_or_large(
    world: dict[str, Any], indexed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    database, settings_id = world["database"], world["settings_id"]
    start(world, monkeypatch)
    ids, unit = table(world, database)
    rng = np.random.default_rng(5)
    # 5% of the records: scored exactly; 60%: the graph search with a selector.
    for share in (0.05, 0.6):
        allowed = {ids[i] for i in np.flatnonzero(rng.random(len(ids)) < share)}
        for i in (1, 700, 1400):

            def work(conn: sqlite3.Connection, i: int = i, allowed: set[str] = allowed) -> Any:
                return vectors.similar(
                    conn, database, settings_id, unit[i], 20, allowed=lambda: allowed, excluded=ids[i]
                )

            found, scores = read(database, work)
            assert set(found) <= allowed and ids[i] not in found
            assert list(scores) == sorted(scores, reverse=True)
            expected = [r for r in exact(world, unit[i], len(ids), skip=ids[i]) if r in allowed][:20]
            assert found[0] == expected[0]
            assert len(set(found) & set(expected)) >= 19, share


@pytest.mark.parametrize("damage", ["garbage", "wrong labels", "another database"])
def test_a_damaged_or_stale_saved_index_is_rebuilt(
    world: dict[str, Any],
    indexed: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    database, settings_id = world["database"], world["settings_id"]
    start(world, monkeypatch)
    path = Path(database).parent / vector_snapshots.SNAPSHOT_DIR / f"{settings_id}.index.npz"
    assert path.is_file()
    assert start(world, monkeypatch).index_source == "its saved copy"
    with np.load(path, allow_pickle=False) as data:
        saved = {name: data[name] for name in data.files}
    if damage == "garbage":
        whole = path.read_bytes()
        path.write_bytes(whole[:200] + bytes(len(whole) - 200))
    elif damage == "wrong labels":  # each label names another record: vectors under the wrong ids
        with path.open("wb") as handle:
            np.savez(handle, **{**saved, "labels": np.roll(saved["labels"], 1)})
    else:  # saved at a log position whose change this database never made
        meta = json.loads(str(saved["meta"]))
        assert meta["seq"] > 0
        meta["log_record_id"] = uuid.uuid4().hex
        with path.open("wb") as handle:
            np.savez(handle, **{**saved, "meta": np.array(json.dumps(meta))})
    capsys.readouterr()
    matrix = start(world, monkeypatch)
    assert matrix.index_source == "the matrix"
    out = capsys.readouterr().out
    assert "ignoring the saved vector index" in out or "not using the saved vector index" in out
    assert "saved the vector index" in out
    ids, unit = table(world, database)
    assert search(world, value=unit[42].tolist(), max_results=1)[0][0] == ids[42]
    assert start(world, monkeypatch).index_source == "its saved copy"


def test_searches_are_answered_exactly_while_the_index_builds(
    world: dict[str, Any], indexed: None, index_searches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    database, settings_id = world["database"], world["settings_id"]
    (Path(database).parent / vector_snapshots.SNAPSHOT_DIR / f"{settings_id}.index.npz").unlink(
        missing_ok=True
    )
    release = threading.Event()
    real_build = vector_index.NeighbourIndex.build

    def held_back(*args: Any, **kwargs: Any) -> Any:
        release.wait(timeout=60)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(vector_index.NeighbourIndex, "build", held_back)
    vectors.warm_vector_caches(database)
    matrix = vectors._matrix_for(database, settings_id)
    try:
        wait(lambda: matrix.ready and matrix.indexing)
        _, unit = table(world, database)
        query = unit[7] + unit[8]
        while_building = asyncio.run(
            asyncio.wait_for(asyncio.to_thread(search, world, value=query.tolist(), max_results=10), 30)
        )
        assert matrix.index is None and index_searches == []
        assert [r for r, _ in while_building] == exact(world, query, 10)
    finally:
        release.set()
    wait(lambda: matrix.index is not None and not matrix.indexing)
    indexed_answer = search(world, value=query.tolist(), max_results=10)
    assert [r for r, _ in indexed_answer][:3] == [r for r, _ in while_building][:3]
    assert [s for _, s in indexed_answer][:3] == pytest.approx([s for _, s in while_building][:3])
    assert index_searches == [1]


def test_an_index_that_misses_the_exact_answers_is_not_used(
    world: dict[str, Any],
    indexed: None,
    index_searches: list[int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Vectors without structure (normal noise: recall@50 0.29 at 1M) defeat a graph: such an index
    # is refused once built or restored, and the searches keep scoring exactly.
    monkeypatch.setattr(vectors, "MIN_RECALL", 1.01)  # no index can pass
    vectors.warm_vector_caches(world["database"])
    matrix = vectors._matrix_for(world["database"], world["settings_id"])
    wait(lambda: matrix.ready and matrix.index_failed == matrix.generation and not matrix.indexing)
    assert matrix.index is None
    _, unit = table(world)
    query = unit[3] + unit[5]
    assert [r for r, _ in search(world, value=query.tolist(), max_results=10)] == exact(world, query, 10)
    assert index_searches == []
    assert "not using the vector index" in capsys.readouterr().out
