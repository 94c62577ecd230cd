"""The release store: `<stem>.releases/<version>/` folders, each checked against its manifest when read.

Writes are atomic: a release is written into `.tmp-*` inside the store, fsync'ed, then renamed
to its version (a directory renamed onto an existing, non-empty name fails, so the rename is the
arbiter if two writers ever get that far); an flock on the store folder itself (no lock file to
share by mistake) makes a second concurrent `release` fail at once with a clear error. A process
killed mid-release leaves only a `.tmp-*` folder, which readers ignore and the next release
removes. Files edited by hand are detected on read: every file's hash is checked against the
manifest, and the manifest against its own hash.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import hashlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from labelbook.encoding import parse_utc, utc
from labelbook.errors import ReleaseError
from labelbook.files import fsync_dir, write_synced
from labelbook.releases.snapshot import Snapshot
from labelbook.releases.version import Version

__all__ = [
    "DOCUMENTS",
    "MANIFEST",
    "MANIFEST_SCHEMA",
    "Release",
    "as_utc",
    "author",
    "clean_temp",
    "latest_release",
    "list_releases",
    "locked",
    "open_release",
    "store_path",
    "write_release",
]

MANIFEST_SCHEMA = 1
DOCUMENTS = ("task.json", "guide.md", "guide.html", "guide.json", "changelog.md")
"""The files of every release, beside manifest.json."""
MANIFEST = "manifest.json"
_TMP_PREFIX = ".tmp-"


def store_path(notebook: str | os.PathLike[str]) -> Path:
    """The release store of a notebook: `<stem>.releases/` beside it (shared by its jupytext twin)."""
    path = Path(notebook)
    if path.is_dir() and path.suffix == ".releases":
        return path
    return path.with_name(f"{path.stem}.releases")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest_hash(manifest: Mapping[str, Any]) -> str:
    body = {key: value for key, value in manifest.items() if key != "manifest_sha256"}
    return _sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())


@dataclass(frozen=True)
class Release:
    """One immutable release in a store, its files checked against its manifest when opened."""

    version: Version
    """Its number."""
    path: Path
    """Its folder, `<store>/<version>/`."""
    manifest: Mapping[str, Any] = field(repr=False)
    """manifest.json as data."""
    created: bool = field(default=False, compare=False)
    """True when `release` made it just now; False when it was read from the store (and when
    `release` found nothing changed and returned the latest release)."""

    def __repr__(self) -> str:
        made = ", just made" if self.created else ""
        when = self.manifest.get("created_at", "")
        return f"<Release {self.version} ({self.bump}{made}) {when}: {self.message!r}>"

    @property
    def message(self) -> str:
        """What the researcher said about it (`-m`)."""
        return str(self.manifest["message"])

    @property
    def author(self) -> str:
        """git's user.name, else the login name."""
        return str(self.manifest["author"])

    @property
    def created_at(self) -> datetime:
        """When it was made (UTC)."""
        return parse_utc(str(self.manifest["created_at"]))

    @property
    def bump(self) -> str:
        """ "first", "major", "minor" or "patch"."""
        return str(self.manifest["bump"])

    @property
    def previous(self) -> str | None:
        """The version it was compared against (None for the first release)."""
        value = self.manifest.get("previous")
        return str(value) if value else None

    @property
    def source_hash(self) -> str:
        """sha256 of the notebook file it was built from."""
        return str(self.manifest["source"]["sha256"])

    @property
    def hash(self) -> str:
        """sha256 over the release's file hashes: what identifies its content."""
        return str(self.manifest["content_sha256"])

    @property
    def changes(self) -> list[str]:
        """The changelog's lines (markdown), as the release banner shows them."""
        return [str(line) for line in self.manifest.get("changes", [])]

    def text(self, name: str) -> str:
        """One of the release's files (task.json, guide.md, guide.html, guide.json, changelog.md)."""
        if name not in self.manifest["files"]:
            raise ReleaseError(f"{self.path}: release {self.version} has no file {name!r}.")
        return (self.path / name).read_text(encoding="utf-8")

    def snapshot(self) -> Snapshot:
        """The guide's structure as it was released (guide.json)."""
        return cast(Snapshot, json.loads(self.text("guide.json")))

    def _repr_html_(self) -> str:
        """A summary in a notebook: version, date, author, message and what changed."""
        import html

        from labelbook.releases.changes import plain_text

        changes = "".join(f"<li>{html.escape(plain_text(line))}</li>" for line in self.changes)
        return (
            f"<div><b>Release {self.version}</b> <small>{self.manifest['created_at']} · "
            f"{html.escape(self.author)} · {html.escape(self.bump)}</small>"
            f"<br>{html.escape(self.message)}<ul>{changes}</ul></div>"
        )

    def to_dict(self) -> dict[str, Any]:
        """Summary as JSON data."""
        return {
            "version": str(self.version),
            "date": self.manifest["created_at"],
            "message": self.message,
            "author": self.author,
            "bump": self.bump,
            "previous": self.previous,
            "hash": self.hash,
            "source_sha256": self.source_hash,
            "path": str(self.path),
        }


