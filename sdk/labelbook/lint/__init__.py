"""Clarity checks on a Guide: what would confuse a contractor, found before anyone is paid to read it.

`lint(guide)` (`lb.lint`) runs every check in `CHECKS` and returns `Finding`s sorted by cell.
`labelbook.build.lint_path(path)` loads the notebook first and turns a missing or failing task
cell into a finding (LB104) instead of an exception, so `labelbook lint` can report it like any other.

Severity follows the consequence for a contractor: an *error* only where they cannot answer
correctly (a label with no definition, a label referenced that does not exist, a broken link or
citation, a worked example whose answer or record is not valid, no task); a *warning* where the
guide is probably unclear or incomplete (a question without a description, a rating scale without
meanings, an image without alt text, a boundary never discussed); a *hint* for wording. Only errors
block `labelbook release`; `labelbook build` writes its documents whatever the findings.
Codes are stable and grouped by subject: LB1xx the task and the document's structure, LB2xx
clarity, LB3xx wording. `CODES` maps each code to its severity and a one-line summary;
docs/authoring.md has the table.

Labels are found in prose on the parsed markdown, with their own spelling and a context that
makes them a label: a code span (`a`), bold or italics (**a**), quotes ("a"), or the word label
next to it ("label b", "the tie label"; not for a label spelled like an article, since "label a
record" and "pick a label" use the article). A bare word counts only for a label that is neither a
single letter nor a common English word (`COMMON_WORDS`), so the article "a" never names label `a`.

Modules: `findings` (Finding, CODES), `prose` (how prose and label mentions are read),
`checks` (one function per code, `CHECKS`).
"""

from __future__ import annotations

import html

from labelbook.guide import Guide
from labelbook.lint.checks import CHECKS, VAGUE_PHRASES
from labelbook.lint.findings import (
    CODES,
    LONG_SECTION_WORDS,
    SEVERITY_ORDER,
    Finding,
    Severity,
    count,
    finding,
)
from labelbook.lint.prose import COMMON_WORDS

__all__ = [
    "CHECKS",
    "CODES",
    "COMMON_WORDS",
    "LONG_SECTION_WORDS",
    "VAGUE_PHRASES",
    "Finding",
    "Findings",
    "Severity",
    "count",
    "finding",
    "lint",
]


class Findings(list[Finding]):
    """The findings of one lint, errors first: a list, shown briefly (and as a table in a notebook)."""

    def __repr__(self) -> str:
        if not self:
            return "<Findings: none>"
        counts = count(self)
        summary = ", ".join(
            f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in SEVERITY_ORDER if counts[s]
        )
        shown = "".join(f"\n  {f.code} {f.severity} ({f.location()}): {f.message}" for f in self[:10])
        more = f"\n  …and {len(self) - 10} more" if len(self) > 10 else ""
        return f"<Findings: {summary}{shown}{more}>"

    def _repr_html_(self) -> str:
        if not self:
            return "<p>No findings: nothing here would confuse a contractor.</p>"
        rows = "".join(
            f"<tr><td>{f.code}</td><td>{f.severity}</td><td>{html.escape(f.location())}</td>"
            f"<td>{html.escape(f.message)}</td><td>{html.escape(f.fix)}</td></tr>"
            for f in self
        )
        head = "<tr><th>code</th><th>severity</th><th>where</th><th>problem</th><th>fix</th></tr>"
        return f"<table>{head}{rows}</table>"


def lint(guide: Guide) -> Findings:
    """Run every check; findings sorted by severity, then cell."""
    found = [f for check in CHECKS for f in check(guide)]
    return Findings(sorted(found, key=lambda f: (SEVERITY_ORDER[f.severity], f.cell or 0, f.code)))
