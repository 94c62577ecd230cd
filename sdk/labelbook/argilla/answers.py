"""Expert (gold) answers, read from a table and checked against the task before anything is uploaded.

One row per record: the record's id (`id`, or `id_column`) and a column per question answered.
Values are read the way records' suggestions are (JSON lists and objects parsed, whole-number
ratings as integers); every problem is reported with its row, at once.
"""

from __future__ import annotations

from typing import Any

from labelbook.argilla.records import (
    RecordsSource,
    column_names,
    json_cell,
    missing_column_hint,
    problems_error,
    read_rows,
    row_place,
)
from labelbook.errors import TaskError
from labelbook.task import Question, Task


def read_answers(
    task: Task, source: RecordsSource, *, id_column: str = "id", what: str = "gold"
) -> dict[str, dict[str, Any]]:
    """Expert answers: record id → {question: value}, validated against the task."""
    rows, name, offset = read_rows(source, what)
    answers, problems = check_answers(task, rows, name, offset, id_column=id_column)
    if problems:
        raise problems_error(name, problems, f"{what} answers")
    return answers


def _answer(question: Question, value: Any) -> Any:
    value = value if question.kind == "text" else json_cell(value)
    if question.kind == "rating" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if question.kind == "rating" and isinstance(value, float) and value.is_integer():
        value = int(value)
    return value


def check_answers(
    task: Task, rows: list[dict[str, Any]], name: str, offset: int = 0, *, id_column: str = "id"
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Expert answers that are fine (record id → {question: value}) and every problem, each with its row."""
    questions = {q.name: q for q in task.questions}
    answers: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    columns = column_names(rows)
    if not rows:
        problems.append("no gold answers (the file has no rows)")
    elif id_column not in columns:
        problems.append(
            f"no {id_column!r} column (columns: {', '.join(columns)}): each gold answer names the record it "
            "answers" + missing_column_hint(id_column, columns, set(questions), option="rename")
        )
        return answers, problems
    import difflib

    for column in (c for c in columns if c != id_column and c not in questions):
        close = difflib.get_close_matches(column, [q for q in questions if q not in columns], n=1, cutoff=0.6)
        if close:
            problems.append(
                f"column {column!r} is not a question of task {task.name!r}; did you mean {close[0]!r}? "
                f"rename the column (questions: {', '.join(questions)})"
            )
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, 1):
        where = row_place(number, offset)
        record_id = row.get(id_column)
        if record_id is None:
            problems.append(f"{where}: no {id_column!r}: each gold answer names the record it answers")
            continue
        record_id = str(record_id)
        if record_id in seen:
            problems.append(
                f"{where}: id {record_id!r} repeats {row_place(seen[record_id], offset)}; "
                "give each record one gold row"
            )
            continue
        seen[record_id] = number
        given: dict[str, Any] = {}
        wrong = False
        for key, value in row.items():
            if key in questions and value is not None:
                value = _answer(questions[key], value)
                try:
                    questions[key].validate_value(value)
                except TaskError as err:
                    problems.append(f"{where}: {err}")
                    wrong = True
                    continue
                given[key] = value
        if not given and not wrong:
            problems.append(f"{where}: no answer to any question ({', '.join(questions)})")
            continue
        if given and not wrong:
            answers[record_id] = given
    return answers, problems
