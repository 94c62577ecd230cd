"""What labelbook remembers about a published project, beside the notebook and apart from releases.

    guide.labelbook/            (<notebook stem>.labelbook, mode 0700)
      project.json              server URL, workspace, dataset id, the roster with vendors and rates
      project-id                this project's id, made once: the mark it leaves on its dataset
      gold.jsonl                expert answers: never uploaded, so no contractor can read them
      credentials.csv           generated annotator passwords, mode 0600
      publish.lock              flock'ed while a publish runs (one publish of a project at a time)
      .gitignore                `*`: nothing in this folder is ever committed

The release store (`guide.releases/`) never holds any of this: it is shared with contractors'
reviewers and committed; this folder holds what must not be.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labelbook.errors import LabelbookError
from labelbook.files import write_text

PROJECT = "project.json"
GOLD = "gold.jsonl"
CREDENTIALS = "credentials.csv"
LOCK = "publish.lock"
IGNORE = "# labelbook: gold answers, vendors and rates, passwords -- nothing here is ever committed\n*\n"


def state_dir(store: Path) -> Path:
    """`<stem>.labelbook/` beside the notebook, for the release store `<stem>.releases/`."""
    stem = store.name[: -len(".releases")] if store.name.endswith(".releases") else store.name
    return store.parent / f"{stem}.labelbook"


def private_dir(folder: Path) -> Path:
    """Make the folder (0700) and its `.gitignore` of everything; upgrade an older `.gitignore`."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    try:
        current = ignore.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = ""
    if "*" not in current.split("\n"):  # missing, or the one before 0.1 that listed credentials.csv only
        write_text(ignore, IGNORE)
    return folder


@dataclass
class Annotator:
    """One person on the roster."""

    username: str
    """Their Argilla login."""
    vendor: str = ""
    """The vendor or group they work for."""
    rate: float | None = None
    """Hourly or per-item rate, for cost reports (never sent to Argilla)."""


@dataclass
class ProjectState:
    """project.json: where the notebook's releases are deployed."""

    server_url: str
    """The Argilla server."""
    workspace: str
    """Workspace name."""
    workspace_id: str
    """Workspace id."""
    dataset: str
    """Dataset name."""
    dataset_id: str
    """Dataset id: what the deployment log and pulls refer to."""
    version: str
    """The release live in the dataset."""
    roster: list[Annotator] = field(default_factory=list)
    """The annotators last published (username, vendor, rate)."""
    data_dir: str | None = None
    """The local server's data dir when published to `labelbook server start`'s server (for its key)."""

    @classmethod
    def read(cls, folder: Path) -> ProjectState | None:
        """The saved state, or None before the first publish."""
        path = folder / PROJECT
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            roster = [Annotator(**a) for a in data.pop("roster", [])]
            return cls(**data, roster=roster)
        except (ValueError, TypeError) as err:
            raise LabelbookError(f"{path}: unreadable ({err}); delete it and publish again.") from err

    def write(self, folder: Path) -> None:
        """Save atomically."""
        private_dir(folder)
        write_text(folder / PROJECT, json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", 0o600)

    @property
    def vendors(self) -> dict[str, str]:
        """username → vendor."""
        return {a.username: a.vendor for a in self.roster}


def read_gold(folder: Path) -> dict[str, dict[str, Any]]:
    """record id → {question: expert answer}."""
    path = folder / GOLD
    if not path.is_file():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if line.strip():
            try:
                entry = json.loads(line)
                out[str(entry["id"])] = dict(entry["answers"])
            except (ValueError, KeyError, TypeError) as err:
                raise LabelbookError(
                    f"{path}, line {number}: damaged gold answers ({type(err).__name__}: {err}); restore "
                    "it from your copy, or delete it and publish your gold file again with --gold."
                ) from err
    return out


def write_gold(folder: Path, gold: dict[str, dict[str, Any]]) -> None:
    """Save the expert answers (merged by the caller), readable only by their owner."""
    lines = [json.dumps({"id": key, "answers": value}, ensure_ascii=False) for key, value in gold.items()]
    private_dir(folder)
    write_text(folder / GOLD, "".join(line + "\n" for line in lines), 0o600)


def read_credentials(folder: Path) -> dict[str, str]:
    """username → generated password."""
    path = folder / CREDENTIALS
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["username"]: row["password"] for row in csv.DictReader(handle)}


def add_credentials(folder: Path, new: dict[str, str]) -> Path:
    """Keep generated passwords in credentials.csv, mode 0600 (created that way, never wider)."""
    merged = {**read_credentials(folder), **new}
    private_dir(folder)
    return _write_credentials(folder, merged)


def remove_credentials(folder: Path, usernames: list[str]) -> None:
    """Forget passwords saved for accounts that were not made after all."""
    kept = {u: p for u, p in read_credentials(folder).items() if u not in usernames}
    _write_credentials(folder, kept)


def _write_credentials(folder: Path, passwords: dict[str, str]) -> Path:
    """credentials.csv (username, password), replaced whole, mode 0600."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["username", "password"])
    for username, password in passwords.items():
        writer.writerow([username, password])
    return write_text(folder / CREDENTIALS, buffer.getvalue(), 0o600)


class PublishLocked(LabelbookError):
    """Another publish of the same project is running."""


@contextlib.contextmanager
def publish_lock(folder: Path) -> Iterator[None]:
    """Hold `publish.lock` for one publish; a second publish of the project is refused at once.

    An flock: the kernel releases it when the process dies, so a killed publish never leaves a
    stale lock behind. Gold answers, passwords and project.json are only written while it is held.
    """
    import fcntl

    private_dir(folder)
    path = folder / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            raise PublishLocked(
                f"{folder}: another publish of this project is running ({holder or 'started just now'}); "
                "wait for it to finish, then publish again: records it uploaded are skipped, gold answers "
                "and passwords it saved are kept."
            ) from None
        try:
            os.ftruncate(fd, 0)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n".encode(), 0)
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
