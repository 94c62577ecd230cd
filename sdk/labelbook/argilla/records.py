"""Records to publish: read from a DataFrame, CSV, JSONL or parquet, mapped onto the task's fields,
given stable ids, validated before anything is uploaded, and turned into Argilla's REST payloads.

Column conventions (the argilla SDK's): a column named after a field fills it (or `mapping` maps a
column onto a field, metadata property or suggestion); `id` holds the stable id (else a hash of
the field values is used); metadata columns are named after the task's metadata; suggestions come
from `<question>.suggestion`, `<question>.suggestion.score` and `<question>.suggestion.agent`
columns, or from a callable. Columns named after a *question* are never uploaded: they are
answers, and answers (gold ones above all) must never reach a contractor as suggestions.

Chat values become Argilla's messages in `argilla/chat.py`; gold answers are read in `argilla/answers.py`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelbook.argilla.chat import check_chats
from labelbook.errors import RecordsError, TaskError
from labelbook.task import ChatField, Metadata, Question, RankingQuestion, Task

RecordsSource = Any  # a pandas DataFrame, a path to .csv/.jsonl/.json/.parquet, or a list of dicts
Suggest = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""record fields → {question: value | (value, score)}: a model or a language model suggesting answers."""

_SHOWN_PROBLEMS = 12


@dataclass
class Prepared:
    """Validated records, ready to upload, in upload order."""

    ids: list[str]
    """Stable ids (the Argilla records' external ids)."""
    payloads: list[dict[str, Any]]
    """REST bodies; suggestions name their question (`question_name`), resolved to ids at upload."""
    ignored_columns: list[str] = field(default_factory=list)
    """Columns that fed nothing (answers, unknown names), for the summary."""


