"""The pipeline the tests declare (also run in a subprocess that the kill test SIGKILLs)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import labelbook as lb
from labelbook.pipelines import Item, Pipeline, Separate

EXAMPLE = Path(__file__).parents[3] / "examples" / "book-qa"
PASSAGES = [
    {
        "id": f"p{n}",
        "passage": f"Passage {n}: the lighthouse keeper rowed out at dawn.",
        "question": "When did he row out?",
    }
    for n in range(1, 7)
]


def guides(folder: Path) -> None:
    """The example's guides, released, in `folder` (once)."""
    for name in ("answer", "review", "qualify"):
        target = folder / f"{name}.py"
        if not target.exists():
            shutil.copy(EXAMPLE / f"{name}.py", target)
            lb.release(target, "first")


def draft(item: Item) -> dict[str, Any]:
    """A deterministic stand-in for a model; sleeps forever at the call named by PIPE_HANG_AT."""
    calls = Path(os.environ["PIPE_CALLS"]) if "PIPE_CALLS" in os.environ else None
    if calls is not None:
        with open(calls, "a", encoding="utf-8") as handle:
            handle.write(item.id + "\n")
        if len(calls.read_text().splitlines()) == int(os.environ.get("PIPE_HANG_AT", "0")):
            time.sleep(3600)
    answers = sorted(str(v) for v in item.values("answer") if v)
    return {
        "passage": item.fields["passage"],
        "question": item.fields["question"],
        "answers": "\n".join(answers) or "(none)",
        "draft": f"STAND-IN DRAFT: {answers[0] if answers else 'no answer'}",
    }


def build(folder: Path, prefix: str, url: str, key: str) -> Pipeline:
    """answer (writers, overlap 3) -> draft (stand-in model) -> review (reviewers, overlap 1)."""
    guides(folder)
    roster = [
        {"username": f"{prefix}-w1", "vendor": "acme", "rate": 20, "teams": "writers"},
        {"username": f"{prefix}-w2", "vendor": "acme", "rate": 20, "teams": "writers"},
        {"username": f"{prefix}-w3", "vendor": "bright", "rate": 25, "teams": "writers; reviewers"},
        {"username": f"{prefix}-r1", "vendor": "bright", "rate": 30, "teams": "reviewers"},
    ]
    pipe = Pipeline(prefix, roster=roster, folder=folder / "pipe", api_url=url, api_key=key, backoff=0.01)
    answer = pipe.stage("answer", guide=folder / "answer.py", source=PASSAGES, team="writers")
    made = pipe.step("draft", after=answer, run=draft, version="stand-in-1")
    pipe.stage("review", guide=folder / "review.py", source=made, team="reviewers")
    pipe.route(Separate("answer", "review"))
    return pipe


if os.environ.get("PIPE_DIR"):  # run by `labelbook pipeline run THIS_FILE --watch` in the kill test
    pipe = build(
        Path(os.environ["PIPE_DIR"]),
        os.environ["PIPE_PREFIX"],
        os.environ["PIPE_URL"],
        os.environ["PIPE_KEY"],
    )
