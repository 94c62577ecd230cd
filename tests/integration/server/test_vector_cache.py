"""Similarity search before its vector cache is loaded: answered by a scan, never by waiting.

The cache loads in a background thread (at start, or on the first search of a vector settings).
Here the load is held back on purpose, so the searches made meanwhile must come from the scan,
and must equal what the cache answers once it is in.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from argilla_server.enums import SimilarityOrder

from labelbook.server import engine, vectors

RECORDS = 3000
DIMENSIONS = 16


@pytest.fixture(scope="module")
def vectors_dataset(make_vector_dataset: Any) -> dict[str, Any]:
    return make_vector_dataset("vectors", RECORDS, DIMENSIONS, seed=14)


def expected_top(world: dict[str, Any], query: np.ndarray, k: int, skip: int | None = None) -> list[str]:
    unit = world["values"] / np.linalg.norm(world["values"], axis=1, keepdims=True)
    scores = unit @ (query / np.linalg.norm(query))
    if skip is not None:
        scores[skip] = -np.inf
    return [world["record_ids"][i] for i in np.argsort(-scores, kind="stable")[:k]]


def test_a_search_before_the_cache_is_loaded_scans_and_never_waits(
    vectors_dataset: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = vectors_dataset
    database = str(world["database"])
    monkeypatch.setattr(vectors, "_matrices", {})  # as in a freshly started API process
    release = threading.Event()
    real_load = vectors._load_matrix

    def held_back_load(*args: Any) -> Any:
        release.wait(timeout=60)
        return real_load(*args)

    monkeypatch.setattr(vectors, "_load_matrix", held_back_load)
    search_engine = engine.LabelbookSearchEngine(database)
    query = world["values"][7] + world["values"][8]

    async def searches() -> tuple[Any, Any, Any, Any]:
        by_value = search_engine.similarity_search(
            world["dataset"], world["settings"], value=query.tolist(), max_results=10
        )
        by_record = search_engine.similarity_search(
            world["dataset"],
            world["settings"],
            record=SimpleNamespace(id=uuid.UUID(world["record_ids"][7])),
            max_results=5,
            order=SimilarityOrder.least_similar,
        )
        page = search_engine.search(world["dataset"], limit=5)
        # Each must answer while the cache is held back: a wait on it would time out here.
        return await asyncio.wait_for(asyncio.gather(by_value, by_record, page, asyncio.sleep(0)), 30)

    try:
        cold_value, cold_record, page, _ = asyncio.run(searches())
        matrix = vectors._matrix_for(database, world["settings_id"])
        assert matrix.loading and not matrix.ready
        assert page.total >= RECORDS
    finally:
        release.set()

    assert [str(item.record_id.hex) for item in cold_value.items] == expected_top(world, query, 10)
    least = expected_top(world, -world["values"][7], 5, skip=7)
    assert [item.record_id.hex for item in cold_record.items] == least

    deadline = time.monotonic() + 60
    while not matrix.ready and time.monotonic() < deadline:
        time.sleep(0.05)
    assert matrix.ready and len(matrix.ids) == RECORDS
    warm_value, warm_record, _, _ = asyncio.run(searches())
    for cold, warm in ((cold_value, warm_value), (cold_record, warm_record)):
        assert [item.record_id for item in warm.items] == [item.record_id for item in cold.items]
        assert [item.score for item in warm.items] == pytest.approx([item.score for item in cold.items])
        assert warm.total == cold.total


def test_a_scan_hands_over_to_the_cache_as_soon_as_it_is_in(
    vectors_dataset: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 1M records a scan takes about a minute and a cache from its snapshot seconds: a search
    that began scanning is answered from the cache once it is in, not at the scan's end."""
    world = vectors_dataset
    database = str(world["database"])
    monkeypatch.setattr(vectors, "_matrices", {})
    monkeypatch.setattr(vectors, "_CHUNK", 100)  # 30 chunks
    release = threading.Event()
    real_load, real_restore, real_chunks = (
        vectors._load_matrix,
        vectors.restore_snapshot,
        vectors._vector_chunks,
    )

    def held_back_load(*args: Any) -> Any:
        release.wait(timeout=60)
        return real_load(*args)

    def held_back_restore(*args: Any) -> Any:  # the earlier test's load left a snapshot
        release.wait(timeout=60)
        return real_restore(*args)

    scanned: list[int] = []

    def chunks(conn: sqlite3.Connection, settings_id: str) -> Any:
        for n, chunk in enumerate(real_chunks(conn, settings_id)):
            if threading.current_thread().name.startswith("lb-vectors-"):  # the cache's own load
                yield chunk
                continue
            scanned.append(n)
            if n == 1:  # the search is scanning: let the cache in, and wait until it is
                release.set()
                matrix = vectors._matrix_for(database, world["settings_id"])
                deadline = time.monotonic() + 60
                while not matrix.ready and time.monotonic() < deadline:
                    time.sleep(0.02)
            yield chunk

    monkeypatch.setattr(vectors, "_load_matrix", held_back_load)
    monkeypatch.setattr(vectors, "restore_snapshot", held_back_restore)
    monkeypatch.setattr(vectors, "_vector_chunks", chunks)
    search_engine = engine.LabelbookSearchEngine(database)
    query = world["values"][3] - world["values"][4]
    found = asyncio.run(
        search_engine.similarity_search(
            world["dataset"], world["settings"], value=query.tolist(), max_results=10
        )
    )
    assert [item.record_id.hex for item in found.items] == expected_top(world, query, 10)
    assert scanned == [0, 1]  # the scan stopped at the chunk after the cache came in, of 30


def test_warming_at_start_loads_every_vector_settings(
    vectors_dataset: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    database = str(vectors_dataset["database"])
    monkeypatch.setattr(vectors, "_matrices", {})
    warmed = vectors.warm_vector_caches(database)
    assert vectors_dataset["settings_id"] in warmed
    matrix = vectors._matrix_for(database, vectors_dataset["settings_id"])
    deadline = time.monotonic() + 60
    while not matrix.ready and time.monotonic() < deadline:
        time.sleep(0.05)
    assert matrix.ready and len(matrix.ids) == RECORDS
