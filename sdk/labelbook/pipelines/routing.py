"""Teams and routing: who works in which stage, decided on evidence and logged with the reason.

Teams come from the pipeline's roster (a `team` or `teams` column, several teams separated by `;`
or `,`) and change by rules or by hand (`pipe.assign`). A stage is published to its own workspace
with its team as the roster, so Argilla's workspace membership is the access control:

    Qualify("qualification", team="writers", bar=0.8)   # gold accuracy >= bar -> joins the team
    Demote("answer", team="writers", bar=0.8)           # upper end of the interval < bar -> leaves it
    Separate("answer", "review")                        # who answered in `answer` never reviews
    Cap("answer", 200)                                   # at most 200 answers per worker in `answer`
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labelbook.pipelines.nodes import Decision

if TYPE_CHECKING:
    import pandas as pd


def _accuracy(frame: pd.DataFrame, gold: pd.DataFrame, question: str | None) -> pd.DataFrame:
    from labelbook import quality

    submitted = frame[frame["status"] == "submitted"]
    if not len(submitted) or not len(gold):
        import pandas as pd

        return pd.DataFrame(columns=["n", "correct", "accuracy", "low", "high"])
    return quality.gold_accuracy(submitted, gold, by="annotator", question=question)


def _describe(row: Any, stage: str) -> str:
    return (
        f"gold accuracy {row.accuracy:.0%} (95% interval {row.low:.0%}-{row.high:.0%}, "
        f"{int(row.n)} gold answers) in stage {stage!r}"
    )


@dataclass(frozen=True)
class _ByGold:
    """A rule on the workers' gold accuracy in `stage` (over `question`, or all), deciding who is in
    `team`; workers with fewer than `min_items` gold answers are left as they are."""

    stage: str
    team: str
    bar: float
    min_items: int = 5
    question: str | None = None


@dataclass(frozen=True)
class Qualify(_ByGold):
    """Admit to `team` every worker whose gold accuracy in `stage` is at least `bar` over at least
    `min_items` gold answers; those below are logged as not admitted (once)."""

    @property
    def name(self) -> str:
        return f"qualify({self.stage}->{self.team}, bar {self.bar:g})"

    def decide(self, frame: pd.DataFrame, gold: pd.DataFrame, teams: dict[str, set[str]]) -> list[Decision]:
        out = []
        for worker, row in _accuracy(frame, gold, self.question).iterrows():
            if row.n < self.min_items or str(worker) in teams.get(self.team, set()):
                continue
            if row.accuracy >= self.bar:
                why = f"{_describe(row, self.stage)} >= bar {self.bar:.0%}"
                out.append(Decision(str(worker), "join", self.team, why, self.name))
            else:
                why = f"not admitted: {_describe(row, self.stage)} < bar {self.bar:.0%}"
                out.append(Decision(str(worker), "stay-out", self.team, why, self.name))
        return out


@dataclass(frozen=True)
class Demote(_ByGold):
    """Take out of `team` a worker whose accuracy interval in `stage` lies wholly under `bar`
    (its upper end below it), over at least `min_items` gold answers."""

    @property
    def name(self) -> str:
        return f"demote({self.stage}, {self.team}, bar {self.bar:g})"

    def decide(self, frame: pd.DataFrame, gold: pd.DataFrame, teams: dict[str, set[str]]) -> list[Decision]:
        out = []
        for worker, row in _accuracy(frame, gold, self.question).iterrows():
            if row.n >= self.min_items and row.high < self.bar and str(worker) in teams.get(self.team, set()):
                why = f"{_describe(row, self.stage)}: upper end under the bar {self.bar:.0%}"
                out.append(Decision(str(worker), "leave", self.team, why, self.name))
        return out


@dataclass(frozen=True)
class Separate:
    """Nobody who answered in stage `first` works in stage `then` (reviewers never review their own
    work; Argilla cannot exclude a person per record, so they are kept out of the whole stage)."""

    first: str
    then: str

    @property
    def name(self) -> str:
        return f"separate({self.first}, {self.then})"

    def exclude(self, frames: dict[str, pd.DataFrame]) -> list[Decision]:
        frame = frames[self.first]
        workers = sorted(set(frame.loc[frame["status"] == "submitted", "annotator"].astype(str)))
        why = f"answered in stage {self.first!r}, so does not work in {self.then!r}"
        return [Decision(w, "exclude", self.then, why, self.name) for w in workers]


@dataclass(frozen=True)
class Cap:
    """At most `per_worker` answered records per worker in `stage`; who reaches it leaves that stage."""

    stage: str
    per_worker: int

    @property
    def name(self) -> str:
        return f"cap({self.stage}, {self.per_worker})"

    def exclude(self, frames: dict[str, pd.DataFrame]) -> list[Decision]:
        frame = frames[self.stage]
        done = frame.loc[frame["status"] == "submitted"].groupby("annotator")["record_id"].nunique()
        return [
            Decision(
                str(w),
                "exclude",
                self.stage,
                f"{int(n)} records answered: the cap is {self.per_worker}",
                self.name,
            )
            for w, n in done.items()
            if n >= self.per_worker
        ]


Rule = Qualify | Demote | Separate | Cap
"""A routing rule."""


def split_teams(value: Any) -> list[str]:
    """`writers; reviewers` → ['writers', 'reviewers']."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, list | tuple | set):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).replace(",", ";").split(";") if part.strip()]
