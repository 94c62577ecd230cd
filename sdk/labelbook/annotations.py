"""The tidy annotation frame: one row per record × annotator × question, and its transforms.

Columns (in this order):

    record_id           our stable id (the id column of the records, or a content hash)
    argilla_record_id   the record's id in Argilla
    question            the question's name
    annotator           the annotator's username (not Argilla's user UUID)
    vendor              the annotator's vendor or group, from the roster live when they answered
                        ("" when unknown)
    value               the answer as a native value: str, int, list (multi-label, ranking, spans)
    status              submitted, draft or discarded
    submitted_at        when the response was last saved (UTC)
    release             the guidelines release live at that moment, from the deployment log
    is_gold             whether the record has an expert (gold) answer

Optional columns: `field.<name>` (record fields) and `metadata.<name>`. Nothing here talks to a
server; `labelbook.argilla` fills the columns, `labelbook.quality` reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelbook.encoding import jsonable, utc_series
from labelbook.errors import LabelbookError
from labelbook.files import staged

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "INDEX", "attribute_releases", "frame", "since", "wide", "write", "write_chunks"]

COLUMNS = (
    "record_id",
    "argilla_record_id",
    "question",
    "annotator",
    "vendor",
    "value",
    "status",
    "submitted_at",
    "release",
    "is_gold",
)
INDEX = (
    "record_id",
    "argilla_record_id",
    "annotator",
    "vendor",
    "status",
    "submitted_at",
    "release",
    "is_gold",
)
"""The columns that identify one response (what the wide form keeps as rows)."""


def attribute_releases(times: pd.Series, live: Sequence[tuple[datetime, str]]) -> pd.Series:
    """For each UTC time, the release live then: the last (at, version) with at <= time (None before any)."""
    import numpy as np
    import pandas as pd

    ordered = sorted(live)
    if not ordered:
        return pd.Series([None] * len(times), index=times.index, dtype=object)
    starts = pd.DatetimeIndex([pd.Timestamp(at) for at, _ in ordered]).tz_convert("UTC").as_unit("ns")
    versions = np.array([None, *[version for _, version in ordered]], dtype=object)
    stamps = pd.DatetimeIndex(times).tz_convert("UTC").as_unit("ns")
    positions = np.searchsorted(starts.asi8, stamps.asi8, side="right")
    out = versions[positions]
    out[np.asarray(stamps.isna())] = None
    return pd.Series(out, index=times.index, dtype=object)


def frame(
    columns: Mapping[str, Sequence[Any]],
    *,
    deployments: Sequence[tuple[datetime, str]] = (),
    extra: Mapping[str, Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """Build the tidy frame from column lists (submitted_at as ISO text or datetimes, UTC)."""
    import pandas as pd

    data: dict[str, Any] = {name: columns[name] for name in COLUMNS if name in columns}
    # Answers keep their native types (None stays None, lists stay lists): an object column.
    data["value"] = pd.Series(list(data["value"]), dtype=object)
    out = pd.DataFrame(data)
    out["submitted_at"] = utc_series(out["submitted_at"])
    if "release" not in columns:
        out["release"] = attribute_releases(out["submitted_at"], deployments)
    out["is_gold"] = out["is_gold"].astype(bool)
    out = out[list(COLUMNS)]
    for name, values in (extra or {}).items():
        out[name] = values
    return out


def since(annotations: pd.DataFrame, moment: datetime | str) -> pd.DataFrame:
    """Only the responses saved after `moment` (an aware datetime or ISO text; naive means UTC)."""
    import pandas as pd

    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return annotations[annotations["submitted_at"] > stamp].reset_index(drop=True)


def wide(annotations: pd.DataFrame) -> pd.DataFrame:
    """One row per record × annotator, one column per question (the value), in the order questions first
    appear; `field.*` and `metadata.*` columns (chats, lists) ride along without being part of the key."""
    import pandas as pd

    carried = [c for c in annotations.columns if str(c).startswith(("field.", "metadata."))]
    keys = [c for c in annotations.columns if c not in ("question", "value", *carried)]
    response = annotations.groupby(keys, sort=False, dropna=False).ngroup()
    answers = (
        pd.DataFrame(
            {"_response": response, "question": annotations["question"], "value": annotations["value"]}
        )
        .set_index(["_response", "question"])["value"]
        .unstack("question")
    )
    answers = answers[list(pd.unique(annotations["question"]))].astype(object)
    answers = answers.where(answers.notna(), None)  # a question a response has no row for: None, not NaN
    answers.columns.name = None
    firsts = annotations.drop(columns=["question", "value"]).assign(_response=response)
    firsts = firsts[~response.duplicated()].set_index("_response")
    return firsts.join(answers).reset_index(drop=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_text(value: Any) -> str | None:
    """An answer as the text a person would write: a label as is, 4 for a rating, JSON for a list."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if _is_number(value):
        return str(value)
    return json.dumps(jsonable(value), ensure_ascii=False)


