"""The pay ledger: per worker and period, from the roster's rates, with quality-adjusted bonuses.

    ledger = pipe.ledger(period="W", basis="hour", bonuses=[Bonus(min_accuracy=0.9, percent=10)])
    ledger.to_csv("pay-2026-w49.csv", index=False)       # or pipe.ledger(..., csv="pay.csv")

`basis="hour"`: the roster's `rate` is per active hour. Active time is read from when answers were
saved: the gaps between a worker's consecutive answers, each counted up to `idle_minutes` (a longer
gap is a break), plus `idle_minutes` / 2 for the first answer of each sitting (its reading time is
not visible). `basis="item"`: `rate` is per record answered. A bonus rule pays `percent` of the
base pay to a worker whose gold accuracy in the period (all stages with gold) is at least
`min_accuracy` over at least `min_gold` gold answers; the best rule that applies is paid.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labelbook.encoding import utc_series
from labelbook.files import staged
from labelbook.pipelines.nodes import PipelineError

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = [
    "period",
    "worker",
    "vendor",
    "records",
    "active_hours",
    "basis",
    "rate",
    "base",
    "gold_answers",
    "gold_accuracy",
    "bonus_rule",
    "bonus",
    "total",
]


@dataclass(frozen=True)
class Bonus:
    """Pay `percent` % of the base on top when gold accuracy >= `min_accuracy` (over >= `min_gold`)."""

    min_accuracy: float
    percent: float
    min_gold: int = 5

    @property
    def name(self) -> str:
        return f"+{self.percent:g}% at gold accuracy >= {self.min_accuracy:.0%}"


def active_hours(times: pd.Series, idle_minutes: float) -> float:
    """Hours of work read from answer times (see the module doc)."""
    import numpy as np

    if not len(times):
        return 0.0
    stamps = np.sort(times.to_numpy(dtype="datetime64[ns]")).astype("int64") / 60e9  # minutes
    gaps = np.diff(stamps)
    sittings = 1 + int((gaps > idle_minutes).sum())
    minutes = float(np.minimum(gaps, idle_minutes)[gaps <= idle_minutes].sum()) + sittings * idle_minutes / 2
    return minutes / 60


def ledger(
    frames: Mapping[str, pd.DataFrame],
    golds: Mapping[str, pd.DataFrame],
    roster: Iterable[Mapping[str, Any]],
    *,
    period: str = "W",
    basis: str = "hour",
    bonuses: Iterable[Bonus] = (),
    idle_minutes: float = 10.0,
) -> pd.DataFrame:
    """The ledger over the stages' tidy frames (stage → frame) and their gold answers."""
    import pandas as pd

    from labelbook.quality.gold import scored as score

    if basis not in ("hour", "item"):
        raise PipelineError(
            f"ledger: basis={basis!r}; use 'hour' (rate per active hour) or 'item' (per record)."
        )
    people = {str(r["username"]).strip(): r for r in roster}
    parts = []
    scored = []
    for stage, frame in frames.items():
        answered = frame[frame["status"] == "submitted"]
        if not len(answered):
            continue
        answered = answered.assign(stage=stage)
        parts.append(answered[["stage", "record_id", "annotator", "submitted_at"]])
        gold = golds.get(stage)
        if gold is not None and len(gold):
            with contextlib.suppress(Exception):  # a stage whose questions have no gold: nothing to score
                scored.append(score(answered, gold).assign(stage=stage))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    answers = pd.concat(parts, ignore_index=True)
    when = utc_series(answers["submitted_at"])
    answers["period"] = when.dt.tz_convert(None).dt.to_period(period).astype(str)
    answers["when"] = when
    rules = sorted(bonuses, key=lambda b: b.percent, reverse=True)
    gold_table = pd.concat(scored, ignore_index=True) if scored else None
    if gold_table is not None:
        gold_when = utc_series(gold_table["submitted_at"]).dt.tz_convert(None)
        gold_table["period"] = gold_when.dt.to_period(period).astype(str)
    rows = []
    for (span, worker), group in answers.groupby(["period", "annotator"], sort=True):
        person = people.get(str(worker), {})
        rate = float(person.get("rate") or 0)
        records = group[["stage", "record_id"]].drop_duplicates().shape[0]
        hours = active_hours(group["when"], idle_minutes)
        base = rate * (hours if basis == "hour" else records)
        n, accuracy = 0, None
        if gold_table is not None:
            mine = gold_table[(gold_table["annotator"] == worker) & (gold_table["period"] == span)]
            n = len(mine)
            accuracy = float(mine["correct"].mean()) if n else None
        rule = next(
            (b for b in rules if accuracy is not None and n >= b.min_gold and accuracy >= b.min_accuracy),
            None,
        )
        bonus = base * rule.percent / 100 if rule else 0.0
        rows.append(
            {
                "period": span,
                "worker": worker,
                "vendor": person.get("vendor") or "",
                "records": records,
                "active_hours": round(hours, 3),
                "basis": basis,
                "rate": rate,
                "base": round(base, 2),
                "gold_answers": n,
                "gold_accuracy": accuracy,
                "bonus_rule": rule.name if rule else "",
                "bonus": round(bonus, 2),
                "total": round(base + bonus, 2),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def write_csv(table: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write the ledger as CSV, atomically (a reader never sees half of it)."""
    with staged(path) as tmp:
        table.to_csv(tmp, index=False)
