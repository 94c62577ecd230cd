"""examples/book-qa end to end on the embedded server: passages -> 3 writers each -> the stand-in
model step -> reviews; every review traces back to its passage and answers; status, pay, CLI."""

from __future__ import annotations

import csv
import json
import os
import runpy
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from labelbook.cli import main

EXAMPLE = Path(__file__).parents[3] / "examples" / "book-qa"


def test_book_qa_runs_end_to_end(tmp_path: Path, lb_server: Any) -> None:
    done = runpy.run_path(str(EXAMPLE / "run.py"), run_name="book_qa_run")["run"](
        tmp_path, lb_server.url, lb_server.api_key
    )
    passages = [json.loads(line) for line in (EXAMPLE / "passages.jsonl").read_text().splitlines()]
    reviews = done["reviews"]
    assert sorted(reviews["record_id"]) == sorted(f"{p['id']}~draft" for p in passages)
    for _, row in reviews.iterrows():
        made_from = json.loads(row["lineage"])["made_from"]
        assert row["record_id"] == f"{made_from['id']}~draft" and made_from["stage"] == "answer"
        assert sorted(a["annotator"] for a in made_from["answers"]) == [
            f"sim-bq-writer-{n}" for n in (1, 2, 3)
        ]
    assert (reviews.set_index("record_id").loc["tale-1~draft", "value"]) == "bad"

    status = done["status"].set_index("stage")
    assert status.loc["answer", ["records", "done", "waiting", "in_progress", "queued"]].tolist() == [
        6,
        6,
        0,
        0,
        0,
    ]
    assert status.loc["review", ["records", "done", "queued"]].tolist() == [6, 6, 0]
    assert status.loc["answer", "agreement"] == 1.0  # the writers agree on answerable for every passage
    assert status.loc["answer", "done_per_hour"] == 6 / 24
    assert status.loc["answer", "gold_accuracy"] == 1.0  # the writers match both expert answers

    ledger = done["ledger"].set_index("worker")
    assert ledger.loc["sim-bq-writer-1", "records"] == 6 and ledger.loc["sim-bq-reviewer-1", "records"] == 6
    assert ledger.loc["sim-bq-writer-1", "rate"] == 18 and ledger.loc["sim-bq-writer-1", "total"] > 0
    assert ledger.loc["sim-bq-writer-1", "bonus_rule"].startswith("+10%")
    assert ledger.loc["sim-bq-writer-1", "total"] == round(ledger.loc["sim-bq-writer-1", "base"] * 1.1, 2)
    assert ledger.loc["sim-bq-reviewer-1", "bonus"] == 0  # no gold in the review stage
    with open(tmp_path / "pay.csv", encoding="utf-8") as handle:
        assert {row["worker"] for row in csv.DictReader(handle)} == set(ledger.index)

    # The CLI finds the pipeline in the module and reports the same.
    os.environ["BOOK_QA_DIR"] = str(tmp_path)
    os.environ["ARGILLA_API_URL"], os.environ["ARGILLA_API_KEY"] = lb_server.url, lb_server.api_key
    try:
        ran = CliRunner().invoke(main, ["pipeline", "run", str(tmp_path / "pipeline.py")])
        assert ran.exit_code == 0, ran.output
        assert "published: answer +0, review +0" in ran.output
        shown = CliRunner().invoke(main, ["pipeline", "status", str(tmp_path / "pipeline.py"), "--json"])
        assert shown.exit_code == 0, shown.output
        assert [row["done"] for row in json.loads(shown.output)] == [6, 6]
    finally:
        for name in ("BOOK_QA_DIR", "ARGILLA_API_URL", "ARGILLA_API_KEY"):
            os.environ.pop(name, None)
