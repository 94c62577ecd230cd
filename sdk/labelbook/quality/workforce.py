"""The workforce: one row per annotator (activity, agreement with the consensus, skill, gold) and,
summed over them, one row per vendor with its cost per accepted item and a verdict against a bar.

Flags need evidence: an annotator is flagged only when the gold interval's upper bound is under the
bar over at least `min_gold` gold answers, or when their Dawid–Skene skill is indistinguishable from
chance over at least `min_answers` answers. Five answers never flag anyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labelbook.encoding import utc_series
from labelbook.errors import LabelbookError
from labelbook.quality._frame import comparable, select, wilson
from labelbook.quality.aggregation import DawidSkene
from labelbook.quality.gold import scorable_questions, scored

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["annotators", "consensus_hits", "vendors"]

IDLE = "10min"


def consensus_hits(frame: pd.DataFrame, questions: list[str] | None = None) -> pd.DataFrame:
    """Each scorable answer on a record with 2+ answers: whether it matches the Dawid–Skene label,
    and the posterior of the label it gave (columns record_id, question, annotator, hit, skill, labels)."""
    import numpy as np
    import pandas as pd

    if "question" not in frame.columns:
        frame = frame.assign(question="")
        questions = [""]
    parts = []
    for question in questions if questions is not None else scorable_questions(frame):
        answers = select(frame, question, where="consensus")
        if not len(answers):
            continue
        model = DawidSkene().fit(answers, question=question)
        assert model.labels_ is not None and model.probas_ is not None
        counts = answers.groupby("record_id")["annotator"].transform("size")
        answers = answers[counts.to_numpy() >= 2]
        labels = model.labels_.reindex(answers["record_id"]).to_numpy()
        given = comparable(answers["value"]).to_numpy(dtype=object)
        hit = given == labels
        probas = model.probas_
        rows = probas.index.get_indexer(answers["record_id"])
        picked = pd.Index(probas.columns).get_indexer(given) if len(rows) else np.zeros(0, dtype=int)
        posterior = probas.to_numpy()[rows, picked] if len(rows) else np.zeros(0)
        parts.append(
            pd.DataFrame(
                {
                    "record_id": answers["record_id"].to_numpy(),
                    "question": question,
                    "annotator": answers["annotator"].to_numpy(),
                    "hit": hit,
                    "skill": posterior,
                    "labels": len(probas.columns),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["record_id", "question", "annotator", "hit", "skill", "labels"])
    return pd.concat(parts, ignore_index=True)


def _activity(frame: pd.DataFrame, idle: str) -> pd.DataFrame:
    """Per annotator: answers, items, sessions, active hours, seconds per item, items per hour."""
    import numpy as np
    import pandas as pd

    submitted = frame[frame["status"] == "submitted"] if "status" in frame.columns else frame
    answers = submitted.groupby("annotator").size().rename("answers")
    items = submitted.groupby("annotator")["record_id"].nunique().rename("items")
    out = pd.concat([answers, items], axis=1)
    out.index.name = "annotator"
    if "submitted_at" not in submitted.columns or not len(submitted):
        for column in ("sessions", "active_hours", "seconds_per_item", "items_per_hour"):
            out[column] = np.nan
        return out
    try:
        gap_limit = pd.Timedelta(idle)
    except ValueError as err:
        raise LabelbookError(f"idle={idle!r} is not a duration such as '10min' ({err}).") from err
    responses = submitted[["annotator", "record_id", "submitted_at"]].drop_duplicates(
        ["annotator", "record_id"]
    )
    # Answers sent in the same second are one submission (a bulk in the UI, a script): the time
    # before it went into all of them, not into the first alone with the rest taking no time.
    moments = utc_series(responses["submitted_at"]).dt.tz_localize(None).dt.floor("s")
    events = (
        pd.DataFrame({"annotator": responses["annotator"].to_numpy(), "moment": moments.to_numpy()})
        .groupby(["annotator", "moment"], sort=True)
        .size()
        .rename("count")
        .reset_index()
    )
    same = events["annotator"].to_numpy()[1:] == events["annotator"].to_numpy()[:-1]
    gaps = np.r_[np.nan, np.diff(events["moment"].to_numpy().astype("datetime64[ns]").astype(np.int64)) / 1e9]
    gaps[1:][~same] = np.nan
    new_session = np.isnan(gaps) | (gaps > gap_limit.total_seconds())
    counts = events["count"].to_numpy()
    work = pd.DataFrame(
        {
            "annotator": events["annotator"].to_numpy(),
            "gap": np.where(new_session, np.nan, gaps),
            "new": new_session,
            "unmeasured": np.where(new_session, counts, 0),
        }
    )
    grouped = work.groupby("annotator")
    out["sessions"] = grouped["new"].sum().astype(int)
    # Each answer of a submission took the gap before it shared among its answers; the median over answers.
    per_answer = pd.Series(
        np.repeat(work["gap"].to_numpy() / counts, counts), index=np.repeat(work["annotator"], counts)
    )
    per_item = per_answer.groupby(level=0).median()
    out["seconds_per_item"] = per_item
    # A session's first submission has no measured time: count its answers at the annotator's pace.
    seconds = grouped["gap"].sum() + grouped["unmeasured"].sum() * per_item.fillna(0)
    out["active_hours"] = seconds / 3600
    with np.errstate(divide="ignore", invalid="ignore"):
        out["items_per_hour"] = np.where(out["active_hours"] > 0, out["items"] / out["active_hours"], np.nan)
    return out


def annotators(
    frame: pd.DataFrame,
    gold: pd.DataFrame | None = None,
    *,
    bar: float = 0.8,
    idle: str = IDLE,
    min_gold: int = 20,
    min_answers: int = 30,
    ci: float = 0.95,
    questions: list[str] | None = None,
) -> pd.DataFrame:
    """One row per annotator: vendor, answers, items, sessions, active_hours, seconds_per_item,
    items_per_hour, agreement (with the consensus), skill (Dawid–Skene), gold_n, gold_accuracy,
    gold_low, gold_high, flagged and reason."""
    import numpy as np

    select(frame.iloc[:0], None, where="annotators")
    if not 0 < bar <= 1:
        raise LabelbookError(f"annotators: bar={bar!r}; give the accuracy bar as a fraction, e.g. 0.8.")
    out = _activity(frame, idle)
    if "vendor" in frame.columns:
        out.insert(0, "vendor", frame.groupby("annotator")["vendor"].first().reindex(out.index).fillna(""))
    hits = consensus_hits(frame, questions)
    by = hits.groupby("annotator")
    out["scored"] = by.size().reindex(out.index).fillna(0).astype(int)
    out["agreement"] = by["hit"].mean().reindex(out.index)
    out["skill"] = by["skill"].mean().reindex(out.index)
    chance = (1 / by["labels"].mean()).reindex(out.index)
    out["gold_n"] = 0
    out["gold_correct"] = 0
    out["gold_accuracy"] = np.nan
    out["gold_low"] = np.nan
    out["gold_high"] = np.nan
    if gold is not None:
        answers = scored(frame, gold, where="annotators", questions=questions)
        if len(answers):
            grouped = answers.groupby("annotator")["correct"]
            n = grouped.size().reindex(out.index).fillna(0).astype(int)
            correct = grouped.sum().reindex(out.index).fillna(0).astype(int)
            out["gold_n"], out["gold_correct"] = n, correct
            with np.errstate(divide="ignore", invalid="ignore"):
                out["gold_accuracy"] = np.where(n > 0, correct / n, np.nan)
            out["gold_low"], out["gold_high"] = wilson(correct, n, ci)
    flagged, reasons = [], []
    for name, row in out.iterrows():
        reason = ""
        if row["gold_n"] >= min_gold and row["gold_high"] < bar:
            reason = (
                f"gold accuracy {row['gold_accuracy']:.2f} ({row['gold_low']:.2f}–{row['gold_high']:.2f} "
                f"over {row['gold_n']} gold answers) is below the bar {bar:.2f}"
            )
        elif row["scored"] >= min_answers and not np.isnan(row["skill"]):
            _, high = wilson(row["skill"] * row["scored"], row["scored"], ci)
            if float(high) < chance[name] + 0.1:
                reason = (
                    f"answers look random: skill {row['skill']:.2f} over {row['scored']} answers, "
                    f"chance is {chance[name]:.2f}"
                )
        flagged.append(bool(reason))
        if not reason and row["gold_n"] < min_gold and row["scored"] < min_answers:
            reason = f"not enough evidence yet ({row['gold_n']} gold answers, {row['scored']} compared)"
        reasons.append(reason)
    out["flagged"] = flagged
    out["reason"] = reasons
    return out.drop(columns=["gold_correct"])


def _rates(rates: Any, names: pd.Index, vendors_of: pd.Series) -> pd.DataFrame:
    """Per annotator: rate and unit ('hour' or 'item'), from a mapping or a roster-like frame."""
    import numpy as np
    import pandas as pd

    out = pd.DataFrame({"rate": np.nan, "unit": "hour"}, index=names)
    if rates is None:
        return out
    if isinstance(rates, Mapping):
        for key, value in rates.items():
            unit = "hour"
            if isinstance(value, Mapping):
                unit = str(value.get("unit", "hour"))
                value = value.get("rate")
            mask = (names == key) | (vendors_of.reindex(names).to_numpy() == key)
            if not mask.any():
                continue
            out.loc[mask, "rate"] = float(value)
            out.loc[mask, "unit"] = unit
    elif isinstance(rates, pd.DataFrame):
        if "rate" not in rates.columns:
            raise LabelbookError(
                "vendors: the rates frame needs a 'rate' column (and username, annotator or vendor)."
            )
        who = next((c for c in ("annotator", "username", "vendor") if c in rates.columns), None)
        if who is None:
            raise LabelbookError(
                "vendors: the rates frame needs an 'annotator', 'username' or 'vendor' column."
            )
        units = rates["unit"] if "unit" in rates.columns else pd.Series("hour", index=rates.index)
        mapping = {
            key: {"rate": rate, "unit": unit}
            for key, rate, unit in zip(rates[who], rates["rate"], units, strict=True)
            if rate == rate and rate is not None and str(rate) != ""
        }
        return _rates(mapping, names, vendors_of)
    else:
        raise LabelbookError(
            "vendors: rates= takes {vendor or annotator: hourly rate} (or {'rate': r, 'unit': 'item'}), "
            "or the roster frame (username, vendor, rate)."
        )
    bad = set(out["unit"]) - {"hour", "item"}
    if bad:
        raise LabelbookError(f"vendors: rate unit {sorted(bad)}; use 'hour' or 'item'.")
    return out


_VENDOR_COLUMNS = [
    "annotators",
    "answers",
    "items",
    "active_hours",
    "items_per_hour",
    "gold_n",
    "gold_accuracy",
    "gold_low",
    "gold_high",
    "agreement",
    "cost",
    "accepted",
    "cost_per_accepted_item",
    "meets_bar",
    "reason",
]
"""The columns of `vendors`, in order."""


def vendors(
    frame: pd.DataFrame,
    gold: pd.DataFrame | None = None,
    *,
    rates: Any = None,
    bar: float = 0.85,
    idle: str = IDLE,
    ci: float = 0.95,
    questions: list[str] | None = None,
    people: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per vendor: annotators, answers, items, active_hours, items_per_hour, gold_n,
    gold_accuracy (low/high), agreement with the consensus, cost, accepted, cost_per_accepted_item,
    meets_bar and reason; best first. An accepted item is an answer that matches the consensus."""
    if "vendor" not in frame.columns:
        raise LabelbookError("vendors: the frame has no 'vendor' column; pull it with the roster published.")
    if not 0 < bar <= 1:
        raise LabelbookError(f"vendors: bar={bar!r}; give the accuracy bar as a fraction, e.g. 0.85.")
    table = people if people is not None else annotators(frame, gold, idle=idle, ci=ci, questions=questions)
    out = _vendor_totals(_annotator_work(table, rates), ci)
    verdicts = [_verdict(row, bar) for _, row in out.iterrows()]
    out["meets_bar"] = [ok for ok, _ in verdicts]
    out["reason"] = [reason for _, reason in verdicts]
    order = out["gold_accuracy"].where(out["gold_n"] > 0, out["agreement"])
    out = out.assign(_order=order).sort_values("_order", ascending=False, na_position="last")
    return out[_VENDOR_COLUMNS]


