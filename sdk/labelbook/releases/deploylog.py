"""The deployment log, `<store>/deployments.jsonl`: append-only, when a release went live in which dataset."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime

from labelbook.encoding import format_utc, parse_utc
from labelbook.errors import ReleaseError
from labelbook.releases.store import as_utc, store_path
from labelbook.releases.version import Version

__all__ = ["DEPLOYMENTS", "Deployment", "deployments", "live_release", "record_deployment"]

DEPLOYMENTS = "deployments.jsonl"


@dataclass(frozen=True)
class Deployment:
    """One line of deployments.jsonl: a release went live in a dataset."""

    version: str
    """The release."""
    server_url: str
    """The Argilla server."""
    dataset_id: str
    """The dataset's id on that server."""
    at: datetime
    """When it went live (UTC)."""

    def to_dict(self) -> dict[str, str]:
        """The JSON line."""
        return {
            "at": format_utc(self.at),
            "version": self.version,
            "server_url": self.server_url,
            "dataset_id": self.dataset_id,
        }


def record_deployment(
    store_or_notebook: str | os.PathLike[str],
    version: str | Version,
    server_url: str,
    dataset_id: str,
    at: datetime | None = None,
) -> Deployment:
    """Append "release `version` went live in `dataset_id` on `server_url` at `at`" to the log (fsync'ed)."""
    store = store_path(store_or_notebook)
    wanted = version if isinstance(version, Version) else Version.parse(str(version))
    if not (store / str(wanted)).is_dir():
        raise ReleaseError(f"{store}: no release {wanted} to deploy; release it first (`labelbook release`).")
    entry = Deployment(str(wanted), server_url, str(dataset_id), as_utc(at))
    line = json.dumps(entry.to_dict(), ensure_ascii=False) + "\n"
    # One write() of a line under O_APPEND: concurrent appenders never interleave within a line.
    fd = os.open(store / DEPLOYMENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def deployments(store_or_notebook: str | os.PathLike[str]) -> list[Deployment]:
    """Every deployment, oldest first (a torn last line from a crash is skipped)."""
    log = store_path(store_or_notebook) / DEPLOYMENTS
    if not log.is_file():
        return []
    found: list[Deployment] = []
    for number, line in enumerate(log.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            found.append(
                Deployment(
                    str(data["version"]),
                    str(data["server_url"]),
                    str(data["dataset_id"]),
                    parse_utc(str(data["at"])),
                )
            )
        except (ValueError, KeyError, TypeError) as err:
            if line.endswith("}"):
                raise ReleaseError(
                    f"{log}, line {number}: not a deployment record ({err}); restore the file "
                    "from version control (it is append-only)."
                ) from err
    found.sort(key=lambda d: d.at)
    return found


def live_release(notebook: str | os.PathLike[str], dataset_id: str, at: datetime) -> str | None:
    """Which release was live in dataset `dataset_id` at time `at` (None: nothing deployed there yet)."""
    moment = as_utc(at)
    live: str | None = None
    for entry in deployments(notebook):
        if entry.dataset_id == str(dataset_id) and entry.at <= moment:
            live = entry.version
    return live
