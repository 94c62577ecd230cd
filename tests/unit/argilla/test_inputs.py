"""Publish inputs read and checked together: each bad file, row and column named, all in one error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from labelbook.argilla.chat import CHAT_MAX_MESSAGES
from labelbook.argilla.inputs import check
from labelbook.argilla.records import read_rows
from labelbook.argilla.roster import RosterWarning, read_roster, roster_versions, vendors_at
from labelbook.argilla.state import Annotator, ProjectState
from labelbook.errors import RecordsError
from labelbook.task import ChatField, LabelQuestion, RatingQuestion, Task, TextField

TASK = Task(
    "pref",
    fields=[TextField("prompt"), ChatField("chat", required=False)],
    questions=[
        LabelQuestion("preferred", labels={"a": "A is better.", "b": "B is better.", "tie": "Equal."}),
        RatingQuestion("confidence", values=[1, 2, 3, 4, 5]),
    ],
)


def problems_of(**inputs: Any) -> tuple[str, ...]:
    with pytest.raises(RecordsError) as caught:
        check(TASK, **inputs)
    assert "nothing was uploaded" in str(caught.value)
    return caught.value.problems


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- rosters ----------------------------------------------------------------------------------


def test_usernames_are_trimmed_and_compared_without_case(tmp_path: Path) -> None:
    roster = write(tmp_path / "roster.csv", "username,vendor\nAlice ,acme\nbob,acme\nalice,bright\n")
    assert problems_of(annotators=roster) == (
        f"{roster}, row 3 (line 4): 'alice' and 'Alice' are one person (row 1; usernames are compared "
        "without case and spaces): keep one row",
    )
    fine = write(tmp_path / "fine.csv", "username,vendor\n Alice ,acme\n")
    assert check(TASK, annotators=fine).roster == [Annotator("Alice", "acme", None)]


def test_a_header_without_username_names_the_columns_found(tmp_path: Path) -> None:
    roster = write(tmp_path / "roster.csv", "user,vendor\nalice,acme\n")
    assert problems_of(annotators=roster) == (
        f"{roster}: no 'username' column (columns found: user, vendor); did you mean 'user'? rename that "
        "column to 'username'",
    )
    far = write(tmp_path / "far.csv", "login,vendor\nalice,acme\n")
    assert problems_of(annotators=far) == (
        f"{far}: no 'username' column (columns found: login, vendor); name the column with the annotators' "
        "logins `username`",
    )


def test_an_empty_roster_is_refused_so_the_workspace_is_never_emptied(tmp_path: Path) -> None:
    for text in ("username,vendor\n", ""):
        roster = write(tmp_path / "roster.csv", text)
        (problem,) = problems_of(annotators=roster)
        assert problem.startswith(f"{roster}: no annotators (the roster is empty)")


def test_a_missing_vendor_is_a_warning_and_keeps_the_previous_one(tmp_path: Path) -> None:
    folder = tmp_path / "guide.labelbook"
    ProjectState(
        "http://x", "w", "wid", "d", "did", "1.0.0", roster=[Annotator("alice", "acme", 12.0)]
    ).write(folder)
    roster = write(tmp_path / "roster.csv", "username,vendor\nAlice,\ncarol,\n")
    with pytest.warns(RosterWarning) as caught:
        given = check(TASK, annotators=roster, folder=folder)
    assert [str(w.message) for w in caught] == [
        f"{roster}, row 1 (line 2): no vendor for 'Alice'; keeping 'acme' from the previous roster",
        f"{roster}: no vendor for 'carol' (row 2); their answers will show vendor '' (answers made under "
        "an earlier roster keep the vendor they were made under)",
    ]
    assert given.roster == [Annotator("Alice", "acme", 12.0), Annotator("carol", "", None)]
    no_column = write(tmp_path / "bare.csv", "username\ndave\n")
    with pytest.warns(
        RosterWarning, match=r"no vendor for 'dave' \(row 1\) \(the roster has no 'vendor' column\)"
    ):
        read_roster(no_column)


def test_answers_keep_the_vendor_of_the_roster_live_when_they_were_made(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from labelbook.argilla.roster import record_roster

    folder = tmp_path / "guide.labelbook"
    record_roster(folder, [Annotator("alice", "acme")], datetime(2025, 1, 1, tzinfo=timezone.utc))
    record_roster(folder, [Annotator("Alice", "bright")], datetime(2025, 2, 1, tzinfo=timezone.utc))
    versions = roster_versions(folder, [])
    times = pd.Series(pd.to_datetime(["2024-12-01", "2025-01-15", "2025-03-01", "2025-03-01"], utc=True))
    who = pd.Series(["alice", "alice", "ALICE", "zed"])
    assert vendors_at(who, times, versions).tolist() == ["acme", "acme", "bright", ""]


def test_a_project_from_before_roster_versions_keeps_its_vendors(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from labelbook.argilla.roster import record_roster

    folder = tmp_path / "guide.labelbook"
    before = [Annotator("alice", "acme")]  # project.json's roster, no rosters.jsonl yet
    times = pd.Series(pd.to_datetime(["2020-06-01", "2025-03-01"], utc=True))
    assert vendors_at(pd.Series(["alice", "alice"]), times, roster_versions(folder, before)).tolist() == [
        "acme",
        "acme",
    ]
    record_roster(folder, [Annotator("alice", "bright")], datetime(2025, 2, 1, tzinfo=timezone.utc), before)
    versions = roster_versions(folder, [Annotator("alice", "bright")])
    assert vendors_at(pd.Series(["alice", "alice"]), times, versions).tolist() == ["acme", "bright"]


# --- bad files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "latin1.csv",
            "prompt,id\ncaf\xe9,1\n".encode("latin-1"),
            "{path}, line 2: not UTF-8 text (byte 0xe9); save the file as UTF-8 (in a spreadsheet: CSV "
            "UTF-8).",
        ),
        (
            "ragged.csv",
            "id,prompt\nr1,hello, world\nr2,fine\n",
            "{path}, row 1 (line 2): 3 cells for the 2 columns of the header (id, prompt)",
        ),
        ("broken.jsonl", '{"id": "r1", "prompt": "x"}\n{"id": "r2", \n', "{path}, line 2: not JSON"),
        ("damaged.parquet", b"PAR1 not really", "{path}: not a readable parquet file (ArrowInvalid"),
    ],
)
def test_unreadable_files_are_named_with_the_line(
    tmp_path: Path, name: str, content: str | bytes, expected: str
) -> None:
    path = write(tmp_path / name, content)
    (problem,) = problems_of(records=path)
    assert problem.startswith(expected.format(path=path))


def test_a_chat_over_argilla_servers_message_limit_is_refused_with_its_row(tmp_path: Path) -> None:
    long_chat = [{"role": "user", "content": f"step {i}"} for i in range(CHAT_MAX_MESSAGES + 1)]
    records = write(
        tmp_path / "records.jsonl",
        json.dumps({"id": "r1", "prompt": "p"})
        + "\n"
        + json.dumps({"id": "r2", "prompt": "p", "chat": long_chat}),
    )
    assert problems_of(records=records) == (
        f"{records}: row 2: field 'chat' has 501 messages; argilla-server takes at most 500 per chat: split "
        "the conversation over several records, or merge consecutive tool steps into one message",
    )


# --- messages ---------------------------------------------------------------------------------


def test_a_misspelled_column_suggests_the_mapping(tmp_path: Path) -> None:
    records = write(tmp_path / "records.csv", "id,promt\nr1,hello\n")
    assert problems_of(records=records) == (
        f"{records}: no column for required field 'prompt' (columns: id, promt); did you mean 'promt'? "
        "rename it, or map it: --mapping promt=prompt (mapping={'promt': 'prompt'} in Python)",
    )
    assert check(TASK, records=records, mapping={"promt": "prompt"}).prepared is not None


def test_a_wrong_gold_label_names_that_label_and_row_only_and_unknown_ids_come_in_the_same_run(
    tmp_path: Path,
) -> None:
    records = write(tmp_path / "records.csv", "id,prompt\nr1,x\nr2,y\n")
    gold = write(tmp_path / "gold.csv", "id,preferred,confidence\nr1,c,4\nr9,a,5\nr1,b,3\n")
    problems = problems_of(records=records, gold=gold)
    assert problems[0].startswith(f"{gold}: row 1 (line 2): ") and "'c'" in problems[0]
    assert "no answer to any question" not in " ".join(problems)
    assert problems[1:] == (
        f"{gold}: row 3 (line 4): id 'r1' repeats row 1 (line 2); give each record one gold row",
        f"{gold}: 1 gold id is not among the records: r9; put the gold records in the records file too (only "
        "the record is uploaded)",
    )


def test_every_problem_of_every_input_is_reported_together(tmp_path: Path) -> None:
    records = write(tmp_path / "records.csv", "id,prompt\nr1,x\nr1,y\n")
    roster = write(tmp_path / "roster.csv", "username,vendor\n-bad,acme\n")
    gold = write(tmp_path / "gold.csv", "id,preferred\nr1,zzz\n")
    problems = problems_of(records=records, annotators=roster, gold=gold)
    assert [p.split(",", 1)[0].split(":", 1)[0] for p in problems] == [str(records), str(roster), str(gold)]
    assert problems[0] == f"{records}: row 2 (line 3): id 'r1' repeats row 1 (line 2); use unique ids"
    assert problems[1].startswith(f"{roster}, row 1 (line 2): username '-bad' is not allowed")
    assert problems[2].startswith(f"{gold}: row 1 (line 2): ") and "'zzz'" in problems[2]


def test_a_misspelled_gold_column_is_named(tmp_path: Path) -> None:
    records = write(tmp_path / "records.csv", "id,prompt\nr1,x\n")
    gold = write(tmp_path / "gold.csv", "id,prefered\nr1,a\n")
    problems = problems_of(records=records, gold=gold)
    assert problems[0] == (
        f"{gold}: column 'prefered' is not a question of task 'pref'; did you mean 'preferred'? rename the "
        "column (questions: preferred, confidence)"
    )


def test_csv_cells_stay_text_and_empty_cells_are_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", 'id,prompt\n007,"a, quoted"\n008,\n')
    rows, name, offset = read_rows(path)
    assert rows == [{"id": "007", "prompt": "a, quoted"}, {"id": "008", "prompt": None}]
    assert (name, offset) == (str(path), 1)


def test_a_row_with_no_field_value_is_refused_before_the_server_would() -> None:
    optional = Task("opt", fields=[TextField("note", required=False)], questions=[TASK.questions[0]])
    with pytest.raises(RecordsError) as caught:
        check(optional, records=[{"id": "r1", "note": "x"}, {"id": "r2"}])
    assert caught.value.problems == (
        "the records list: row 2: no field has a value (note); drop the row or fill one",
    )


def test_dataframes_are_named_by_what_they_hold() -> None:
    records = pd.DataFrame({"id": ["r1"], "prompt": [3]})
    roster = pd.DataFrame({"username": ["ann", "ANN"], "vendor": ["a", "b"]})
    with pytest.raises(RecordsError) as caught:
        check(TASK, records=records, annotators=roster)
    assert [p.split(":", 1)[0].split(",", 1)[0] for p in caught.value.problems] == [
        "the records DataFrame",
        "the roster DataFrame",
    ]
