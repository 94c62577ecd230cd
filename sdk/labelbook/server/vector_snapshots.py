"""The similarity cache's snapshots: a loaded matrix saved beside the database, and checked before use.

Parsing every vector's JSON takes minutes at a million records, so `labelbook.server.vectors`
saves each loaded matrix (`vector-cache/<settings id>.npz`, a cache: never backed up, rebuilt when
missing) with the log position it reflects. A start loads that snapshot instead, checks it belongs
to this database (`check_snapshot`) and catches up through the log from its position. The vector
parsing both share lives here too, and a search's query vector.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

from labelbook.server.schema import read

if TYPE_CHECKING:
    from labelbook.server.vector_index import NeighbourIndex


class Matrix(Protocol):
    """What a snapshot reads and marks on `labelbook.server.vectors`' matrix (its `_VectorMatrix`)."""

    lock: threading.Lock
    seq: int
    ids: list[str]
    matrix: np.ndarray
    unsaved: int
    exported: np.ndarray | None
    saving: bool

    def install(self, seq: int, ids: list[str], matrix: np.ndarray) -> None: ...

    def refresh(self, conn: sqlite3.Connection, settings_id: str) -> bool: ...


__all__ = [
    "SAMPLES",
    "SNAPSHOT_DIR",
    "Matrix",
    "check_index",
    "check_log_position",
    "index_path",
    "log_record_id",
    "normalise",
    "parse_vector",
    "parse_vectors",
    "prune_snapshots",
    "query_target",
    "restore_index",
    "restore_snapshot",
    "start_saving",
    "write_index",
    "write_npz",
]

# Snapshots: the folder beside the database, the file format's version, and how many rows of a
# snapshot are compared with the table before it is trusted.
SNAPSHOT_DIR = "vector-cache"
_SNAPSHOT_FORMAT = 1
SAMPLES = 8


def parse_vector(value: str) -> list[float]:
    # The JSON is a flat list of numbers: numpy parses it much faster than json.loads.
    return np.fromstring(value.strip()[1:-1], sep=",", dtype=np.float32)  # type: ignore[return-value]


def parse_vectors(values: list[str]) -> np.ndarray:
    """JSON number lists as the rows of one float32 matrix, parsed in one pass of numpy's C reader."""
    if not values:
        return np.zeros((0, 0), dtype=np.float32)
    text = "\n".join(value.strip()[1:-1] for value in values)
    matrix = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float32, ndmin=2)
    if matrix.shape[0] != len(values):
        # loadtxt skips blank lines: an empty vector would shift every row after it.
        return np.array([parse_vector(value) for value in values], dtype=np.float32)
    return matrix


def normalise(matrix: np.ndarray) -> np.ndarray:
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        return matrix.reshape(matrix.shape[0], -1) if matrix.ndim == 2 else np.zeros((0, 0), np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)


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
        query_vector = parse_vector(row[0]) if row else None
    if query_vector is None or len(query_vector) == 0:
        raise ValueError("Cannot find a vector value to apply with provided info")
    target = np.asarray(query_vector, dtype=np.float32)
    norm = float(np.linalg.norm(target))
    if norm == 0:
        raise ValueError("Cannot search by similarity to a zero vector")
    target = target / norm
    # Elasticsearch inverts the query vector.
    return -target if least_similar else target


# --- snapshots ---------------------------------------------------------------------------------------


class _Snapshot(NamedTuple):
    """A matrix as saved: the log position it reflects, that position's record, its ids and rows."""

    seq: int
    log_record_id: str | None
    ids: list[str]
    matrix: np.ndarray


def _snapshot_path(database: str, settings_id: str) -> Path:
    return Path(database).parent / SNAPSHOT_DIR / f"{settings_id}.npz"


def start_saving(database: str, settings_id: str, matrix: Matrix) -> None:
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
    meta = {
        "format": _SNAPSHOT_FORMAT,
        "settings_id": settings_id,
        "seq": seq,
        "log_record_id": log_record_id(database, seq),
    }
    # Uncompressed: loading is a copy plus the zip's CRC check, which also catches a damaged file.
    write_npz(
        _snapshot_path(database, settings_id),
        matrix=np.ascontiguousarray(rows, dtype=np.float32),
        ids=np.array(ids, dtype="S32"),
        meta=np.array(json.dumps(meta)),
    )


def log_record_id(database: str, seq: int) -> str | None:
    """The record of log position `seq`: saved with a file, so a start can tell it is this log's."""
    if seq <= 0:
        return None
    row = read(
        database,
        lambda conn: conn.execute("SELECT record_id FROM lb_vector_log WHERE seq = ?", (seq,)).fetchone(),
    )
    return row[0] if row else None


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Save `arrays` atomically (temp file, fsync, rename): a crash leaves the old file or the new one."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(temp, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
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
    return check_log_position(conn, settings_id, snapshot.seq, snapshot.log_record_id)


def check_log_position(
    conn: sqlite3.Connection, settings_id: str, seq: int, log_record_id: str | None
) -> str | None:
    """Why log position `seq` is not the one a file saved at it recorded, or None when it is."""
    if seq > 0:
        logged = conn.execute(
            "SELECT vector_settings_id, record_id FROM lb_vector_log WHERE seq = ?", (seq,)
        ).fetchone()
        if logged != (settings_id, log_record_id):
            return f"the change log lacks its position {seq} (a restored or copied database?)"
    return None


