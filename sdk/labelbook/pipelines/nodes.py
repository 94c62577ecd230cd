"""What a pipeline is made of and what a run reports: stages, steps, the items they pass on.

Data only (the `Pipeline` that declares and runs them is in `labelbook.pipelines.pipeline`).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelbook.errors import LabelbookError


class PipelineError(LabelbookError):
    """A pipeline declared or run wrongly: names the stage or step and what to change."""


@dataclass(frozen=True)
class Answer:
    """One worker's submitted answer to an item."""

    annotator: str
    """Their username (kept locally; never shown to later stages' workers)."""
    values: dict[str, Any]
    """question → value."""
    submitted_at: str
    """When it was saved, UTC."""


@dataclass(frozen=True)
class Item:
    """A finished item handed to a step or a `when=` condition."""

    id: str
    """The record's id in its stage."""
    stage: str
    """The stage (or step) it comes from."""
    fields: dict[str, Any]
    """Its field values."""
    answers: list[Answer] = field(default_factory=list)
    """The submitted answers it gathered (empty for a step's output)."""

    def values(self, question: str) -> list[Any]:
        """Every answer's value for `question`."""
        return [a.values[question] for a in self.answers if question in a.values]

    @property
    def agree(self) -> bool:
        """Whether every question got one value from everyone."""
        names = {q for a in self.answers for q in a.values}
        return all(len({repr(v) for v in self.values(q)}) <= 1 for q in names)

    def logged_answers(self) -> list[dict[str, Any]]:
        """The answers as the log keeps them (the lineage of what is made from this item)."""
        return [
            {"annotator": a.annotator, "values": a.values, "submitted_at": a.submitted_at}
            for a in self.answers
        ]


@dataclass(eq=False)
class Stage:
    """A labelbook task published as its own dataset in its own workspace."""

    pipeline: Any = field(repr=False)
    """The `Pipeline` that declared it."""
    name: str
    """Stage name; the dataset and workspace are `<pipeline>-<stage>`."""
    guide: Path
    """The guide notebook (its latest release is published)."""
    source: Any = None
    """Records, a callable sampler, or an earlier Stage or Step."""
    team: str | None = None
    """The team working in it (None: the workspace's members are left as they are)."""
    overlap: int | None = None
    """Answers per record (default: the task's)."""
    when: Callable[[Item], bool] | None = field(default=None, repr=False)
    """Only upstream items for which this is true."""
    gold: Any = field(default=None, repr=False)
    """Expert answers for gold records (kept locally by publish)."""

    @property
    def dataset(self) -> str:
        """The dataset's (and the workspace's) name."""
        return f"{self.pipeline.name}-{self.name}"

    @property
    def feed(self) -> str | None:
        """The log's name for what feeds this stage from upstream: the step's name, or
        `<stage>><this stage>` for a stage fed by a stage (None for records or a sampler)."""
        if isinstance(self.source, Step):
            return self.source.name
        if isinstance(self.source, Stage):
            return f"{self.source.name}>{self.name}"
        return None


@dataclass(eq=False)
class Step:
    """A function from a finished item to new records (a dict, a list of dicts, or None)."""

    pipeline: Any = field(repr=False)
    """The `Pipeline` that declared it."""
    name: str
    after: Stage
    """The stage whose finished items it takes."""
    run: Callable[[Item], Any] = field(repr=False)
    when: Callable[[Item], bool] | None = field(default=None, repr=False)
    version: str = ""
    """Recorded in every output's lineage: given, or a hash of the function's source."""


@dataclass(frozen=True)
class Failure:
    """A step that raised on an item after every retry."""

    step: str
    item: str
    error: str
    attempts: int


@dataclass(frozen=True)
class Decision:
    """One routing decision: a worker joins or leaves a team, or is kept out of a stage."""

    worker: str
    """The username."""
    action: str
    """`join`, `leave` (a team), `stay-out` (not admitted) or `exclude` (from one stage's workspace)."""
    target: str
    """The team (join, leave, stay-out) or the stage (exclude)."""
    reason: str
    """Why, with the evidence (accuracy, interval, counts)."""
    rule: str
    """The rule that decided, or `assign` for a decision by hand."""


@dataclass
class RunResult:
    """What one `run()` did."""

    published: dict[str, int] = field(default_factory=dict)
    """stage → records added to its dataset now."""
    made: dict[str, int] = field(default_factory=dict)
    """step → items it turned into records now."""
    failures: list[Failure] = field(default_factory=list)
    """Steps that raised on every attempt (those items are tried again next run)."""
    decisions: list[Decision] = field(default_factory=list)
    """Routing decisions taken now."""


def source_hash(run: Callable[..., Any]) -> str:
    """A step's default version: a hash of its function's source (or of its name)."""
    try:
        text = inspect.getsource(run)
    except (OSError, TypeError):
        text = getattr(run, "__qualname__", repr(run))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