def _annotator_work(table: pd.DataFrame, rates: Any) -> pd.DataFrame:
    """Per annotator of the `annotators` table: the counts a vendor sums, and the annotator's cost."""
    import numpy as np
    import pandas as pd

    vendor_of = table["vendor"].fillna("")
    priced = _rates(rates, table.index, vendor_of)
    hours = table["active_hours"].fillna(0)
    cost = np.where(priced["unit"] == "item", priced["rate"] * table["items"], priced["rate"] * hours)
    accepted = (table["agreement"].fillna(0) * table["scored"]).round()
    return pd.DataFrame(
        {
            "vendor": vendor_of.replace("", "(none)"),
            "answers": table["answers"],
            "items": table["items"],
            "active_hours": hours,
            "gold_n": table["gold_n"],
            "gold_correct": (table["gold_accuracy"].fillna(0) * table["gold_n"]).round(),
            "scored": table["scored"],
            "accepted": accepted,
            "cost": cost,
        },
        index=table.index,
    )


def _vendor_totals(work: pd.DataFrame, ci: float) -> pd.DataFrame:
    """Per vendor: the annotators' work summed, and the rates and intervals computed from the sums."""
    import numpy as np

    grouped = work.groupby("vendor")
    summed = ["answers", "items", "active_hours", "gold_n", "gold_correct", "scored", "accepted"]
    out = grouped[summed].sum().astype(float)
    out.insert(0, "annotators", grouped.size())
    # NaN unless every annotator of the vendor has a rate: a partial sum would flatter the vendor.
    out["cost"] = grouped["cost"].apply(lambda c: c.sum() if c.notna().all() else np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["items_per_hour"] = np.where(out["active_hours"] > 0, out["items"] / out["active_hours"], np.nan)
        out["gold_accuracy"] = np.where(out["gold_n"] > 0, out["gold_correct"] / out["gold_n"], np.nan)
        out["agreement"] = np.where(out["scored"] > 0, out["accepted"] / out["scored"], np.nan)
        out["cost_per_accepted_item"] = np.where(out["accepted"] > 0, out["cost"] / out["accepted"], np.nan)
    out["gold_low"], out["gold_high"] = wilson(out["gold_correct"], out["gold_n"], ci)
    return out.astype({c: int for c in ("answers", "items", "gold_n", "scored", "accepted")})


def _verdict(row: pd.Series, bar: float) -> tuple[bool, str]:
    """Whether a vendor meets the bar, and why: by gold accuracy where it has gold answers, else by
    agreement with the consensus."""
    if row["gold_n"] > 0:
        ok = bool(row["gold_accuracy"] >= bar)
        sure = row["gold_low"] >= bar if ok else row["gold_high"] < bar
        reason = (
            f"gold accuracy {row['gold_accuracy']:.2f} ({row['gold_low']:.2f}–{row['gold_high']:.2f} "
            f"over {int(row['gold_n'])} gold answers) {'meets' if ok else 'is below'} the bar {bar:.2f}"
            + ("" if sure else "; the interval straddles the bar: collect more gold answers")
        )
        return ok, reason
    if row["scored"] > 0:
        ok = bool(row["agreement"] >= bar)
        return ok, (
            f"no gold answers: agreement with the consensus {row['agreement']:.2f} over "
            f"{int(row['scored'])} answers {'meets' if ok else 'is below'} the bar {bar:.2f}"
        )
    return False, "no gold answers and no record shared with others: nothing to judge yet"
