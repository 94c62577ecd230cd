"""Files written so that a reader never sees half of one: a temp file beside the target, fsync'ed,
then renamed over it (`os.replace` is atomic within a folder).

Every file labelbook writes goes through here: built documents, annotation exports, release files
(written into a temp folder that is renamed as a whole, see `labelbook.releases.store`), state.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["fsync_dir", "staged", "write_synced", "write_text", "write_texts"]


@contextlib.contextmanager
def staged(target: str | os.PathLike[str], mode: int = 0o644) -> Iterator[Path]:
    """A temp path beside `target` to write to; renamed onto `target` when the block ends without
    an error, removed otherwise. For writers that want a path (pandas' `to_parquet`, ...)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike[str], text: str, mode: int = 0o644) -> Path:
    """Write `text` (UTF-8, newlines as given) to `path` atomically, with permissions `mode`."""
    return write_texts(Path(path).parent, {Path(path).name: text}, mode)[0]


def write_texts(
    directory: str | os.PathLike[str], documents: Mapping[str, str], mode: int = 0o644
) -> list[Path]:
    """Write every document (file name → text) into `directory`: all are staged and fsync'ed first,
    then each is renamed into place, so a failure leaves the previous files whole."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    staged_files: list[tuple[str, Path]] = []
    try:
        for name, text in documents.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            staged_files.append((tmp, folder / name))
            os.fchmod(fd, mode)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        for tmp, target in staged_files:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged_files:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [target for _, target in staged_files]


def write_synced(path: Path, text: str) -> bytes:
    """Write a new file and fsync it (inside a temp folder that is renamed as a whole); its bytes."""
    data = text.encode("utf-8")
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return data


def fsync_dir(path: Path) -> None:
    """fsync a folder, so a rename inside it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
