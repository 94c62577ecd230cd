"""Version numbers: major.minor.patch, raised by what a change can do to answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering
from typing import Literal, TypeAlias

from labelbook.errors import ReleaseError

__all__ = ["BUMPS", "FIRST_VERSION", "Bump", "Version", "stronger"]

Bump: TypeAlias = Literal["patch", "minor", "major"]
BUMPS: tuple[Bump, ...] = ("patch", "minor", "major")
"""Bump kinds, weakest first."""


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version number, major.minor.patch."""

    major: int
    """Raised when old answers may be incompatible."""
    minor: int
    """Raised when the guidelines' meaning changes."""
    patch: int
    """Raised for typos and formatting."""

    _PATTERN = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")

    @classmethod
    def parse(cls, text: str) -> Version:
        """'1.2.0' (or 'v1.2.0') → Version; ReleaseError otherwise."""
        match = cls._PATTERN.match(text.strip())
        if not match:
            raise ReleaseError(
                f"{text!r} is not a version number; write it as MAJOR.MINOR.PATCH, e.g. 1.2.0."
            )
        return cls(*(int(part) for part in match.groups()))

    def bumped(self, kind: Bump) -> Version:
        """The next version for a change of this kind."""
        if kind == "major":
            return Version(self.major + 1, 0, 0)
        if kind == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (self.major, self.minor, self.patch) < (other.major, other.minor, other.patch)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


FIRST_VERSION = Version(1, 0, 0)


def stronger(a: Bump | None, b: Bump | None) -> Bump | None:
    """The larger of two bumps (None: no change)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if BUMPS.index(a) >= BUMPS.index(b) else b
