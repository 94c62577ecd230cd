"""Back up a server's data to one file, and restore it into a stopped server's data dir.

A backup is a tar file holding `manifest.json` (what it is, when, which versions, counts),
`argilla.db` (a consistent copy made with SQLite's online backup API, so annotators keep
submitting while it runs), `credentials.json` (the owner's login, which matches the copy's
owner account) and `auth-secret` (the key web-UI tokens are signed with). Left out: logs, the
run folder (pids, the redis socket: transient) and redis itself (rq's queue, never persisted).

Restoring refuses a running server's data dir and any file that is not such a backup, and moves
whatever data the dir held into a `before-restore-<time>` folder beside it, never deleting it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from labelbook.errors import ServerError
from labelbook.server.launcher import ServerPaths, _dist_version, _start_lock, default_data_dir, status

__all__ = ["BACKUP_FORMAT", "BackupInfo", "RestoreInfo", "backup", "restore"]

BACKUP_FORMAT = "labelbook-server-backup"
FORMAT_VERSION = 1
_DATABASE = "argilla.db"
_SECRETS = ("credentials.json", "auth-secret")
LEFT_OUT = (
    "logs/ (the server's logs)",
    "run/ (pid files and the redis socket: they describe running processes)",
    "redis (rq's job queue is never persisted; queued webhook deliveries are not in a backup)",
)


@dataclasses.dataclass(frozen=True)
class BackupInfo:
    """What `backup` wrote."""

    path: Path
    created_at: str
    counts: dict[str, int]
    files: tuple[str, ...]
    left_out: tuple[str, ...] = LEFT_OUT


@dataclasses.dataclass(frozen=True)
class RestoreInfo:
    """What `restore` put in place, and where the data it replaced went."""

    data_dir: Path
    created_at: str
    counts: dict[str, int]
    previous: Path | None


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    counts = {}
    for table in ("datasets", "records", "responses", "suggestions", "users"):
        counts[table] = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    return counts


def _snapshot(database: Path, target: Path) -> dict[str, Any]:
    """Copy `database` to `target` as of one moment, while other processes keep writing."""
    source = sqlite3.connect(database, timeout=30)
    try:
        source.execute("PRAGMA busy_timeout=30000")
        copy = sqlite3.connect(target)
        try:
            # One step (pages=-1): the copy is made inside a single read transaction, so it is the
            # database as of one commit; in WAL mode that never blocks the writers.
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the tar
            problem = copy.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise ServerError(
                    f"The copy of {database} failed SQLite's check ({problem}); nothing was written."
                )
            revision = copy.execute("SELECT version_num FROM alembic_version").fetchone()
            return {"counts": _counts(copy), "alembic_revision": revision[0] if revision else None}
        finally:
            copy.close()
    finally:
        source.close()


def backup(output: Path | str, data_dir: Path | str | None = None) -> BackupInfo:
    """Write a backup of the server in `data_dir` (running or not) to `output`, readable only by you."""
    paths = ServerPaths(Path(data_dir).expanduser().resolve() if data_dir else default_data_dir())
    output = Path(output).expanduser()
    if not paths.database.is_file():
        raise ServerError(
            f"No server database at {paths.database}: nothing to back up. "
            "Pass the server's --data-dir (see `labelbook server status`)."
        )
    if output.exists():
        raise ServerError(
            f"{output} already exists; choose another file name (backups are never overwritten)."
        )
    if not output.parent.is_dir():
        raise ServerError(f"The folder {output.parent} does not exist; create it or choose another -o.")
    created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with tempfile.TemporaryDirectory(prefix=".labelbook-backup-", dir=output.parent) as staging:
        copy = Path(staging) / _DATABASE
        try:
            facts = _snapshot(paths.database, copy)
        except sqlite3.Error as err:
            raise ServerError(f"Could not copy {paths.database}: {err}. Nothing was written.") from err
        files = [_DATABASE, *(name for name in _SECRETS if (paths.data_dir / name).is_file())]
        manifest = {
            "format": BACKUP_FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": created_at,
            "data_dir": str(paths.data_dir),
            "versions": {name: _dist_version(name) for name in ("labelbook", "argilla-server")},
            "alembic_revision": facts["alembic_revision"],
            "counts": facts["counts"],
            "files": files,
            "left_out": list(LEFT_OUT),
        }
        partial = Path(staging) / "backup.tar"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w") as tar:
            _add_bytes(tar, "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
            tar.add(copy, arcname=_DATABASE)
            for name in files[1:]:
                tar.add(paths.data_dir / name, arcname=name)
        try:
            os.link(partial, output)  # whole or not at all; refuses a name that appeared meanwhile
        except FileExistsError as err:
            raise ServerError(f"{output} appeared while the backup ran; nothing was overwritten.") from err
    return BackupInfo(output, created_at, facts["counts"], tuple(files))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mode = 0o600
    member.mtime = int(time.time())
    tar.addfile(member, io.BytesIO(data))


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    not_ours = (
        f"{archive} is not a labelbook server backup (no labelbook manifest); "
        "restore only files written by `labelbook server backup -o FILE`."
    )
    try:
        member = tar.getmember("manifest.json")
        handle = tar.extractfile(member)
        manifest = json.loads(handle.read()) if handle is not None else None
    except (KeyError, ValueError) as err:
        raise ServerError(not_ours) from err
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        raise ServerError(not_ours)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ServerError(
            f"{archive} is a labelbook backup of format {manifest.get('format_version')}; this labelbook "
            f"reads format {FORMAT_VERSION}. Restore it with the labelbook version that wrote it "
            f"({manifest.get('versions', {}).get('labelbook', 'unknown')})."
        )
    return manifest


def restore(archive: Path | str, data_dir: Path | str | None = None) -> RestoreInfo:
    """Put the backup `archive` in place as the data of the (stopped) server in `data_dir`.

    The data dir's current database, credentials and token key, if any, are moved into a new
    `before-restore-<time>` folder inside it first; nothing is deleted.
    """
    archive = Path(archive).expanduser()
    paths = ServerPaths(Path(data_dir).expanduser().resolve() if data_dir else default_data_dir())
    if not archive.is_file():
        raise ServerError(f"No backup file at {archive}.")
    try:
        tar = tarfile.open(archive, mode="r:*")  # noqa: SIM115 — closed by the `with tar` below
    except (tarfile.TarError, OSError) as err:
        raise ServerError(
            f"{archive} is not a labelbook server backup (not a tar file: {err}); "
            "restore only files written by `labelbook server backup -o FILE`."
        ) from err
    with tar:
        manifest = _read_manifest(tar, archive)
        paths.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        paths.run_dir.mkdir(mode=0o700, exist_ok=True)
        with _start_lock(paths):
            current = status(paths.data_dir)
            if current.state != "stopped":
                raise ServerError(
                    f"The server for {paths.data_dir} is {current.state}; restoring would replace the "
                    f"database under it. Stop it first: labelbook server stop --data-dir {paths.data_dir}"
                )
            with tempfile.TemporaryDirectory(prefix=".restore-", dir=paths.data_dir) as staging_name:
                staging = Path(staging_name)
                names = [_DATABASE, *(n for n in _SECRETS if n in manifest.get("files", []))]
                for name in names:
                    _extract(tar, name, staging / name, archive)
                counts = _check_database(staging / _DATABASE, archive)
                previous = _move_aside(paths)
                for name in names:
                    os.replace(staging / name, paths.data_dir / name)
    return RestoreInfo(paths.data_dir, str(manifest.get("created_at")), counts, previous)


def _extract(tar: tarfile.TarFile, name: str, target: Path, archive: Path) -> None:
    """Copy one member by its known name (never a path the archive chooses) to a 0600 file."""
    try:
        member = tar.getmember(name)
    except KeyError as err:
        raise ServerError(f"{archive} lacks {name}: the backup is incomplete; nothing was restored.") from err
    source = tar.extractfile(member) if member.isfile() else None
    if source is None:
        raise ServerError(f"{archive}: {name} is not a regular file; nothing was restored.")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle, source:
        while chunk := source.read(1 << 20):
            handle.write(chunk)


def _check_database(database: Path, archive: Path) -> dict[str, int]:
    try:
        conn = sqlite3.connect(database)
        try:
            problem = conn.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise ServerError(f"The database in {archive} is damaged ({problem}); nothing was restored.")
            # The server runs in WAL mode (a property of the file), as `start` would set it.
            conn.execute("PRAGMA journal_mode=WAL")
            return _counts(conn)
        finally:
            conn.close()
    except sqlite3.Error as err:
        raise ServerError(f"The database in {archive} cannot be read ({err}); nothing was restored.") from err


def _move_aside(paths: ServerPaths) -> Path | None:
    """Move the data dir's database (with its WAL), credentials and token key into a new folder."""
    present = [
        path
        for path in (
            paths.database,
            paths.database.with_name(_DATABASE + "-wal"),
            paths.database.with_name(_DATABASE + "-shm"),
            *(paths.data_dir / name for name in _SECRETS),
        )
        if path.exists()
    ]
    if not present:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = paths.data_dir / f"before-restore-{stamp}"
    suffix = 1
    while True:
        try:
            folder.mkdir(mode=0o700)
            break
        except FileExistsError:
            suffix += 1
            folder = paths.data_dir / f"before-restore-{stamp}-{suffix}"
    for path in present:
        os.replace(path, folder / path.name)
    with contextlib.suppress(OSError):
        os.chmod(folder, 0o700)
    return folder