def _read_release(folder: Path, *, created: bool = False) -> Release:
    version = Version.parse(folder.name)
    manifest_path = folder / MANIFEST
    fix = (
        "Releases are never edited: restore the folder from version control (`git checkout -- "
        f"{folder}`), or make the change in the notebook and run `labelbook release` again."
    )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseError(f"{manifest_path}: missing; release {version} is damaged. {fix}") from None
    except (OSError, ValueError) as err:
        raise ReleaseError(
            f"{manifest_path}: unreadable ({err}); release {version} is damaged. {fix}"
        ) from err
    if not isinstance(manifest, dict) or manifest.get("manifest_sha256") != _manifest_hash(manifest):
        raise ReleaseError(f"{manifest_path}: edited by hand (its hash does not match its content). {fix}")
    if manifest.get("version") != str(version):
        raise ReleaseError(
            f"{manifest_path}: says version {manifest.get('version')}, but the folder is {version}. {fix}"
        )
    for name, expected in manifest["files"].items():
        try:
            actual = _sha256((folder / name).read_bytes())
        except FileNotFoundError:
            raise ReleaseError(f"{folder / name}: missing from release {version}. {fix}") from None
        if actual != expected:
            raise ReleaseError(f"{folder / name}: edited by hand (sha256 differs from manifest.json). {fix}")
    return Release(version, folder, manifest, created)


def _release_folders(store: Path) -> list[tuple[Version, Path]]:
    if not store.is_dir():
        return []
    found = []
    for entry in store.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            continue  # .tmp-* (unfinished or killed releases) and the lock file
        try:
            found.append((Version.parse(entry.name), entry))
        except ReleaseError:
            continue
    return sorted(found)


def list_releases(notebook: str | os.PathLike[str]) -> list[Release]:
    """Every release of a notebook, oldest first, each checked against its manifest."""
    return [_read_release(folder) for _, folder in _release_folders(store_path(notebook))]


def latest_release(notebook: str | os.PathLike[str]) -> Release | None:
    """The newest release (checked), or None before the first."""
    folders = _release_folders(store_path(notebook))
    return _read_release(folders[-1][1]) if folders else None


def open_release(notebook: str | os.PathLike[str], version: str | Version) -> Release:
    """One release by number (checked); ReleaseError lists the known versions otherwise."""
    wanted = version if isinstance(version, Version) else Version.parse(str(version))
    folders = dict(_release_folders(store_path(notebook)))
    if wanted not in folders:
        known = ", ".join(str(v) for v in sorted(folders)) or "none yet"
        raise ReleaseError(
            f"{store_path(notebook)}: no release {wanted} (releases: {known}). "
            "`labelbook versions NOTEBOOK` lists them."
        )
    return _read_release(folders[wanted])


@contextlib.contextmanager
def locked(store: Path) -> Iterator[None]:
    """Hold the store's lock (an flock on its folder); ReleaseError at once if another process holds it."""
    import fcntl

    store.mkdir(parents=True, exist_ok=True)
    # The folder is the lock: a lock file would sit, empty, in a folder people commit and share.
    fd = os.open(store, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReleaseError(
                f"{store}: another release of this notebook is being written right now; "
                "wait for it to finish, then run `labelbook release` again (it will compare against it)."
            ) from None
        stale = store / ".lock"  # left by labelbook versions that locked a file
        with contextlib.suppress(OSError):
            if stale.is_file() and stale.stat().st_size == 0:
                stale.unlink()
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def author() -> str:
    """Who makes a release: git's user.name, else the login name."""
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER", "unknown")


def as_utc(at: datetime | None = None) -> datetime:
    """`at` (default: now) in UTC; ReleaseError for a time without a zone."""
    try:
        return utc(at)
    except ValueError as err:
        raise ReleaseError(str(err)) from None


def clean_temp(store: Path) -> None:
    """Remove folders left by killed releases (only called while holding the lock)."""
    for entry in store.glob(f"{_TMP_PREFIX}*"):
        shutil.rmtree(entry, ignore_errors=True)


def write_release(
    store: Path, version: Version, documents: Mapping[str, str], info: Mapping[str, Any]
) -> Release:
    """Write a release's documents and manifest into a temp folder, then rename it to `version`
    (call it holding `locked(store)`)."""
    temp = store / f"{_TMP_PREFIX}{version}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temp.mkdir()
    try:
        hashes = {name: _sha256(write_synced(temp / name, documents[name])) for name in DOCUMENTS}
        manifest: dict[str, Any] = {
            "schema": MANIFEST_SCHEMA,
            "version": str(version),
            **info,
            "files": hashes,
            "content_sha256": _sha256("\n".join(f"{n} {h}" for n, h in sorted(hashes.items())).encode()),
        }
        manifest["manifest_sha256"] = _manifest_hash(manifest)
        write_synced(temp / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        fsync_dir(temp)
        final = store / str(version)
        try:
            os.rename(temp, final)
        except OSError as err:
            if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise ReleaseError(
                    f"{final}: release {version} was just written by another process; "
                    "run `labelbook release` again to release on top of it."
                ) from None
            raise
        fsync_dir(store)
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
    return _read_release(final, created=True)