def _typed(series: pd.Series, suffix: str) -> pd.Series:
    """One object column with one real type: strings, numbers, booleans, lists (parquet), else JSON text."""
    import pandas as pd

    present = [v for v in series if v is not None]
    if all(isinstance(v, str) for v in present):
        return series
    if all(isinstance(v, bool) for v in present):
        return series.astype("boolean")
    if all(_is_number(v) for v in present):
        kind = "Int64" if all(isinstance(v, int) for v in present) else "Float64"
        return pd.Series(pd.array(list(series), dtype=kind), index=series.index)
    if suffix == ".parquet" and all(isinstance(v, list | dict) for v in present):
        import pyarrow as pa

        try:  # lists of strings, spans, chats: real lists and structs in parquet
            pa.array(series, from_pandas=True)
            return series
        except (pa.ArrowException, TypeError, ValueError):
            pass
    return pd.Series([_as_text(v) for v in series], index=series.index, dtype=object)


def _file_columns(annotations: pd.DataFrame, suffix: str) -> pd.DataFrame:
    """The frame as .parquet and .csv hold it: every column one type, the long form's answer split by kind.

    In the long form (a `question` column), `value` holds every answer as text (a label or text answer
    as it is, a rating as its number, a list as JSON) so that files merge on it; `value_number` holds
    ratings as numbers and `value_list` multi-label and ranking answers as lists (JSON text in CSV).
    """
    import pandas as pd

    out = annotations.copy()
    for column in out.columns:
        if column == "value" and "question" in out.columns:
            values = list(out["value"])
            numbers = [v if _is_number(v) else None for v in values]
            lists = [
                list(v) if isinstance(v, list) and all(isinstance(i, str) for i in v) else None
                for v in values
            ]
            out["value"] = pd.Series([_as_text(v) for v in values], index=out.index, dtype=object)
            position = list(out.columns).index("value") + 1
            number_column = (
                _typed(pd.Series(numbers, index=out.index, dtype=object), suffix)
                if any(v is not None for v in numbers)
                else pd.Series(pd.array([None] * len(out), dtype="Int64"), index=out.index)  # one type always
            )
            out.insert(position, "value_number", number_column)
            out.insert(
                position + 1, "value_list", _typed(pd.Series(lists, index=out.index, dtype=object), suffix)
            )
        elif out[column].dtype == object and column not in ("value_number", "value_list"):
            out[column] = _typed(out[column], suffix)
    return out


def write(annotations: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write to .parquet, .csv or .jsonl (atomically); .jsonl keeps native values, and .parquet and .csv
    give every column one type (see `_file_columns`: `value` as text, `value_number`, `value_list`)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv", ".jsonl"):
        raise LabelbookError(f"{target}: write annotations to a .parquet, .csv or .jsonl file.")
    out = annotations if suffix == ".jsonl" else _file_columns(annotations, suffix)
    with staged(target) as tmp:
        if suffix == ".parquet":
            out.to_parquet(tmp, index=False)
        elif suffix == ".csv":
            out.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            with open(tmp, "w", encoding="utf-8") as handle:
                for row in out.to_dict("records"):
                    handle.write(
                        json.dumps({k: jsonable(v) for k, v in row.items()}, ensure_ascii=False) + "\n"
                    )
    return target


def _append(out: pd.DataFrame, tmp: Path, suffix: str, first: bool) -> None:
    """Append a frame in file columns to a .csv or .jsonl file (`first`: start it, with the header)."""
    if suffix == ".csv":
        out.to_csv(
            tmp, index=False, header=first, mode="w" if first else "a", date_format="%Y-%m-%dT%H:%M:%S.%fZ"
        )
        return
    with open(tmp, "w" if first else "a", encoding="utf-8") as handle:
        for row in out.to_dict("records"):
            handle.write(json.dumps({k: jsonable(v) for k, v in row.items()}, ensure_ascii=False) + "\n")


def write_chunks(
    chunks: Iterable[pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    empty: pd.DataFrame,
    types: Mapping[str, Any] | None = None,
) -> tuple[Path, int]:
    """Write the tidy frame given in pieces, one piece in memory at a time: (path, rows written).

    The file is the one `write` makes of the pieces put together: .parquet gets a row group a piece,
    its schema from the first non-empty piece, with a column that piece leaves all empty typed by
    `types` (pyarrow types by column name; else it stays null) and every later piece cast to it.
    Written beside `path` and renamed onto it at the end, so an interrupted pull leaves no half file.
    `empty` is what an empty result is written as.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv", ".jsonl"):
        raise LabelbookError(f"{target}: write annotations to a .parquet, .csv or .jsonl file.")
    rows = 0
    hints = dict(types or {})
    with staged(target) as tmp:
        writer: Any = None
        schema: Any = None
        try:
            for chunk in chunks:
                if chunk.empty:
                    continue
                out = chunk if suffix == ".jsonl" else _file_columns(chunk, suffix)
                if suffix != ".parquet":
                    _append(out, tmp, suffix, first=rows == 0)
                else:
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    table = pa.Table.from_pandas(out, preserve_index=False)
                    if writer is None:
                        fields = [
                            field.with_type(hints[field.name])
                            if pa.types.is_null(field.type) and field.name in hints
                            else field
                            for field in table.schema
                        ]
                        schema = pa.schema(fields, metadata=table.schema.metadata)
                        writer = pq.ParquetWriter(tmp, schema)
                    writer.write_table(table.cast(schema))
                rows += len(chunk)
        finally:
            if writer is not None:
                writer.close()
        if rows == 0:
            write(empty, tmp.with_suffix(suffix))
            os.replace(tmp.with_suffix(suffix), tmp)
    return target, rows
