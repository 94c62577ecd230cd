"""Findings: what the lint reports, with its stable codes and their severities."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from labelbook.guide import Guide

__all__ = [
    "CODES",
    "LONG_SECTION_WORDS",
    "SEVERITY_ORDER",
    "Check",
    "Finding",
    "Severity",
    "count",
    "finding",
]

Severity: TypeAlias = Literal["error", "warning", "hint"]

LONG_SECTION_WORDS = 800
"""A section longer than this (in words of prose) gets LB203: split it, or it will be skimmed."""

CODES: dict[str, tuple[Severity, str]] = {
    "LB101": ("error", "label without a definition"),
    "LB102": ("warning", "question without a description"),
    "LB103": ("error", "worked example with an invalid answer"),
    "LB104": ("error", "missing or failing task cell"),
    "LB105": ("error", "duplicate id (section, rule or example)"),
    "LB106": ("error", "broken internal link or rule citation"),
    "LB107": ("warning", "image without alt text"),
    "LB108": ("error", "worked example with an invalid record"),
    "LB109": ("error", "reference to a label that does not exist"),
    "LB201": ("warning", "label without a worked example"),
    "LB202": ("warning", "two labels never discussed in the same section"),
    "LB203": ("warning", f"section longer than {LONG_SECTION_WORDS} words"),
    "LB204": ("warning", "TODO, TBD or FIXME marker"),
    "LB205": ("warning", "rating scale whose ends have no meaning"),
    "LB301": ("hint", "vague wording"),
}
"""Every code: its severity and what it means."""

SEVERITY_ORDER = {"error": 0, "warning": 1, "hint": 2}


@dataclass(frozen=True)
class Finding:
    """One problem the lint found, with where it is and how to fix it."""

    code: str
    """Stable code, e.g. "LB101" (see `CODES`)."""
    severity: Severity
    """"error" (a contractor cannot answer correctly: blocks a release), "warning" (should fix) or "hint"."""
    message: str
    """What is wrong, naming the label, question, id or phrase."""
    fix: str
    """What to change."""
    cell: int | None = None
    """1-based notebook cell number, when the problem sits in one cell."""
    section: str | None = None
    """Id of the section involved, if any."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (for `labelbook lint --json`)."""
        return asdict(self)

    def location(self) -> str:
        """ "cell 4, section partial", as a person would say it."""
        parts = [f"cell {self.cell}" if self.cell else "", f"section {self.section}" if self.section else ""]
        return ", ".join(p for p in parts if p) or "notebook"

    def __str__(self) -> str:
        return f"{self.location()}: {self.code} {self.severity}: {self.message} Fix: {self.fix}"


def finding(
    code: str, message: str, fix: str, cell: int | None = None, section: str | None = None
) -> Finding:
    """A Finding of this code, with the code's severity."""
    return Finding(code, CODES[code][0], message, fix, cell, section)


Check: TypeAlias = Callable[["Guide"], Iterator[Finding]]


def count(findings: list[Finding]) -> Counter[str]:
    """How many findings of each severity."""
    return Counter(f.severity for f in findings)
