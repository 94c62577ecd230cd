"""What labelbook remembers about a published project, beside the notebook and apart from releases.

    guide.labelbook/            (<notebook stem>.labelbook)
      project.json              server URL, workspace, dataset id, the roster (no secrets)
      gold.jsonl                expert answers: never uploaded, so no contractor can read them
      credentials.csv           generated annotator passwords, mode 0600
      .gitignore                keeps credentials.csv out of version control

The release store (`guide.releases/`) never holds any of this: it is shared with contractors'
reviewers and committed; this folder holds what must not be.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labelbook.errors import LabelbookError

PROJECT = "project.json"
GOLD = "gold.jsonl"
CREDENTIALS = "credentials.csv"


def state_dir(store: Path) -> Path:
    """`<stem>.labelbook/` beside the notebook, for the release store `<stem>.releases/`."""
    stem = store.name[: -len(".releases")] if store.name.endswith(".releases") else store.name
    return store.parent / f"{stem}.labelbook"


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
        _write(folder / PROJECT, json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")
        ignore = folder / ".gitignore"
        if not ignore.exists():
            _write(ignore, f"{CREDENTIALS}\n")

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
    _write(folder / GOLD, "".join(line + "\n" for line in lines), 0o600)


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
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["username", "password"])
    for username, password in merged.items():
        writer.writerow([username, password])
    _write(folder / CREDENTIALS, buffer.getvalue(), 0o600)
    if not (folder / ".gitignore").exists():
        _write(folder / ".gitignore", f"{CREDENTIALS}\n")
    return folder / CREDENTIALS
