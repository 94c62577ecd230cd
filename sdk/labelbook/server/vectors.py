"""Similarity search: each vector settings' vectors as one normalised float32 matrix, per process.

A matrix loads in a background thread (`warm_vector_caches` at startup, or a first similarity
search); until it is in, searches scan the `vectors` table in chunks instead (same answers,
slower), so no request ever waits for a load. Once in, it catches up with small changes through
`lb_vector_log` (kept by triggers, see `labelbook.server.schema`) and reloads in the background
after large ones. Scores are Elasticsearch's cosine score, (1 + cos) / 2, in [0, 1].
"""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from labelbook.server.schema import read

__all__ = ["forget_matrices", "nearest", "query_target", "warm_vector_caches", "with_scores"]

T = TypeVar("T")

_VECTOR_ROWS = (
    "SELECT r.rowid, v.record_id, v.value FROM vectors AS v JOIN records AS r ON r.id = v.record_id "
    "WHERE v.vector_settings_id = ?"
)
# Rows parsed per step: numpy's parser holds the GIL for one chunk only, so other requests keep going.
_CHUNK = 2048


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
            return True
        self.ready = False
        return False

    def install(self, seq: int, ids: list[str], matrix: np.ndarray) -> None:
        self.ids = ids
        self.rows = {record_id: i for i, record_id in enumerate(ids)}
        self.matrix = matrix
        self.seq = seq
        self.ready = True

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
                current[record_id] = _parse_vector(value)
        gone = [r for r in record_ids if r not in current and r in self.rows]
        if gone:
            keep = np.ones(len(self.ids), dtype=bool)
            keep[[self.rows[r] for r in gone]] = False
            self.ids = [r for r, k in zip(self.ids, keep, strict=True) if k]
            self.matrix = self.matrix[keep]
            self.rows = {record_id: i for i, record_id in enumerate(self.ids)}
        new = [r for r in current if r not in self.rows]
        for record_id, value in current.items():
            if record_id in self.rows:
                self.matrix[self.rows[record_id]] = _normalise(np.array([value], dtype=np.float32))[0]
        if new:
            block = _normalise(np.array([current[r] for r in new], dtype=np.float32))
            self.matrix = block if self.matrix.size == 0 else np.vstack([self.matrix, block])
            for record_id in new:
                self.rows[record_id] = len(self.ids)
                self.ids.append(record_id)


def _vector_chunks(
    conn: sqlite3.Connection, settings_id: str
) -> Iterator[tuple[np.ndarray, list[str], np.ndarray]]:
    """(rowids, record ids, normalised vectors) of one vector settings, a chunk at a time."""
    cursor = conn.execute(_VECTOR_ROWS, (settings_id,))
    while rows := cursor.fetchmany(_CHUNK):
        rowids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        yield rowids, [row[1] for row in rows], _normalise(_parse_vectors([row[2] for row in rows]))


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

    def load() -> None:
        try:
            started = time.perf_counter()
            seq, ids, vectors = _load_matrix(database, settings_id)
            with matrix.lock:
                matrix.install(seq, ids, vectors)
            took = time.perf_counter() - started
            print(f"labelbook: vector cache {settings_id} ({len(ids)} vectors) in {took:.1f} s", flush=True)
        except Exception as err:  # the searches keep scanning; the next one tries again
            print(f"labelbook: loading the vector cache {settings_id} failed: {err!r}", flush=True)
        finally:
            with matrix.lock:
                matrix.loading = False

    threading.Thread(target=load, name=f"lb-vectors-{settings_id[:8]}", daemon=True).start()


def warm_vector_caches(database: Path | str) -> list[str]:
    """Start loading every vector settings' cache in the background; returns their ids."""
    database = str(database)
    settings_ids = read(
        database, lambda conn: [row[0] for row in conn.execute("SELECT id FROM vectors_settings")]
    )
    for settings_id in settings_ids:
        _start_loading(database, settings_id, _matrix_for(database, settings_id))
    return settings_ids


