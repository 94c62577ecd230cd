"""Similarity search: each vector settings' vectors as one normalised float32 matrix, per process.

A matrix loads in a background thread (`warm_vector_caches` at startup, or a first similarity
search); until it is in, searches scan the `vectors` table in chunks instead (same answers,
slower), so no request ever waits for a load. Once in, it catches up with small changes through
`lb_vector_log` (kept by triggers, see `labelbook.server.schema`) and reloads in the background
after large ones. Scores are Elasticsearch's cosine score, (1 + cos) / 2, in [0, 1].

Parsing every vector's JSON takes minutes at a million records, so each loaded matrix is also
saved beside the database (`vector-cache/<settings id>.npz`, a cache: never backed up, rebuilt
when missing) with the log position it reflects. A start loads that snapshot instead, checks it
belongs to this database (`_check_snapshot`) and catches up through the log from its position.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

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

# Snapshots: the folder beside the database, the file format's version, and how many rows of a
# snapshot are compared with the table before it is trusted.
SNAPSHOT_DIR = "vector-cache"
_SNAPSHOT_FORMAT = 1
_SAMPLES = 8


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
        if self.matrix is self.exported and any(r in self.rows for r in current):
            self.matrix = self.matrix.copy()
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
        # A reload after many changes (the matrix was in) would find the snapshot as far behind.
        first_load = matrix.seq == -1

    def load() -> None:
        try:
            started = time.perf_counter()
            source, caught_up = "snapshot", 0
            restored = None
            try:
                restored = _restore_snapshot(database, settings_id) if first_load else None
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
                    _start_saving(database, settings_id, matrix)
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
    _prune_snapshots(database, set(settings_ids))
    for settings_id in settings_ids:
        _start_loading(database, settings_id, _matrix_for(database, settings_id))
    return settings_ids


# --- snapshots ---------------------------------------------------------------------------------------


class _Snapshot(NamedTuple):
    """A matrix as saved: the log position it reflects, that position's record, its ids and rows."""

    seq: int
    log_record_id: str | None
    ids: list[str]
    matrix: np.ndarray


def _snapshot_path(database: str, settings_id: str) -> Path:
    return Path(database).parent / SNAPSHOT_DIR / f"{settings_id}.npz"


def _start_saving(database: str, settings_id: str, matrix: _VectorMatrix) -> None:
    """Write `matrix`'s snapshot in a daemon thread. The caller holds `matrix.lock`."""
    seq, ids, rows, pending = matrix.seq, list(matrix.ids), matrix.matrix, matrix.unsaved
    matrix.exported, matrix.saving = rows, True

    def save() -> None:
        try:
            started = time.perf_counter()
            _write_snapshot(database, settings_id, seq, ids, rows)
            took = time.perf_counter() - started
            print(
                f"labelbook: saved the vector cache {settings_id} ({len(ids)} vectors) in {took:.1f} s",
                flush=True,
            )
            saved = True
        except Exception as err:  # the next start loads from the table instead: slower, still correct
            print(f"labelbook: could not save the vector cache {settings_id}: {err!r}", flush=True)
            saved = False
        with matrix.lock:
            matrix.saving = False
            if matrix.exported is rows:
                matrix.exported = None
            if saved:
                # Changes applied while writing are not in the file: they stay counted.
                matrix.unsaved = max(0, matrix.unsaved - pending)

    threading.Thread(target=save, name=f"lb-vectors-save-{settings_id[:8]}", daemon=True).start()


