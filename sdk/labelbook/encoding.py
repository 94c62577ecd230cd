"""How labelbook writes times and values as JSON text: one UTC format, one way to make data JSON.

Times are stored in UTC as ISO 8601 with a `Z` ("2026-12-01T09:00:00Z"); read back, a time
without a zone is taken as UTC (Argilla's API sends some so).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

__all__ = ["format_utc", "jsonable", "parse_utc", "utc"]


def utc(at: datetime | None = None) -> datetime:
    """`at` (default: now) in UTC; ValueError for a naive datetime, whose moment is unknown."""
    at = at or datetime.now(timezone.utc)
    if at.tzinfo is None:
        raise ValueError(f"time {at.isoformat()} has no time zone; pass an aware datetime (e.g. UTC).")
    return at.astimezone(timezone.utc)


def format_utc(at: datetime) -> str:
    """ "2026-12-01T09:00:00Z": UTC, to the second."""
    return at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time ("...Z", "+02:00" or no zone, taken as UTC) as an aware UTC datetime."""
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def utc_series(values: Any) -> Any:
    """A column of timestamps as UTC datetimes (a pandas Series), from datetimes or ISO 8601 text in
    any mix of precisions (a CSV round trip writes `09:19:00+00:00` beside `09:19:00.003+00:00`)."""
    import pandas as pd

    return pd.to_datetime(values, utc=True, format="ISO8601")


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):  # datetime, date, pandas Timestamp
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return str(value)


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data (dicts, lists, str, numbers, None): times as ISO text, numpy
    values as lists and numbers, anything else unknown as its str."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.loads(json.dumps(value, ensure_ascii=False, default=_plain))
