"""Similarity search: each vector settings' vectors as one normalised float32 matrix, per process.

A matrix loads in a background thread (`warm_vector_caches` at startup, or a first similarity
search); until it is in, searches scan the `vectors` table in chunks instead (same answers,
slower), so no request ever waits for a load. Once in, it catches up with small changes through
`lb_vector_log` (kept by triggers, see `labelbook.server.schema`) and reloads in the background
after large ones. Scores are Elasticsearch's cosine score, (1 + cos) / 2, in [0, 1].

Each loaded matrix is also saved beside the database and loaded from there at the next start
(`labelbook.server.vector_snapshots`: parsing every vector's JSON takes minutes at 1M records).

A matrix of `INDEX_MIN_VECTORS` vectors or more also gets an approximate index (HNSW, see
`labelbook.server.vector_index`), built in the background once the matrix is in (searches score
exactly until it is ready), kept current from the same catch-up (records changed since it last
caught up are scored exactly beside its candidates) and saved beside the snapshot
(`vector-cache/<settings id>.index.npz`), checked before use like the snapshot. Scores stay exact:
the index only proposes candidates.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from labelbook.server.schema import read
from labelbook.server.vector_scoring import exact as _exact
from labelbook.server.vector_scoring import from_index as _from_index
from labelbook.server.vector_scoring import nearest
from labelbook.server.vector_snapshots import (
    normalise,
    parse_vector,
    parse_vectors,
    prune_snapshots,
    query_target,
    restore_index,
    restore_snapshot,
    start_saving,
    write_index,
)

if TYPE_CHECKING:
    from labelbook.server.vector_index import NeighbourIndex

__all__ = ["forget_matrices", "nearest", "query_target", "similar", "warm_vector_caches", "with_scores"]

T = TypeVar("T")

_VECTOR_ROWS = (
    "SELECT r.rowid, v.record_id, v.value FROM vectors AS v JOIN records AS r ON r.id = v.record_id "
    "WHERE v.vector_settings_id = ?"
)
# Rows parsed per step: numpy's parser holds the GIL for one chunk only, so other requests keep going.
_CHUNK = 2048

# Below this many vectors a search scores the whole matrix (100k x 256: 44 ms p50 here, exact);
# from it on an approximate index proposes candidates (1M x 256: the product alone is ~90 ms, the
# memory bandwidth's limit). The index costs a background build (minutes at 1M on one core) and
# ~40% of the matrix's memory, worth it only where exact scoring misses the 100 ms target.
# LABELBOOK_VECTOR_INDEX_MIN overrides it, to try the index on a smaller dataset (benchmarks).
INDEX_MIN_VECTORS = int(os.environ.get("LABELBOOK_VECTOR_INDEX_MIN", "200000"))
# An index is used only if, on sampled records' vectors, its candidates hold at least this share of
# the exact top 50 (`vector_index.recall`, once built or restored: ~1 s at 1M). On 1M clustered
# 256-d vectors it holds 0.995; on normal noise, where a graph has no structure to follow, 0.29.
MIN_RECALL = 0.9
# Changed records applied to the index per hold of the matrix lock (each add costs ~1 ms at 1M).
_INDEX_BATCH = 64


class _VectorMatrix:
    """One vector settings' normalised vectors (float32 rows) and their record ids.

    Loaded in a background thread (`_start_loading`): until `ready`, similarity searches scan the
    vectors table instead (correct, slower), so no request ever waits for a load.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seq = -1
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.ready = False
        self.loading = False
        # Where the matrix came from ("snapshot" or "table"), for the log line and the tests.
        self.source = ""
        # Records changed since the snapshot on disk was taken, and whether one is being written.
        self.unsaved = 0
        self.saving = False
        # The array a snapshot writer is reading: `_apply` copies it before changing rows in place.
        self.exported: np.ndarray | None = None
        # The approximate index (large matrices only), whether its worker runs, the records changed
        # since it last caught up (scored exactly beside its candidates), and the changes it has
        # taken in since it was saved. `generation` counts installs: a reload invalidates an index.
        self.index: NeighbourIndex | None = None
        self.indexing = False
        self.index_pending: set[str] = set()
        self.index_unsaved = 0
        self.generation = 0
        # Where the index came from ("its saved copy" or "the matrix"), for the log line and the tests.
        self.index_source = ""
        # The generation whose indexing failed: not tried again (a build costs minutes) until a reload.
        self.index_failed = -1

    def refresh(self, conn: sqlite3.Connection, settings_id: str) -> bool:
        """Catch up with small changes through lb_vector_log; False when a full reload is needed."""
        last = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM lb_vector_log WHERE vector_settings_id = ?", (settings_id,)
        ).fetchone()[0]
        if last == self.seq:
            return True
        changed = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT record_id FROM lb_vector_log WHERE vector_settings_id = ? AND seq > ?",
                (settings_id, self.seq),
            )
        ]
        if len(changed) <= max(1000, len(self.ids) // 5):
            self._apply(conn, settings_id, changed)
            self.seq = last
            self.unsaved += len(changed)
            return True
        self.ready = False
        return False

    def worth_saving(self) -> bool:
        """Whether enough changed since the last snapshot that a start would spend time catching up."""
        return not self.saving and self.unsaved >= max(1000, len(self.ids) // 20)

    def install(self, seq: int, ids: list[str], matrix: np.ndarray) -> None:
        self.ids = ids
        self.rows = {record_id: i for i, record_id in enumerate(ids)}
        self.matrix = matrix
        self.seq = seq
        self.ready = True
        self.generation += 1
        self.index = None
        self.index_pending = set()

    def wants_index(self) -> bool:
        """Whether to start the index worker: no index yet, changes to catch up, or a rebuild due."""
        return not self.indexing and self.index_work()

    def index_work(self) -> bool:
        if not self.ready or len(self.ids) < INDEX_MIN_VECTORS or self.index_failed == self.generation:
            return False
        return self.index is None or bool(self.index_pending) or self.index.worn_out()

    def _apply(self, conn: sqlite3.Connection, settings_id: str, record_ids: list[str]) -> None:
        current: dict[str, list[float]] = {}
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for record_id, value in conn.execute(
                "SELECT record_id, value FROM vectors "
                f"WHERE vector_settings_id = ? AND record_id IN ({marks})",
                (settings_id, *chunk),
            ):
                current[record_id] = parse_vector(value)
        gone = [r for r in record_ids if r not in current and r in self.rows]
        if gone:
            keep = np.ones(len(self.ids), dtype=bool)
            keep[[self.rows[r] for r in gone]] = False
            self.ids = [r for r, k in zip(self.ids, keep, strict=True) if k]
            self.matrix = self.matrix[keep]
            self.rows = {record_id: i for i, record_id in enumerate(self.ids)}
        new = [r for r in current if r not in self.rows]
        if self.matrix is self.exported and any(r in self.rows for r in current):
            self.matrix = self.matrix.copy()
        for record_id, value in current.items():
            if record_id in self.rows:
                self.matrix[self.rows[record_id]] = normalise(np.array([value], dtype=np.float32))[0]
        if new:
            block = normalise(np.array([current[r] for r in new], dtype=np.float32))
            self.matrix = block if self.matrix.size == 0 else np.vstack([self.matrix, block])
            for record_id in new:
                self.rows[record_id] = len(self.ids)
                self.ids.append(record_id)
        if self.index is not None or self.indexing:
            self.index_pending.update(record_ids)


def _vector_chunks(
    conn: sqlite3.Connection, settings_id: str
) -> Iterator[tuple[np.ndarray, list[str], np.ndarray]]:
    """(rowids, record ids, normalised vectors) of one vector settings, a chunk at a time."""
    cursor = conn.execute(_VECTOR_ROWS, (settings_id,))
    while rows := cursor.fetchmany(_CHUNK):
        rowids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        yield rowids, [row[1] for row in rows], normalise(parse_vectors([row[2] for row in rows]))


def _load_matrix(database: str, settings_id: str) -> tuple[int, list[str], np.ndarray]:
    """One vector settings' vectors as of one snapshot: (log position, ids, matrix), insertion order."""

    def work(conn: sqlite3.Connection) -> tuple[int, list[str], np.ndarray]:
        seq = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM lb_vector_log WHERE vector_settings_id = ?", (settings_id,)
        ).fetchone()[0]
        rowids: list[np.ndarray] = []
        ids: list[str] = []
        blocks: list[np.ndarray] = []
        for chunk_rowids, chunk_ids, block in _vector_chunks(conn, settings_id):
            rowids.append(chunk_rowids)
            ids.extend(chunk_ids)
            blocks.append(block)
        if not ids:
            return seq, [], np.zeros((0, 0), dtype=np.float32)
        # Insertion order; sorted here because SQLite's sorter would copy every (kB-long) value.
        order = np.argsort(np.concatenate(rowids), kind="stable")
        return seq, [ids[i] for i in order], np.vstack(blocks)[order]

    return read(database, work)


def _start_loading(database: str, settings_id: str, matrix: _VectorMatrix) -> None:
    """Load `matrix` in a daemon thread unless it is ready or already loading."""
    with matrix.lock:
        if matrix.ready or matrix.loading:
            return
        matrix.loading = True
        # A reload after many changes (the matrix was in) would find the snapshot as far behind.
        first_load = matrix.seq == -1

    def load() -> None:
        try:
            started = time.perf_counter()
            source, caught_up = "snapshot", 0
            restored = None
            try:
                restored = restore_snapshot(database, settings_id, _VectorMatrix) if first_load else None
            except Exception as err:  # a cache of a cache: the table is still there
                print(f"labelbook: not using the vector cache snapshot of {settings_id}: {err!r}", flush=True)
            if restored is None:
                source = "table"
                seq, ids, vectors = _load_matrix(database, settings_id)
            else:
                seq, ids, vectors, caught_up = restored
            took = time.perf_counter() - started
            changes = f", {caught_up} records changed since" if source == "snapshot" else ""
            print(
                f"labelbook: vector cache {settings_id} ({len(ids)} vectors) from the {source}{changes} "
                f"in {took:.2f} s",
                flush=True,
            )
            with matrix.lock:
                matrix.install(seq, ids, vectors)
                matrix.source = source
                matrix.unsaved = caught_up
                # A full load is saved whatever the disk holds (missing, unusable or far behind).
                if (source == "table" and not matrix.saving) or matrix.worth_saving():
                    start_saving(database, settings_id, matrix)
                if matrix.wants_index():
                    _start_indexing(database, settings_id, matrix)
        except Exception as err:  # the searches keep scanning; the next one tries again
            print(f"labelbook: loading the vector cache {settings_id} failed: {err!r}", flush=True)
        finally:
            with matrix.lock:
                matrix.loading = False

    threading.Thread(target=load, name=f"lb-vectors-{settings_id[:8]}", daemon=True).start()


def warm_vector_caches(database: Path | str) -> list[str]:
    """Start loading every vector settings' cache in the background; returns their ids.

    Also deletes the snapshots of vector settings this database no longer has.
    """
    database = str(database)
    settings_ids = read(
        database, lambda conn: [row[0] for row in conn.execute("SELECT id FROM vectors_settings")]
    )
    prune_snapshots(database, set(settings_ids))
    for settings_id in settings_ids:
        _start_loading(database, settings_id, _matrix_for(database, settings_id))
    return settings_ids


# --- the approximate index of a large matrix -----------------------------------------------------------


def _start_indexing(database: str, settings_id: str, matrix: _VectorMatrix) -> None:
    """Build (or restore), catch up and save `matrix`'s index in a daemon thread. The caller holds
    `matrix.lock`; searches score exactly meanwhile, and only this thread ever changes the index."""
    matrix.indexing = True
    generation = matrix.generation

    def work() -> None:
        try:
            while True:
                with matrix.lock:
                    if matrix.generation != generation:
                        return
                    if matrix.index is not None and matrix.index.worn_out():
                        matrix.index = None
                    fresh = matrix.index is None
                if fresh and not _install_index(database, settings_id, matrix, generation):
                    return
                if not _catch_up_index(database, settings_id, matrix, generation):
                    return
                with matrix.lock:
                    if matrix.generation != generation or not matrix.index_work():
                        return
        except Exception as err:  # searches keep scoring exactly; the next reload tries again
            print(f"labelbook: indexing the vectors {settings_id} failed: {err!r}", flush=True)
            with matrix.lock:
                matrix.index = None
                matrix.index_failed = generation
        finally:
            with matrix.lock:
                matrix.indexing = False

    threading.Thread(target=work, name=f"lb-vectors-index-{settings_id[:8]}", daemon=True).start()


def _install_index(database: str, settings_id: str, matrix: _VectorMatrix, generation: int) -> bool:
    """Restore the saved index or build one, for the matrix as it is now; False when superseded."""
    from labelbook.server.vector_index import RECALL_K, NeighbourIndex
    from labelbook.server.vector_index import recall as index_recall

    with matrix.lock:
        if matrix.generation != generation:
            return False
        # The array is never copied: rows changed in place from here on are also in index_pending.
        seq, ids, rows = matrix.seq, list(matrix.ids), matrix.matrix
        matrix.index_pending = set()
    started = time.perf_counter()
    index, source = None, "its saved copy"
    try:
        index = restore_index(database, settings_id, seq, ids, rows)
    except Exception as err:  # a cache of a cache: the matrix is still there
        print(f"labelbook: not using the saved vector index of {settings_id}: {err!r}", flush=True)
    if index is None:
        source = "the matrix"
        index = NeighbourIndex.build(rows, ids, stop=lambda: matrix.generation != generation)
        if index is None:
            return False
    recall = index_recall(index, ids, rows)
    if recall < MIN_RECALL:
        # Vectors without structure (noise-like) defeat a graph: exact answers, at the exact cost.
        print(
            f"labelbook: not using the vector index {settings_id}: it finds {recall:.2f} of the exact "
            f"top {RECALL_K} of sampled records (below {MIN_RECALL}); similarity searches score exactly",
            flush=True,
        )
        with matrix.lock:
            matrix.index_failed = generation
        return False
    with matrix.lock:
        if matrix.generation != generation:
            return False
        matrix.index = index
        matrix.index_source = source
        matrix.index_unsaved = len(ids) if source == "the matrix" else 0
    took = time.perf_counter() - started
    print(
        f"labelbook: vector index {settings_id} ({len(ids)} vectors) from {source} in {took:.1f} s",
        flush=True,
    )
    return True


def _catch_up_index(database: str, settings_id: str, matrix: _VectorMatrix, generation: int) -> bool:
    """Apply the changed records to the index a batch per hold of the lock, then save it if worth it."""
    while True:
        with matrix.lock:
            index = matrix.index
            if matrix.generation != generation or index is None:
                return False
            if not matrix.index_pending:
                seq = matrix.seq
                # A new index is always saved; then only once a start would spend time catching it up.
                worth = matrix.index_unsaved >= min(len(matrix.ids), max(1000, len(matrix.ids) // 20))
                break
            batch = [matrix.index_pending.pop() for _ in range(min(_INDEX_BATCH, len(matrix.index_pending)))]
            index.replace(batch, matrix.rows, matrix.matrix)
            matrix.index_unsaved += len(batch)
    if worth and not index.worn_out():
        # Only this thread changes the index, so it can be read without the lock (searches only read).
        started = time.perf_counter()
        try:
            write_index(database, settings_id, seq, index)
        except Exception as err:  # the next start builds it again: slower, still correct
            print(f"labelbook: could not save the vector index {settings_id}: {err!r}", flush=True)
            return True
        with matrix.lock:
            matrix.index_unsaved = 0
        took = time.perf_counter() - started
        print(f"labelbook: saved the vector index {settings_id} in {took:.1f} s", flush=True)
    return True


def _scan_scores(
    conn: sqlite3.Connection,
    settings_id: str,
    target: np.ndarray,
    give_up: Callable[[], bool] = lambda: False,
) -> tuple[list[str], np.ndarray] | None:
    """Every vector's cosine score against `target`, read straight from the table (no cache needed);
    None as soon as `give_up()` says so between chunks (the cache came in meanwhile)."""
    rowids: list[np.ndarray] = []
    ids: list[str] = []
    scores: list[np.ndarray] = []
    for chunk_rowids, chunk_ids, block in _vector_chunks(conn, settings_id):
        if give_up():
            return None
        rowids.append(chunk_rowids)
        ids.extend(chunk_ids)
        scores.append((1.0 + block @ target) / 2.0)
    if not ids:
        return [], np.zeros(0, dtype=np.float32)
    order = np.argsort(np.concatenate(rowids), kind="stable")
    return [ids[i] for i in order], np.concatenate(scores)[order]


_matrices: dict[tuple[str, str], _VectorMatrix] = {}
_matrices_lock = threading.Lock()


def _matrix_for(database: str, settings_id: str) -> _VectorMatrix:
    with _matrices_lock:
        return _matrices.setdefault((database, settings_id), _VectorMatrix())


def forget_matrices(database: str) -> None:
    """Drop this process's matrices of `database`: cheap, the next similarity search rebuilds its own."""
    with _matrices_lock:
        for key in [k for k in _matrices if k[0] == database]:
            matrix = _matrices.pop(key)
            with matrix.lock:
                matrix.generation += 1  # an index being built for it stops at its next chunk


def _caught_up(matrix: _VectorMatrix, conn: sqlite3.Connection, database: str, settings_id: str) -> bool:
    """Refresh the ready `matrix` from the log (False: it needs a full reload), then start saving its
    snapshot or indexing it if due. The caller holds `matrix.lock`."""
    if not matrix.refresh(conn, settings_id):
        return False
    if matrix.worth_saving():
        start_saving(database, settings_id, matrix)
    if matrix.wants_index():
        _start_indexing(database, settings_id, matrix)
    return True


def with_scores(
    conn: sqlite3.Connection,
    database: str,
    settings_id: str,
    target: np.ndarray,
    then: Callable[[list[str], np.ndarray], T],
) -> T:
    """`then(ids, scores)`: every vector's cosine score against the unit `target`, with its record id.

    From the cache when it is in, else from a scan of the table (starting the cache's load).
    """
    matrix = _matrix_for(database, settings_id)
    # Held while scoring and in `then`: a refresh by another thread mutates the matrix and its ids
    # in place. A cache still loading is never waited for: the search scans the table instead.
    with matrix.lock:
        if matrix.ready and _caught_up(matrix, conn, database, settings_id):
            # Elasticsearch's cosine score: (1 + cosine) / 2, in [0, 1].
            return then(matrix.ids, (1.0 + matrix.matrix @ target) / 2.0)
    _start_loading(database, settings_id, matrix)
    # A scan of 1M vectors takes about a minute; a cache loading from its snapshot is in within
    # seconds: the scan stops when the cache is ready and the search is answered from it.
    scanned = _scan_scores(conn, settings_id, target, give_up=lambda: matrix.ready)
    if scanned is None:
        return with_scores(conn, database, settings_id, target, then)
    return then(*scanned)


def similar(
    conn: sqlite3.Connection,
    database: str,
    settings_id: str,
    target: np.ndarray,
    k: int,
    *,
    allowed: Callable[[], set[str] | None],
    excluded: str | None = None,
) -> tuple[list[str], np.ndarray]:
    """The `k` records most similar to the unit `target` among `allowed()` (None: all) but
    `excluded`, best first, with their exact scores (equal scores: the earliest records first).

    Exact unless the matrix has an approximate index ready: from the matrix's rows when it is in,
    else `nearest` over a scan of the table.
    """
    matrix = _matrix_for(database, settings_id)
    with matrix.lock:
        # A refresh that needs a full reload answers False: the scan then.
        if matrix.ready and _caught_up(matrix, conn, database, settings_id):
            if matrix.index is not None:
                return _from_index(matrix, target, k, allowed(), excluded)
            return _exact(matrix, target, k, allowed(), excluded)

    def pick(ids: list[str], scores: np.ndarray) -> tuple[list[str], np.ndarray]:
        if not ids:
            return [], scores[:0]
        top = nearest(ids, scores, k, allowed=allowed(), excluded=excluded)
        return [ids[i] for i in top], scores[top]

    return with_scores(conn, database, settings_id, target, pick)