def _write_snapshot(database: str, settings_id: str, seq: int, ids: list[str], rows: np.ndarray) -> None:
    """Save one matrix atomically (temp file, fsync, rename): a crash leaves the old file or the new one."""
    log_record_id = None
    if seq > 0:
        row = read(
            database,
            lambda conn: conn.execute("SELECT record_id FROM lb_vector_log WHERE seq = ?", (seq,)).fetchone(),
        )
        log_record_id = row[0] if row else None
    meta = {
        "format": _SNAPSHOT_FORMAT,
        "settings_id": settings_id,
        "seq": seq,
        "log_record_id": log_record_id,
    }
    path = _snapshot_path(database, settings_id)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(temp, "wb") as handle:
            # Uncompressed: loading is a copy plus the zip's CRC check, which also catches a damaged file.
            np.savez(
                handle,
                matrix=np.ascontiguousarray(rows, dtype=np.float32),
                ids=np.array(ids, dtype="S32"),
                meta=np.array(json.dumps(meta)),
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _read_snapshot(database: str, settings_id: str) -> _Snapshot | None:
    """The snapshot file's content if it is whole and well-formed; None (with a log line) otherwise."""
    path = _snapshot_path(database, settings_id)
    if not path.exists():
        return None
    try:
        # Our own handle: np.load leaks the one it opens when the zip is unreadable.
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            ids = data["ids"]
            rows = data["matrix"]
        problem = None
        if not isinstance(meta, dict) or meta.get("format") != _SNAPSHOT_FORMAT:
            problem = "an unknown format"
        elif meta.get("settings_id") != settings_id:
            problem = "another vector settings' snapshot"
        elif ids.ndim != 1 or rows.ndim != 2 or rows.dtype != np.float32 or len(ids) != rows.shape[0]:
            problem = "inconsistent arrays"
        elif not isinstance(meta.get("seq"), int):
            problem = "no log position"
        if problem is None:
            return _Snapshot(meta["seq"], meta.get("log_record_id"), ids.astype(str).tolist(), rows)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        problem = f"unreadable ({err!r})"
    print(f"labelbook: ignoring the vector cache snapshot {path}: {problem}", flush=True)
    return None


def _check_snapshot(conn: sqlite3.Connection, settings_id: str, snapshot: _Snapshot) -> str | None:
    """Why `snapshot` cannot be this database's vectors as of its log position, or None when it can.

    A restored (older) backup, another database copied in, or a pruned log must never have a snapshot
    served for it: the log row at the snapshot's position must be the one it was taken after (seqs
    are AUTOINCREMENT, never reused in one database; a restored backup's log ends before it, or its
    later rows are other changes), and the vector settings' dimensions must match.
    """
    settings = conn.execute("SELECT dimensions FROM vectors_settings WHERE id = ?", (settings_id,)).fetchone()
    if settings is None:
        return "the vector settings are gone"
    if snapshot.ids and snapshot.matrix.shape[1] != settings[0]:
        return f"{snapshot.matrix.shape[1]} dimensions where the settings have {settings[0]}"
    if snapshot.seq > 0:
        logged = conn.execute(
            "SELECT vector_settings_id, record_id FROM lb_vector_log WHERE seq = ?", (snapshot.seq,)
        ).fetchone()
        if logged != (settings_id, snapshot.log_record_id):
            return f"the change log lacks its position {snapshot.seq} (a restored or copied database?)"
    return None


def _check_caught_up(conn: sqlite3.Connection, settings_id: str, matrix: _VectorMatrix) -> str | None:
    """Why the caught-up snapshot differs from the table, or None: the count, and a few rows compared."""
    count = conn.execute(
        "SELECT count(*) FROM vectors WHERE vector_settings_id = ?", (settings_id,)
    ).fetchone()[0]
    if count != len(matrix.ids):
        return f"{len(matrix.ids)} vectors where the table has {count}"
    if not matrix.ids:
        return None
    rng = np.random.default_rng()
    positions = {0, len(matrix.ids) - 1, *rng.integers(0, len(matrix.ids), size=_SAMPLES).tolist()}
    for position in sorted(positions):
        row = conn.execute(
            "SELECT value FROM vectors WHERE vector_settings_id = ? AND record_id = ?",
            (settings_id, matrix.ids[position]),
        ).fetchone()
        if row is None:
            return f"record {matrix.ids[position]} has no vector in the table"
        stored = _normalise(np.array([_parse_vector(row[0])], dtype=np.float32))[0]
        if stored.shape != matrix.matrix[position].shape or not np.allclose(
            stored, matrix.matrix[position], atol=1e-6
        ):
            return f"record {matrix.ids[position]}'s vector differs from the table's"
    return None


def _restore_snapshot(database: str, settings_id: str) -> tuple[int, list[str], np.ndarray, int] | None:
    """The saved matrix caught up with the log: (log position, ids, matrix, records changed since).

    None when there is no usable snapshot or the changes since are many (a full load is then cheaper).
    """
    snapshot = _read_snapshot(database, settings_id)
    if snapshot is None:
        return None

    def work(conn: sqlite3.Connection) -> tuple[int, list[str], np.ndarray, int] | str:
        problem = _check_snapshot(conn, settings_id, snapshot)
        if problem is not None:
            return problem
        caught_up = _VectorMatrix()
        caught_up.install(snapshot.seq, snapshot.ids, snapshot.matrix)
        if not caught_up.refresh(conn, settings_id):
            return "too many changes since it was taken"
        problem = _check_caught_up(conn, settings_id, caught_up)
        if problem is not None:
            return problem
        return caught_up.seq, caught_up.ids, caught_up.matrix, caught_up.unsaved

    outcome = read(database, work)
    if isinstance(outcome, str):
        path = _snapshot_path(database, settings_id)
        print(
            f"labelbook: not using the vector cache snapshot {path}: {outcome}; loading the table", flush=True
        )
        return None
    return outcome


def _prune_snapshots(database: str, settings_ids: set[str]) -> None:
    """Delete snapshots of vector settings that are gone, and temp files a crashed writer left."""
    folder = Path(database).parent / SNAPSHOT_DIR
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        try:
            gone = path.suffix == ".npz" and path.stem not in settings_ids
            if gone or (path.suffix == ".tmp" and time.time() - path.stat().st_mtime > 3600):
                path.unlink()
        except OSError:
            pass  # another process got there first


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
            if matrix.worth_saving():
                _start_saving(database, settings_id, matrix)
            # Elasticsearch's cosine score: (1 + cosine) / 2, in [0, 1].
            return then(matrix.ids, (1.0 + matrix.matrix @ target) / 2.0)
    _start_loading(database, settings_id, matrix)
    # A scan of 1M vectors takes about a minute; a cache loading from its snapshot is in within
    # seconds: the scan stops when the cache is ready and the search is answered from it.
    scanned = _scan_scores(conn, settings_id, target, give_up=lambda: matrix.ready)
    if scanned is None:
        return with_scores(conn, database, settings_id, target, then)
    return then(*scanned)


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
