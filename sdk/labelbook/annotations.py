"""The tidy annotation frame: one row per record × annotator × question, and its transforms.

Columns (in this order):

    record_id           our stable id (the id column of the records, or a content hash)
    argilla_record_id   the record's id in Argilla
    question            the question's name
    annotator           the annotator's username (not Argilla's user UUID)
    vendor              the annotator's vendor or group, from the roster ("" when unknown)
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
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelbook.encoding import jsonable
from labelbook.errors import LabelbookError
from labelbook.files import staged

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "INDEX", "attribute_releases", "frame", "since", "wide", "write"]

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
    out["submitted_at"] = pd.to_datetime(out["submitted_at"], utc=True, format="ISO8601")
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
    """One row per record × annotator, one column per question (the value)."""
    keys = [c for c in annotations.columns if c not in ("question", "value")]
    table = annotations.set_index([*keys, "question"])["value"].unstack("question")
    table.columns.name = None
    return table.reset_index()


def write(annotations: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write to .parquet, .csv or .jsonl (atomically). Mixed-type answer columns are stored as JSON
    text in parquet and CSV (`json.loads` gives the value back); .jsonl keeps native values."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv", ".jsonl"):
        raise LabelbookError(f"{target}: write annotations to a .parquet, .csv or .jsonl file.")
    out = annotations.copy()
    if suffix != ".jsonl":
        for column in out.columns:
            if out[column].dtype != object:
                continue
            kinds = {type(v) for v in out[column] if v is not None}
            if len(kinds) > 1 or kinds - {str}:
                out[column] = [
                    None if v is None else json.dumps(jsonable(v), ensure_ascii=False) for v in out[column]
                ]
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
