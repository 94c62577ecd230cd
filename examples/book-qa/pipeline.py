"""The book-qa pipeline: passages -> three writers answer each -> a stand-in model drafts one answer
from theirs -> a reviewer judges the draft. `labelbook pipeline run examples/book-qa/pipeline.py`.

The model step is a STAND-IN: a deterministic function that picks the most common answer, so the
example runs without a model; put a real model call in `draft` for real work.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import labelbook as lb
from labelbook.pipelines import Item, Separate

HERE = Path(__file__).resolve().parent


def stand_in_model_draft(item: Item) -> dict[str, Any]:
    """STAND-IN for a language model: the writers' most common answer (ties: the alphabetically first)."""
    answers = [str(a) for a in item.values("answer") if a]
    votes = Counter(item.values("answerable"))
    if not answers or votes["no"] > votes["yes"]:
        draft = "The passage does not say."
    else:
        draft = sorted(Counter(answers).items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return {
        "passage": item.fields["passage"],
        "question": item.fields["question"],
        "answers": "\n".join(sorted(answers)) or "(no answers)",
        "draft": draft,
    }


def build(folder: Path = HERE, **connection: Any) -> lb.Pipeline:
    """The pipeline, its guides and log in `folder` (the example's folder by default)."""
    pipe = lb.Pipeline(
        "book-qa", roster=folder / "roster.csv", folder=folder / "book-qa.pipeline", **connection
    )
    answer = pipe.stage(
        "answer",
        guide=folder / "answer.py",
        source=folder / "passages.jsonl",
        team="writers",
        overlap=3,
        gold=folder / "gold.jsonl",  # expert answers for two passages: kept locally, never uploaded
    )
    draft = pipe.step("draft", after=answer, run=stand_in_model_draft, version="stand-in-1")
    pipe.stage("review", guide=folder / "review.py", source=draft, team="reviewers", overlap=1)
    pipe.route(Separate("answer", "review"))  # nobody reviews a draft made from their own answer
    return pipe


pipe = build(Path(os.environ.get("BOOK_QA_DIR", HERE)))