def _scan_scores(
    conn: sqlite3.Connection, settings_id: str, target: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Every vector's cosine score against `target`, read straight from the table (no cache needed)."""
    rowids: list[np.ndarray] = []
    ids: list[str] = []
    scores: list[np.ndarray] = []
    for chunk_rowids, chunk_ids, block in _vector_chunks(conn, settings_id):
        rowids.append(chunk_rowids)
        ids.extend(chunk_ids)
        scores.append((1.0 + block @ target) / 2.0)
    if not ids:
        return [], np.zeros(0, dtype=np.float32)
    order = np.argsort(np.concatenate(rowids), kind="stable")
    return [ids[i] for i in order], np.concatenate(scores)[order]


def _parse_vector(value: str) -> list[float]:
    # The JSON is a flat list of numbers: numpy parses it much faster than json.loads.
    return np.fromstring(value.strip()[1:-1], sep=",", dtype=np.float32)  # type: ignore[return-value]


def _parse_vectors(values: list[str]) -> np.ndarray:
    """JSON number lists as the rows of one float32 matrix, parsed in one pass of numpy's C reader."""
    if not values:
        return np.zeros((0, 0), dtype=np.float32)
    text = "\n".join(value.strip()[1:-1] for value in values)
    matrix = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float32, ndmin=2)
    if matrix.shape[0] != len(values):
        # loadtxt skips blank lines: an empty vector would shift every row after it.
        return np.array([_parse_vector(value) for value in values], dtype=np.float32)
    return matrix


def _normalise(matrix: np.ndarray) -> np.ndarray:
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        return matrix.reshape(matrix.shape[0], -1) if matrix.ndim == 2 else np.zeros((0, 0), np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)


_matrices: dict[tuple[str, str], _VectorMatrix] = {}
_matrices_lock = threading.Lock()


def _matrix_for(database: str, settings_id: str) -> _VectorMatrix:
    with _matrices_lock:
        return _matrices.setdefault((database, settings_id), _VectorMatrix())


def forget_matrices(database: str) -> None:
    """Drop this process's matrices of `database`: cheap, the next similarity search rebuilds its own."""
    with _matrices_lock:
        for key in [k for k in _matrices if k[0] == database]:
            del _matrices[key]


def query_target(
    conn: sqlite3.Connection,
    settings_id: str,
    value: Sequence[float] | None,
    record_id: str | None,
    *,
    least_similar: bool,
) -> np.ndarray:
    """The unit query vector: `value`, or record `record_id`'s vector; negated for least similar."""
    query_vector = value
    if record_id is not None:
        row = conn.execute(
            "SELECT value FROM vectors WHERE record_id = ? AND vector_settings_id = ?",
            (record_id, settings_id),
        ).fetchone()
        query_vector = _parse_vector(row[0]) if row else None
    if query_vector is None or len(query_vector) == 0:
        raise ValueError("Cannot find a vector value to apply with provided info")
    target = np.asarray(query_vector, dtype=np.float32)
    norm = float(np.linalg.norm(target))
    if norm == 0:
        raise ValueError("Cannot search by similarity to a zero vector")
    target = target / norm
    # Elasticsearch inverts the query vector.
    return -target if least_similar else target


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
        if matrix.ready and matrix.refresh(conn, settings_id):
            # Elasticsearch's cosine score: (1 + cosine) / 2, in [0, 1].
            return then(matrix.ids, (1.0 + matrix.matrix @ target) / 2.0)
    _start_loading(database, settings_id, matrix)
    ids, scores = _scan_scores(conn, settings_id, target)
    return then(ids, scores)


def nearest(
    ids: list[str],
    scores: np.ndarray,
    k: int,
    *,
    allowed: set[str] | None = None,
    excluded: str | None = None,
) -> np.ndarray:
    """The positions of the `k` best scores among the `allowed` ids but `excluded`, best first.

    Among equal scores at the cut and in the order, the earliest records (a stable order).
    """
    candidates = np.ones(len(ids), dtype=bool)
    if allowed is not None:
        candidates = np.fromiter((i in allowed for i in ids), dtype=bool, count=len(ids))
    if excluded is not None and excluded in ids:
        candidates[ids.index(excluded)] = False
    pool = np.flatnonzero(candidates)
    k = min(k, len(pool))
    if k == 0:
        return pool[:0]
    top = pool
    if k < len(pool):
        values = scores[pool]
        kth = np.partition(values, len(values) - k)[len(values) - k]
        above = pool[values > kth]
        top = np.concatenate([above, pool[values == kth][: k - len(above)]])
    return top[np.lexsort((top, -scores[top]))]
