"""The pipeline's log: one JSON object a line, appended with one `O_APPEND` write, never rewritten.

It is the pipeline's memory: what each step produced (so a model is not called twice for one item),
which items were moved into which stage, every routing decision with its reason, every failure.
A run killed mid-write leaves at most a torn last line, which readers skip and the next append
starts after a newline.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labelbook.encoding import jsonable

LOG = "log.jsonl"


def now() -> str:
    """The time, UTC, ISO 8601."""
    return datetime.now(timezone.utc).isoformat()


class Log:
    """An append-only JSON-lines file (mode 0600: it names workers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        """Where the lines are."""
        self._fd: int | None = None
        # What was read so far: the lines are parsed once, a later read parses only what was added.
        self._read: list[dict[str, Any]] = []
        self._offset = 0

    def append(self, *events: dict[str, Any]) -> None:
        """Write the events, each stamped with `at`, in one write (the file stays open until `close`)."""
        if not events:
            return
        stamp = now()
        text = "".join(json.dumps(jsonable({"at": stamp, **e}), ensure_ascii=False) + "\n" for e in events)
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            size = os.fstat(self._fd).st_size
            if size and os.pread(self._fd, 1, size - 1) != b"\n":
                text = "\n" + text  # a killed writer's torn line stays alone on its line
        os.write(self._fd, text.encode("utf-8"))

    def close(self) -> None:
        """Close the file (appending again reopens it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._catch_up()
        return iter(list(self._read))

    def _catch_up(self) -> None:
        """Parse the whole lines added since the last read (by anyone: the file is the truth)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < self._offset:  # a new file in its place: read it from the start
            self._read, self._offset = [], 0
        if size == self._offset:
            return
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read(size - self._offset)
        end = data.rfind(b"\n")
        if end < 0:
            return  # only a line still being written (or torn by a kill): not read yet
        for line in data[:end].split(b"\n"):
            try:
                self._read.append(json.loads(line))
            except ValueError:
                continue  # a line torn by a kill, followed by later ones
        self._offset += end + 1

    def events(self, *kinds: str) -> Iterable[dict[str, Any]]:
        """The events of these kinds, oldest first."""
        wanted = set(kinds)
        return (e for e in self if e.get("event") in wanted)
