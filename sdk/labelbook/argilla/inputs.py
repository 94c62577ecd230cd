"""Everything one publish is given, read and checked together before the first request.

Records, roster and gold answers are each read (a file that cannot be read is one problem naming the
file and the line), checked row by row, and checked against each other (gold answers for records
that are not published). Every problem of every input is reported at once, in one RecordsError,
so a publish never stops at the first bad file only to find the next one on the next run, and
never stops halfway through an upload.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelbook.argilla.answers import check_answers
from labelbook.argilla.records import (
    Prepared,
    RecordsSource,
    Suggest,
    check_records,
    read_rows,
)
from labelbook.argilla.roster import RosterWarning, check_roster
from labelbook.argilla.state import Annotator, ProjectState
from labelbook.errors import RecordsError
from labelbook.task import Task

_SHOWN = 20


@dataclass
class Inputs:
    """What a publish was given, validated."""

    prepared: Prepared | None = None
    """The records, ready to upload (None when none were given)."""
    roster: list[Annotator] | None = None
    """The annotators (None when no roster was given)."""
    gold: dict[str, dict[str, Any]] = field(default_factory=dict)
    """record id → {question: expert answer}."""
    warnings: list[str] = field(default_factory=list)
    """Accepted with a warning (a roster row without a vendor)."""


Rows = tuple[list[dict[str, Any]], str, int]


def _read(source: RecordsSource, what: str, problems: list[str]) -> Rows | None:
    try:
        return read_rows(source, what)
    except RecordsError as err:
        problems.extend(err.problems or [str(err)])
        return None


def _located(name: str, found: list[str]) -> list[str]:
    """Problems prefixed with their file (problems that already name it are kept as they are)."""
    return [p if p.startswith(name) else f"{name}: {p}" for p in found]


def check(
    task: Task,
    records: RecordsSource | None = None,
    annotators: RecordsSource | None = None,
    gold: RecordsSource | None = None,
    *,
    folder: Path | None = None,
    mapping: Mapping[str, str] | None = None,
    id_column: str = "id",
    suggest: Suggest | None = None,
    suggestion_agent: str | None = None,
) -> Inputs:
    """Read and validate every input; RecordsError lists every problem of every input, each with its
    file and row. Roster warnings are issued as RosterWarning (and kept in `.warnings`)."""
    problems: list[str] = []
    out = Inputs()
    if records is not None:
        read = _read(records, "records", problems)
        if read is not None:
            rows, name, offset = read
            prepared, found = check_records(
                task,
                rows,
                name,
                offset,
                mapping=mapping,
                id_column=id_column,
                suggest=suggest,
                suggestion_agent=suggestion_agent,
            )
            out.prepared = prepared
            problems.extend(_located(name, found))
    if annotators is not None:
        read = _read(annotators, "roster", problems)
        if read is not None:
            rows, name, offset = read
            state = ProjectState.read(folder) if folder is not None else None
            roster, found, notes = check_roster(rows, name, offset, state.roster if state else [])
            out.roster = roster
            out.warnings.extend(notes)
            problems.extend(_located(name, found))
    if gold is not None:
        read = _read(gold, "gold", problems)
        if read is not None:
            rows, name, offset = read
            answers, found = check_answers(task, rows, name, offset, id_column=id_column)
            problems.extend(_located(name, found))
            known = set(out.prepared.ids) if out.prepared is not None else set()
            if records is None:
                problems.append(
                    f"{name}: gold answers need their records: give the records file too (--records); "
                    "only the record is uploaded, the answers stay local"
                )
            elif out.prepared is not None and out.prepared.ids:
                strangers = [i for i in answers if i not in known]
                if strangers:
                    many = len(strangers) != 1
                    listed = ", ".join(strangers[:5]) + (", …" if len(strangers) > 5 else "")
                    problems.append(
                        f"{name}: {len(strangers)} gold id{'s are' if many else ' is'} not among the "
                        f"records: {listed}; put the gold records in the records file too (only the "
                        "record is uploaded)"
                    )
            out.gold = answers
    if problems:
        shown = "\n  ".join(problems[:_SHOWN])
        more = f"\n  …and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise RecordsError(f"{count} in the inputs; nothing was uploaded:\n  {shown}{more}", problems)
    for note in out.warnings:
        warnings.warn(note, RosterWarning, stacklevel=3)
    return out
