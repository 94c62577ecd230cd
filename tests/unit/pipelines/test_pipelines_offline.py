"""The parts of pipelines that need no server: the log, declaring, loading from files, pay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from labelbook.pipelines import Bonus, Pipeline, PipelineError
from labelbook.pipelines.declare import load_pipeline
from labelbook.pipelines.log import Log
from labelbook.pipelines.pay import active_hours, ledger

EXAMPLE = Path(__file__).parents[3] / "examples" / "book-qa"


def test_a_line_torn_by_a_kill_is_skipped_and_the_next_append_starts_on_its_own_line(tmp_path: Path) -> None:
    log = Log(tmp_path / "log.jsonl")
    log.append({"event": "made", "item": "a"})
    log.close()
    with open(log.path, "a", encoding="utf-8") as handle:
        handle.write('{"event": "made", "item": "torn')  # what a SIGKILL mid-write leaves
    assert [e["item"] for e in log.events("made")] == ["a"]
    log.append({"event": "made", "item": "b"}, {"event": "moved", "ids": ["b"]})
    log.close()
    assert [e["item"] for e in log.events("made")] == ["a", "b"]
    assert oct(log.path.stat().st_mode & 0o777) == "0o600"
    assert all(json.loads(line)["at"] for line in log.path.read_text().splitlines() if line.endswith("}"))
    # A reader parses each line once and then only what was appended since, by any writer.
    reader = Log(log.path)
    assert [e["item"] for e in reader.events("made")] == ["a", "b"]
    log.append({"event": "made", "item": "c"})
    assert [e["item"] for e in reader.events("made")] == ["a", "b", "c"]
    log.close()


def test_declaring_refuses_what_cannot_work(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE / "answer.py", tmp_path / "answer.py")
    pipe = Pipeline("p", folder=tmp_path / "p.pipeline")
    answer = pipe.stage("answer", guide=tmp_path / "answer.py", source=[])
    with pytest.raises(PipelineError, match="declared twice"):
        pipe.stage("answer", guide=tmp_path / "answer.py")
    with pytest.raises(PipelineError, match="already the guide of stage 'answer'"):
        pipe.stage("again", guide=tmp_path / "answer.py")
    with pytest.raises(PipelineError, match="does not exist"):
        pipe.stage("other", guide=tmp_path / "missing.py")
    with pytest.raises(PipelineError, match="after= must be a stage of this pipeline"):
        Pipeline("q").step("s", after=answer, run=dict)
    with pytest.raises(PipelineError, match="use letters, digits"):
        Pipeline("no spaces")
    with pytest.raises(PipelineError, match="not on the pipeline's roster"):
        pipe.assign("someone", "writers")
    with pytest.raises(PipelineError, match="has no release"):
        pipe._task(answer)


def test_teams_come_from_the_roster_then_the_log(tmp_path: Path) -> None:
    roster = pd.DataFrame(
        {"username": ["a", "b", "c"], "vendor": ["x"] * 3, "teams": ["writers; reviewers", "writers", None]}
    )
    pipe = Pipeline("p", roster=roster, folder=tmp_path)
    assert pipe.teams() == {"writers": {"a", "b"}, "reviewers": {"a"}}
    pipe.assign("c", "reviewers", reason="covers for a")
    pipe.unassign("a", "reviewers")
    assert pipe.teams() == {"writers": {"a", "b"}, "reviewers": {"c"}}
    assert [d["reason"] for d in pipe.decisions()] == ["covers for a", "taken out by hand"]


def test_the_cli_finds_the_one_pipeline_of_a_module_or_a_notebook(tmp_path: Path) -> None:
    for name in ("answer.py", "review.py", "roster.csv", "passages.jsonl", "pipeline.py"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    pipe = load_pipeline(tmp_path / "pipeline.py")
    assert pipe.name == "book-qa" and list(pipe.nodes) == ["answer", "draft", "review"]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("raise SystemExit('not this cell')"),
        nbformat.v4.new_code_cell(
            "import labelbook as lb\npipe = lb.Pipeline('nb')\npipe.stage('a', guide='answer.py')",
            metadata={"tags": ["labelbook:pipeline"]},
        ),
    ]
    nbformat.write(notebook, tmp_path / "pipe.ipynb")
    assert list(load_pipeline(tmp_path / "pipe.ipynb").nodes) == ["a"]
    notebook.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(notebook, tmp_path / "none.ipynb")
    with pytest.raises(PipelineError, match="no Pipeline declared"):
        load_pipeline(tmp_path / "none.ipynb")
    notebook.cells = [nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(notebook, tmp_path / "bad.ipynb")
    with pytest.raises(PipelineError, match=r"code cell 1: ZeroDivisionError"):
        load_pipeline(tmp_path / "bad.ipynb")


def test_the_pipeline_commands_exit_2_through_the_one_error_boundary(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from labelbook.cli import main

    (tmp_path / "empty.py").write_text("x = 1\n", encoding="utf-8")
    for command in ("run", "status"):
        for target in (tmp_path / "empty.py", tmp_path / "missing.py"):
            result = CliRunner().invoke(main, ["pipeline", command, str(target)])
            assert result.exit_code == 2, result.output
            assert "error: " in result.output and "Traceback" not in result.output
    shown = CliRunner().invoke(main, ["pipeline", "run", str(tmp_path / "empty.py")]).output
    assert "no Pipeline declared; bind exactly one" in shown


def test_active_time_counts_gaps_up_to_the_idle_limit_plus_reading_time_per_sitting() -> None:
    times = pd.Series(pd.to_datetime(["2026-01-05 09:00", "2026-01-05 09:04", "2026-01-05 09:30"], utc=True))
    # 4 minutes of work between the first two; a 26-minute gap is a break: 2 sittings x 5 minutes.
    assert active_hours(times, idle_minutes=10) == pytest.approx((4 + 10) / 60)


def test_the_ledger_pays_rates_and_the_best_bonus_that_applies() -> None:
    def frame(who: str, values: list[str]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "record_id": [f"r{i}" for i in range(len(values))],
                "annotator": who,
                "question": "q",
                "value": values,
                "status": "submitted",
                "submitted_at": pd.date_range("2026-01-05 09:00", periods=len(values), freq="2min", tz="UTC"),
            }
        )

    truth = ["a", "b"] * 5
    gold = pd.DataFrame({"record_id": [f"r{i}" for i in range(10)], "question": "q", "value": truth})
    answers = pd.concat([frame("good", truth), frame("poor", ["a"] * 10)], ignore_index=True)
    roster = [{"username": "good", "vendor": "x", "rate": 10}, {"username": "poor", "vendor": "y", "rate": 2}]
    rules = [Bonus(0.9, 10), Bonus(0.99, 20)]
    hourly = ledger({"s": answers}, {"s": gold}, roster, period="D", bonuses=rules).set_index("worker")
    assert hourly.loc["good", "gold_accuracy"] == 1.0 and hourly.loc["good", "bonus_rule"].startswith("+20%")
    assert hourly.loc["good", "active_hours"] == pytest.approx((9 * 2 + 5) / 60, abs=1e-3)
    assert hourly.loc["good", "total"] == pytest.approx(hourly.loc["good", "base"] * 1.2, abs=0.01)
    assert hourly.loc["poor", "gold_accuracy"] == 0.5 and hourly.loc["poor", "bonus"] == 0
    per_item = ledger({"s": answers}, {"s": gold}, roster, basis="item").set_index("worker")
    assert per_item.loc["poor", "base"] == 20 and per_item.loc["good", "total"] == 100
    with pytest.raises(PipelineError, match="basis="):
        ledger({"s": answers}, {}, roster, basis="week")
