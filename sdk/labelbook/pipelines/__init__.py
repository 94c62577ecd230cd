"""Pipelines: multi-stage work between people and models, with lineage, teams and routing.

    pipe = lb.Pipeline("book-qa", roster="roster.csv")
    answer = pipe.stage("answer", guide="answer.ipynb", source=passages, team="writers", overlap=3)
    draft = pipe.step("draft", after=answer, run=summarise)
    review = pipe.stage("review", guide="review.ipynb", source=draft, team="reviewers", overlap=1)
    pipe.route(Separate("answer", "review"))
    pipe.run(); pipe.status(); pipe.lineage("p1~draft")

Modules: `pipeline` (stages, steps, run, lineage), `routing` (teams and rules), `log` (the
append-only log), `status`, `pay` (the ledger), `declare` (finding the pipeline a notebook or .py
file declares, for `labelbook pipeline run|status`).
"""

from __future__ import annotations

from labelbook.pipelines.pay import Bonus
from labelbook.pipelines.pipeline import (
    Answer,
    Failure,
    Item,
    Pipeline,
    PipelineError,
    RunResult,
    Stage,
    Step,
)
from labelbook.pipelines.routing import Cap, Decision, Demote, Qualify, Separate

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