def plain(value: Any) -> Any:
    """A value as plain Python: numpy scalars and arrays, pandas NA and NaN → int/float/list/None."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy scalars and arrays (parquet gives arrays for list columns)
        return plain(tolist())
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    return value


def _not_utf8(path: Path, data: bytes, err: UnicodeDecodeError) -> RecordsError:
    line = data[: err.start].count(b"\n") + 1
    return RecordsError(
        f"{path}, line {line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8 "
        "(in a spreadsheet: CSV UTF-8)."
    )


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _not_utf8(path, data, err) from err


def _read_csv(path: Path) -> list[dict[str, Any]]:
    """CSV rows as dicts of text (empty cells None); a row with more or fewer cells than the header is
    refused with its line, where pandas would fill or shift cells silently."""
    import csv
    import io

    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return []
        header = [name.strip() for name in header]
        rows: list[dict[str, Any]] = []
        problems: list[str] = []
        number = 0
        for cells in reader:
            if not cells:
                continue
            number += 1
            if len(cells) != len(header):
                problems.append(
                    f"row {number} (line {reader.line_num}): {len(cells)} "
                    f"cell{'s' if len(cells) != 1 else ''} for the {len(header)} columns of the header "
                    f"({', '.join(header)})"
                )
                continue
            rows.append(
                {name: (cell if cell != "" else None) for name, cell in zip(header, cells, strict=True)}
            )
    except csv.Error as err:
        raise RecordsError(f"{path}, line {reader.line_num}: not valid CSV ({err}).") from err
    if problems:
        shown = "\n  ".join(problems[:_SHOWN_PROBLEMS])
        more = f"\n  …and {len(problems) - _SHOWN_PROBLEMS} more" if len(problems) > _SHOWN_PROBLEMS else ""
        raise RecordsError(
            f"{path}: {len(problems)} ragged row{'s' if len(problems) != 1 else ''} (quote cells that "
            f"contain commas):\n  {shown}{more}",
            [f"{path}, {problem}" for problem in problems],
        )
    return rows


def read_rows(source: RecordsSource, what: str = "records") -> tuple[list[dict[str, Any]], str, int]:
    """Rows as dicts, a name for messages, and the line offset (data row 1 is on line 1 + offset).

    A file that cannot be read (not UTF-8, ragged CSV, damaged parquet, not JSON) is a RecordsError
    naming the file and the line."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        suffix = path.suffix.lower()
        if not path.is_file():
            raise RecordsError(f"{path}: no such file ({what}).")
        if suffix in (".jsonl", ".ndjson"):
            rows = []
            for number, line in enumerate(_read_text(path).splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise RecordsError(f"{path}, line {number}: not JSON ({err.msg}).") from err
                if not isinstance(row, dict):
                    raise RecordsError(f"{path}, line {number}: expected a JSON object per line.")
                rows.append(row)
            return rows, str(path), 0
        if suffix == ".json":
            try:
                data = json.loads(_read_text(path))
            except json.JSONDecodeError as err:
                raise RecordsError(f"{path}, line {err.lineno}: not JSON ({err.msg}).") from err
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise RecordsError(f"{path}: expected a JSON list of objects.")
            return data, str(path), 0
        if suffix == ".csv":
            return _read_csv(path), str(path), 1
        if suffix in (".parquet", ".pq"):
            import pandas as pd
            import pyarrow as pa

            try:
                frame = pd.read_parquet(path)
            except (pa.ArrowException, OSError, ValueError) as err:
                raise RecordsError(
                    f"{path}: not a readable parquet file ({type(err).__name__}: {str(err)[:200]}); "
                    "write it again, or give the rows as .csv or .jsonl."
                ) from err
            return _frame_rows(frame), str(path), 0
        raise RecordsError(f"{path}: unknown format {suffix!r}; use .csv, .jsonl, .json or .parquet.")
    if hasattr(source, "to_dict") and hasattr(source, "columns"):
        return _frame_rows(source), f"the {what} DataFrame", 0
    if isinstance(source, Iterable) and not isinstance(source, str | bytes | Mapping):
        rows = list(source)
        for i, row in enumerate(rows, 1):
            if not isinstance(row, Mapping):
                raise RecordsError(f"{what}: row {i} is a {type(row).__name__}, expected a dict.")
        return [dict(r) for r in rows], f"the {what} list", 0
    raise RecordsError(
        f"{what}: expected a pandas DataFrame, a list of dicts or a .csv/.jsonl/.parquet file, "
        f"got {type(source).__name__}."
    )


def _frame_rows(frame: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = frame.to_dict("records")
    return [{str(k): plain(v) for k, v in row.items()} for row in rows]


def column_names(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every column of the rows, in the order first seen (rows may differ in their keys)."""
    return list(dict.fromkeys(key for row in rows for key in row))


def content_id(fields: Mapping[str, Any]) -> str:
    """A stable id from the field values: the same content always gets the same id."""
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def row_place(row: int, offset: int) -> str:
    """`row 3 (line 4)`: a data row, and its line in the file where the file has a header."""
    return f"row {row}" + (f" (line {row + offset})" if offset else "")


def _coerce_field(task_field: Any, value: Any) -> Any:
    if isinstance(task_field, ChatField) and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # validate_value says what is wrong
    return value


def _coerce_metadata(item: Metadata, value: Any) -> Any:
    if item.kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if item.kind in ("integer", "float") and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if item.kind == "integer" and number.is_integer() else number
    return value


def _suggestion_value(question: Question, value: Any) -> Any:
    if isinstance(question, RankingQuestion):
        return [{"value": v, "rank": i} for i, v in enumerate(value, 1)]
    return value


def json_cell(value: Any) -> Any:
    """A cell that holds a JSON list or object, parsed; any other value as it is."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def prepare(
    task: Task,
    source: RecordsSource,
    *,
    mapping: Mapping[str, str] | None = None,
    id_column: str = "id",
    suggest: Suggest | None = None,
    suggestion_agent: str | None = None,
) -> Prepared:
    """Read, map, id and validate records; RecordsError lists every problem with its row number."""
    rows, name, offset = read_rows(source)
    prepared, problems = check_records(
        task,
        rows,
        name,
        offset,
        mapping=mapping,
        id_column=id_column,
        suggest=suggest,
        suggestion_agent=suggestion_agent,
    )
    if problems:
        raise problems_error(name, problems)
    return prepared


def problems_error(name: str, problems: Sequence[str], what: str = "") -> RecordsError:
    """One RecordsError listing the first problems (all in `.problems`); nothing was uploaded."""
    shown = "\n  ".join(problems[:_SHOWN_PROBLEMS])
    more = f"\n  …and {len(problems) - _SHOWN_PROBLEMS} more" if len(problems) > _SHOWN_PROBLEMS else ""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return RecordsError(
        f"{name}: {count}{f' in the {what}' if what else ''}; nothing was uploaded:\n  {shown}{more}",
        problems,
    )


def missing_column_hint(wanted: str, columns: Sequence[str], taken: set[str], option: str = "mapping") -> str:
    """`; did you mean 'trajectry'? rename it, or --mapping trajectry=trajectory` for a near miss."""
    import difflib

    spare = [c for c in columns if c not in taken]
    close = difflib.get_close_matches(wanted.lower(), [c.lower() for c in spare], n=1, cutoff=0.6)
    if not close:
        return (
            f"; rename a column to {wanted!r}, or map one: --mapping COLUMN={wanted} "
            f"(mapping={{'COLUMN': {wanted!r}}} in Python)"
        )
    column = next(c for c in spare if c.lower() == close[0])
    if option != "mapping":
        return f"; did you mean {column!r}? rename that column to {wanted!r}"
    return (
        f"; did you mean {column!r}? rename it, or map it: --mapping {column}={wanted} "
        f"(mapping={{{column!r}: {wanted!r}}} in Python)"
    )


def _read_row(
    row: Mapping[str, Any],
    mapped: Mapping[str, str],
    fields: Mapping[str, Any],
    metadata: Mapping[str, Any],
    questions: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    """A row's field values, metadata and suggestion parts, by the column each is mapped to."""
    record_fields: dict[str, Any] = {}
    record_metadata: dict[str, Any] = {}
    suggestions: dict[str, dict[str, Any]] = {}
    for column, value in row.items():
        target = mapped[column]
        if value is None:
            continue
        if target in fields:
            record_fields[target] = _coerce_field(fields[target], value)
        elif target in metadata:
            record_metadata[target] = _coerce_metadata(metadata[target], value)
        elif ".suggestion" in target:
            question, _, part = target.partition(".suggestion")
            if question in questions:
                found = {"": "value", ".score": "score", ".agent": "agent"}.get(part)
                if found is None:
                    continue
                key = found
                suggestions.setdefault(question, {})[key] = json_cell(value) if key == "value" else value
    return record_fields, record_metadata, suggestions


def _suggestion_payloads(
    suggestions: dict[str, dict[str, Any]], questions: Mapping[str, Any], where: str, problems: list[str]
) -> list[dict[str, Any]]:
    """The suggestions of one row as the server takes them; what is wrong goes to `problems`."""
    made: list[dict[str, Any]] = []
    for question, parts in suggestions.items():
        if question not in questions:
            problems.append(f"{where}: suggestion for unknown question {question!r}")
            continue
        if "value" not in parts:
            continue
        try:
            questions[question].validate_value(parts["value"])
        except TaskError as err:
            problems.append(f"{where}: suggestion: {err}")
            continue
        score = parts.get("score")
        if score is not None:
            try:
                score = float(score)
            except (TypeError, ValueError):
                problems.append(f"{where}: suggestion score for {question!r} is not a number: {score!r}")
                continue
            if not 0 <= score <= 1:
                problems.append(f"{where}: suggestion score for {question!r} is outside [0, 1]: {score}")
                continue
        payload: dict[str, Any] = {
            "question_name": question,
            "value": _suggestion_value(questions[question], parts["value"]),
            "type": "model",
        }
        if score is not None:
            payload["score"] = score
        if parts.get("agent"):
            payload["agent"] = str(parts["agent"])[:200]
        made.append(payload)
    return made


def _check_columns(
    task: Task, rows: list[dict[str, Any]], mapping: Mapping[str, str], id_column: str
) -> tuple[list[str], dict[str, str], list[str]]:
    """The columns of the rows, the target each is mapped to, and what is wrong with the mapping."""
    fields = {f.name: f for f in task.fields}
    questions = {q.name: q for q in task.questions}
    targets = set(fields) | {m.name for m in task.metadata}
    problems: list[str] = []
    columns = column_names(rows)
    for column, target in mapping.items():
        base = target.split(".", 1)[0]
        if target not in targets and not (base in questions and target.startswith(f"{base}.suggestion")):
            problems.append(
                f"mapping {column}={target}: {target!r} is not a field, metadata property or "
                f"`<question>.suggestion` of task {task.name!r} (fields: {', '.join(fields)})"
            )
        if column not in columns:
            problems.append(
                f"mapping {column}={target}: no column {column!r} (columns: {', '.join(columns)})"
            )
    mapped = {column: mapping.get(column, column) for column in columns}
    present = set(mapped.values())
    for item in task.fields:
        if item.required and item.name not in present:
            problems.append(
                f"no column for required field {item.name!r} (columns: {', '.join(columns) or 'none'})"
                + missing_column_hint(item.name, columns, present & targets | {id_column})
            )
    return columns, mapped, problems


def check_records(
    task: Task,
    rows: list[dict[str, Any]],
    name: str,
    offset: int = 0,
    *,
    mapping: Mapping[str, str] | None = None,
    id_column: str = "id",
    suggest: Suggest | None = None,
    suggestion_agent: str | None = None,
) -> tuple[Prepared, list[str]]:
    """The records that are fine, ready to upload, and every problem found (each with its row)."""
    mapping = dict(mapping or {})
    fields = {f.name: f for f in task.fields}
    metadata = {m.name: m for m in task.metadata}
    questions = {q.name: q for q in task.questions}
    targets = set(fields) | set(metadata)
    if not rows:
        return Prepared([], []), ["no records (the file has no rows)"]
    columns, mapped, problems = _check_columns(task, rows, mapping, id_column)
    if problems:
        return Prepared([], []), problems
    ignored = [
        c for c in columns if mapped[c] not in targets and c != id_column and ".suggestion" not in mapped[c]
    ]
    agent = str(suggestion_agent or (getattr(suggest, "__name__", "model") if suggest else ""))

    chat_fields = [f for f in task.fields if isinstance(f, ChatField)]
    ids: list[str] = []
    payloads: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, 1):
        where = row_place(number, offset)
        record_fields, record_metadata, suggestions = _read_row(row, mapped, fields, metadata, questions)
        try:
            task.validate_record(record_fields)
        except TaskError as err:
            problems.append(f"{where}: {err}")
        else:
            if not record_fields:  # argilla-server refuses a record without any field value
                problems.append(
                    f"{where}: no field has a value ({', '.join(fields)}); drop the row or fill one"
                )
        for key, value in record_metadata.items():
            try:
                metadata[key].validate_value(value)
            except TaskError as err:
                problems.append(f"{where}: {err}")
        if suggest is not None:
            try:
                made = suggest(dict(record_fields))
            except Exception as err:
                problems.append(f"{where}: the suggestion function failed: {type(err).__name__}: {err}")
                made = {}
            for question, given in (made or {}).items():
                value, score = given if isinstance(given, tuple) else (given, None)
                suggestions[question] = {"value": value, "score": score, "agent": agent}
        suggestion_payloads = _suggestion_payloads(suggestions, questions, where, problems)
        raw_id = row.get(id_column)
        if id_column in row and raw_id is None:
            problems.append(f"{where}: empty {id_column!r}: every record needs an id (or drop the column)")
            continue
        record_id = str(raw_id) if raw_id is not None else content_id(record_fields)
        check_chats(chat_fields, record_fields, where, problems)
        if record_id in seen:
            problems.append(
                f"{where}: id {record_id!r} repeats {row_place(seen[record_id], offset)}; use unique ids"
                + ("" if raw_id is not None else " (the two rows have the same content)")
            )
            continue
        seen[record_id] = number
        body: dict[str, Any] = {"external_id": record_id, "fields": record_fields}
        if record_metadata:
            body["metadata"] = record_metadata
        if suggestion_payloads:
            body["suggestions"] = suggestion_payloads
        ids.append(record_id)
        payloads.append(body)
    return Prepared(ids, payloads, ignored), problems


def interleave(ids: Sequence[str], gold: set[str], rate: float | None) -> list[str]:
    """Upload order: gold records spread evenly among the others, about `rate` of the queue.

    With no rate, the order is as given. With a rate, only as many gold records as the rate
    calls for are kept (the rest wait for a later publish).
    """
    if rate is None or not gold:
        return list(ids)
    if not 0 < rate < 1:
        raise RecordsError(f"gold rate must be between 0 and 1 (a share of the queue), got {rate}.")
    others = [i for i in ids if i not in gold]
    golden = [i for i in ids if i in gold]
    wanted = min(len(golden), max(1, math.ceil(rate * len(others) / (1 - rate))))
    golden = golden[:wanted]
    order: list[str] = []
    step = (len(others) + 1) / (wanted + 1)
    next_gold, g = step, 0
    for position, other in enumerate(others, 1):
        while g < wanted and position >= next_gold:
            order.append(golden[g])
            g += 1
            next_gold += step
        order.append(other)
    order.extend(golden[g:])
    return order