def _check_caught_up(conn: sqlite3.Connection, settings_id: str, matrix: Matrix) -> str | None:
    """Why the caught-up snapshot differs from the table, or None: the count, and a few rows compared."""
    count = conn.execute(
        "SELECT count(*) FROM vectors WHERE vector_settings_id = ?", (settings_id,)
    ).fetchone()[0]
    if count != len(matrix.ids):
        return f"{len(matrix.ids)} vectors where the table has {count}"
    if not matrix.ids:
        return None
    rng = np.random.default_rng()
    positions = {0, len(matrix.ids) - 1, *rng.integers(0, len(matrix.ids), size=SAMPLES).tolist()}
    for position in sorted(positions):
        row = conn.execute(
            "SELECT value FROM vectors WHERE vector_settings_id = ? AND record_id = ?",
            (settings_id, matrix.ids[position]),
        ).fetchone()
        if row is None:
            return f"record {matrix.ids[position]} has no vector in the table"
        stored = normalise(np.array([parse_vector(row[0])], dtype=np.float32))[0]
        if stored.shape != matrix.matrix[position].shape or not np.allclose(
            stored, matrix.matrix[position], atol=1e-6
        ):
            return f"record {matrix.ids[position]}'s vector differs from the table's"
    return None


def restore_snapshot(
    database: str, settings_id: str, empty: Callable[[], Matrix]
) -> tuple[int, list[str], np.ndarray, int] | None:
    """The saved matrix caught up with the log: (log position, ids, matrix, records changed since).

    `empty()` makes the matrix the snapshot is installed in and caught up (as the search's own).

    None when there is no usable snapshot or the changes since are many (a full load is then cheaper).
    """
    snapshot = _read_snapshot(database, settings_id)
    if snapshot is None:
        return None

    def work(conn: sqlite3.Connection) -> tuple[int, list[str], np.ndarray, int] | str:
        problem = _check_snapshot(conn, settings_id, snapshot)
        if problem is not None:
            return problem
        caught_up = empty()
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


def prune_snapshots(database: str, settings_ids: set[str]) -> None:
    """Delete snapshots of vector settings that are gone, and temp files a crashed writer left."""
    folder = Path(database).parent / SNAPSHOT_DIR
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        try:
            # <settings id>.npz (the matrix) and <settings id>.index.npz (its approximate index).
            gone = path.suffix == ".npz" and path.name.split(".")[0] not in settings_ids
            if gone or (path.suffix == ".tmp" and time.time() - path.stat().st_mtime > 3600):
                path.unlink()
        except OSError:
            pass  # another process got there first


# --- the approximate index's saved copy ----------------------------------------------------------

INDEX_FORMAT = 1


def index_path(database: str, settings_id: str) -> Path:
    return Path(database).parent / SNAPSHOT_DIR / f"{settings_id}.index.npz"


def write_index(database: str, settings_id: str, seq: int, index: NeighbourIndex) -> None:
    serialised, labels = index.to_arrays()
    meta = {
        "format": INDEX_FORMAT,
        "settings_id": settings_id,
        "seq": seq,
        "log_record_id": log_record_id(database, seq),
    }
    write_npz(
        index_path(database, settings_id), index=serialised, labels=labels, meta=np.array(json.dumps(meta))
    )


def restore_index(
    database: str, settings_id: str, seq: int, ids: list[str], rows: np.ndarray
) -> NeighbourIndex | None:
    """The saved index caught up to log position `seq`, where the matrix is `rows` (record `ids[i]`
    at row i); None (with a log line) when missing, damaged, not this database's, or wrong."""
    from labelbook.server.vector_index import NeighbourIndex

    path = index_path(database, settings_id)
    if not path.exists():
        return None
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            index = NeighbourIndex.from_arrays(data["index"], data["labels"])
    except (OSError, ValueError, KeyError, EOFError, RuntimeError, zipfile.BadZipFile) as err:
        print(f"labelbook: ignoring the saved vector index {path}: unreadable ({err!r})", flush=True)
        return None

    def work(conn: sqlite3.Connection) -> str | None:
        if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
            return "an unknown format"
        if meta.get("settings_id") != settings_id:
            return "another vector settings' index"
        saved_at = meta.get("seq")
        if not isinstance(saved_at, int) or saved_at > seq:
            return f"log position {saved_at!r}, the matrix is at {seq}"
        if index.dimensions != rows.shape[1]:
            return f"{index.dimensions} dimensions where the vectors have {rows.shape[1]}"
        problem = check_log_position(conn, settings_id, saved_at, meta.get("log_record_id"))
        if problem is not None:
            return problem
        changed = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT record_id FROM lb_vector_log "
                "WHERE vector_settings_id = ? AND seq > ? AND seq <= ?",
                (settings_id, saved_at, seq),
            )
        ]
        if len(changed) > max(1000, len(ids) // 5):
            return f"{len(changed)} records changed since it was saved"
        positions = {record_id: i for i, record_id in enumerate(ids)}
        index.replace(changed, positions, rows)
        return check_index(index, positions, rows)

    problem = read(database, work)
    if problem is not None:
        print(f"labelbook: not using the saved vector index {path}: {problem}; building it", flush=True)
        return None
    return index


def check_index(index: NeighbourIndex, positions: dict[str, int], rows: np.ndarray) -> str | None:
    """Why `index` is not an index of `rows`, or None: every record once, and a few rows found by
    their own vector (a wrong vector under a label, or a damaged graph, would miss them)."""
    if len(index.label_of) != len(positions) or any(r not in positions for r in index.label_of):
        return f"{len(index.label_of)} records indexed where the matrix has {len(positions)}"
    rng = np.random.default_rng()
    ids = list(positions)
    for position in rng.integers(0, len(ids), size=min(SAMPLES, len(ids))).tolist():
        own = rows[position]
        found = [positions[r] for r in index.candidates(own, 10)]
        best = float(np.max(rows[found] @ own)) if found else -1.0
        if best < float(own @ own) - 1e-5:
            return f"record {ids[position]} is not found by its own vector"
    return None
