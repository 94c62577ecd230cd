"""Pipelines: multi-stage work between people and models, with lineage, teams and routing.

    pipe = lb.Pipeline("book-qa", roster="roster.csv")
    answer = pipe.stage("answer", guide="answer.ipynb", source=passages, team="writers", overlap=3)
    draft = pipe.step("draft", after=answer, run=summarise)
    review = pipe.stage("review", guide="review.ipynb", source=draft, team="reviewers", overlap=1)
    pipe.route(Separate("answer", "review"))
    pipe.run(); pipe.status(); pipe.lineage("p1~draft")

Modules: `nodes` (stages, steps, items, what a run did), `pipeline` (declaring, teams, the
server, status, reading back), `run` (one pass: steps called, stages published, exactly once),
`items` (a stage's records and finished items), `lineage` (ancestry from the log), `routing`
(teams and rules), `log` (the append-only log), `status` (counts and the quality snapshot), `pay`
(the ledger), `declare` (finding the pipeline a notebook or .py file declares, for
`labelbook pipeline run|status`).
"""

from __future__ import annotations

from labelbook.pipelines.nodes import (
    Answer,
    Decision,
    Failure,
    Item,
    PipelineError,
    RunResult,
    Stage,
    Step,
)
from labelbook.pipelines.pay import Bonus
from labelbook.pipelines.pipeline import Pipeline
from labelbook.pipelines.routing import Cap, Demote, Qualify, Separate

__all__ = [
    "Answer",
    "Bonus",
    "Cap",
    "Decision",
    "Demote",
    "Failure",
    "Item",
    "Pipeline",
    "PipelineError",
    "Qualify",
    "RunResult",
    "Separate",
    "Stage",
    "Step",
]
