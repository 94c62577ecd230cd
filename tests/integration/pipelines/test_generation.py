"""Generation stages against the embedded server: workers write text in one stage, a (stand-in)
model drafts from it, and the next stage's worker edits the draft, shown as a suggestion; and
gold records a publish held back are sent with a later run's regular records."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
from book_qa_pipeline import PASSAGES, guides
from pipeline_workers import answer, keys

import labelbook as lb
from labelbook.pipelines import Item, Pipeline

EDIT_GUIDE = """# %% [markdown]
# # Editing a drafted answer
#
# Each record shows a **passage**, the **question**, the writers' answers and a model's draft in
# the answer box. Correct the draft so that the passage supports every word of it.
#
# ## How to edit {#editing}
#
# - [E-keep] Keep what the passage supports; rewrite the rest in one sentence.

# %% tags=["labelbook:task"]
import labelbook as lb

task = lb.Task(
    name="book-qa-edit",
    fields=[
        lb.TextField("passage", title="Passage", description="A short passage."),
        lb.TextField("question", title="Question", description="What the passage should answer."),
        lb.TextField("answers", title="Writers' answers", description="One a line."),
    ],
    questions=[
        lb.TextQuestion(
            "answer", title="Answer", description="The draft, corrected: one sentence the passage supports."
        ),
    ],
    overlap=1,
)
"""


def draft(item: Item) -> dict[str, Any]:
    """A deterministic stand-in for a model: its draft goes to the editor as a suggestion."""
    answers = sorted(str(v) for v in item.values("answer") if v)
    return {
        "passage": item.fields["passage"],
        "question": item.fields["question"],
        "answers": "\n".join(answers),
        "answer.suggestion": f"STAND-IN DRAFT: {answers[0]}",
        "answer.suggestion.agent": "stand-in-model",
    }


def test_workers_write_then_an_editor_edits_the_model_draft_shown_as_a_suggestion(
    tmp_path: Path, lb_server: Any
) -> None:
    prefix = f"t{secrets.token_hex(3)}"
    guides(tmp_path)
    (tmp_path / "edit.py").write_text(EDIT_GUIDE, encoding="utf-8")
    lb.release(tmp_path / "edit.py", "first")
    roster = [
        *({"username": f"{prefix}-w{n}", "vendor": "acme", "teams": "writers"} for n in (1, 2, 3)),
        {"username": f"{prefix}-e1", "vendor": "bright", "teams": "editors"},
    ]
    pipe = Pipeline(
        prefix, roster=roster, folder=tmp_path / "pipe", api_url=lb_server.url, api_key=lb_server.api_key
    )
    written = pipe.stage("answer", guide=tmp_path / "answer.py", source=PASSAGES, team="writers")
    made = pipe.step("draft", after=written, run=draft, version="stand-in-1")
    pipe.stage("edit", guide=tmp_path / "edit.py", source=made, team="editors")
    pipe.run()
    found = keys(lb_server.url, lb_server.api_key)
    dataset = pipe.project("answer").state.dataset_id
    for n in (1, 2, 3):  # the writers write free text (a generation stage)
        given = answer(
            lb_server.url,
            found[f"{prefix}-w{n}"],
            dataset,
            lambda r, n=n: {"answerable": "yes", "answer": f"at dawn ({n})"},
        )
        assert given == len(PASSAGES)
    assert pipe.run().published["edit"] == len(PASSAGES)

    # The editor, with their own key, sees the draft as the answer's suggestion and edits it.
    edit_id = pipe.project("edit").state.dataset_id
    with httpx.Client(
        base_url=f"{lb_server.url}/api/v1", headers={"X-Argilla-Api-Key": found[f"{prefix}-e1"]}, timeout=60
    ) as client:
        hits = client.post(
            f"/me/datasets/{edit_id}/records/search",
            params={"include": ["responses", "suggestions"], "limit": 100},
            json={},
        )
        hits.raise_for_status()
        records = [hit["record"] for hit in hits.json()["items"]]
        assert len(records) == len(PASSAGES)
        shown = {r["external_id"]: r["suggestions"] for r in records}
        for suggestions in shown.values():
            assert [(s["value"], s["agent"]) for s in suggestions] == [
                ("STAND-IN DRAFT: at dawn (1)", "stand-in-model")
            ]
        items = [
            {
                "record_id": r["id"],
                "status": "submitted",
                "values": {
                    "answer": {
                        "value": r["suggestions"][0]["value"].replace("STAND-IN DRAFT: ", "He rowed out ")
                    }
                },
            }
            for r in records
        ]
        reply = client.post("/me/responses/bulk", json={"items": items})
        reply.raise_for_status()
        assert not [i["error"] for i in reply.json()["items"] if i.get("error")]

    frame = pipe.annotations("edit")
    assert sorted(frame["record_id"]) == sorted(f"{p['id']}~draft" for p in PASSAGES)
    assert set(frame["value"]) == {"He rowed out at dawn (1)"} and set(frame["annotator"]) == {f"{prefix}-e1"}
    lineage = json.loads(frame.loc[frame["record_id"] == "p1~draft", "lineage"].iloc[0])
    assert lineage["step"] == "draft" and lineage["version"] == "stand-in-1"
    writers = sorted((a["annotator"], a["values"]["answer"]) for a in lineage["made_from"]["answers"])
    assert writers == [(f"{prefix}-w{n}", f"at dawn ({n})") for n in (1, 2, 3)]
    assert pipe.run().published == {"answer": 0, "edit": 0}
    pipe.close()


def test_gold_held_back_by_publish_goes_out_with_a_later_runs_regular_records(
    tmp_path: Path, lb_server: Any
) -> None:
    prefix = f"t{secrets.token_hex(3)}"
    guides(tmp_path)
    gold_rows = [{"id": f"{prefix}-g{n}", "passage": f"Gold {n}.", "question": "Q?"} for n in (1, 2)]
    regular = [{"id": f"{prefix}-r{n}", "passage": f"Regular {n}.", "question": "Q?"} for n in (1, 2)]
    calls: list[int] = []

    def sampler() -> list[dict[str, Any]]:
        calls.append(1)
        return gold_rows if len(calls) == 1 else gold_rows + regular

    gold = [{"id": row["id"], "answerable": "yes"} for row in gold_rows]
    pipe = Pipeline(
        prefix,
        roster=[{"username": f"{prefix}-a", "vendor": "acme", "teams": "t"}],
        folder=tmp_path / "pipe",
        api_url=lb_server.url,
        api_key=lb_server.api_key,
    )
    pipe.stage("check", guide=tmp_path / "qualify.py", source=sampler, team="t", overlap=1, gold=gold)
    assert pipe.run().published == {"check": 0}  # gold alone would stand out: held back, not moved
    assert not [e for e in pipe.log.events("moved")]
    assert pipe.run().published == {"check": 4}
    assert sorted(rid for _, rid in pipe.items("check")) == sorted(r["id"] for r in gold_rows + regular)
    assert pipe.run().published == {"check": 0}
    assert sorted(pipe.project("check").gold()["record_id"]) == [r["id"] for r in gold_rows]
    pipe.close()
