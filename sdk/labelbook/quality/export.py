"""Training data from the answers: consensus labels with their confidence, and preference pairs.

quality.consensus(frame)                          # record_id, question, value, confidence, n_answers, release
quality.preference_pairs(frame, "ranking")        # record_id, chosen, rejected, margin, n_answers, release
quality.preference_pairs(frame, "score", group="metadata.prompt_id")   # from ratings of records
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labelbook.errors import LabelbookError
from labelbook.quality._frame import encode, hashable, select
from labelbook.quality.aggregation import DawidSkene, MajorityVote
from labelbook.quality.gold import scorable_questions

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["METHODS", "consensus", "preference_pairs"]

METHODS = ("dawid-skene", "majority", "mean", "median")
"""How `consensus` settles a record: Dawid–Skene posteriors, a plain vote, or (numbers) the mean or median."""


def _release_of(answers: pd.DataFrame) -> pd.Series:
    """Per record: the release its latest answer was made under (None without a release column)."""
    import pandas as pd

    if "release" not in answers.columns:
        return pd.Series(dtype=object)
    ordered = answers.sort_values("submitted_at", kind="stable") if "submitted_at" in answers else answers
    return ordered.groupby("record_id", sort=False)["release"].last()


def _unhash(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def consensus(
    frame: pd.DataFrame,
    *,
    method: str = "dawid-skene",
    question: str | None = None,
    gold: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One settled answer per record and question: record_id, question, value, confidence (posterior,
    vote share, or for numbers 1 - normalised spread), n_answers, release."""
    import numpy as np
    import pandas as pd

    if method not in METHODS:
        raise LabelbookError(f"consensus: method={method!r}; use one of {', '.join(METHODS)}.")
    select(frame.iloc[:0], None, where="consensus")
    has_question = "question" in frame.columns
    questions: list[str | None] = (
        [question] if question is not None or not has_question else list(scorable_questions(frame))
    )
    columns = ["record_id", "question", "value", "confidence", "n_answers", "release"]
    parts = []
    for asked in questions:
        answers = select(frame, asked, where="consensus")
        if not len(answers):
            continue
        counts = answers.groupby("record_id", sort=False).size()
        coded = encode(answers, where="consensus")
        if method in ("mean", "median"):
            if coded.kind != "number":
                raise LabelbookError(
                    f"consensus: method={method!r} needs numeric answers; {asked!r} has labels."
                )
            values = pd.Series(np.asarray(coded.categories, dtype=float)[coded.codes])
            grouped = values.groupby(coded.records[coded.items])
            centre = grouped.mean() if method == "mean" else grouped.median()
            spread = grouped.std(ddof=0).fillna(0)
            width = (max(coded.categories) - min(coded.categories)) or 1.0
            value, confidence = centre, 1 - (spread / width).clip(0, 1)
        else:
            model = (
                DawidSkene(gold=gold).fit(answers, question=asked)
                if method == "dawid-skene"
                else MajorityVote().fit(answers, question=asked)
            )
            assert model.labels_ is not None and model.probas_ is not None
            value = model.labels_.map(_unhash)
            confidence = model.probas_.max(axis=1)
        part = pd.DataFrame({"value": value, "confidence": confidence})
        part.index.name = "record_id"
        part = part.reset_index()
        part.insert(1, "question", asked)
        part["n_answers"] = counts.reindex(part["record_id"]).to_numpy()
        part["release"] = (
            _release_of(answers).reindex(part["record_id"]).to_numpy() if "release" in answers else None
        )
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    out["value"] = out["value"].astype(object)
    return out


def preference_pairs(
    frame: pd.DataFrame, question: str, *, group: str | None = None, min_margin: float = 0.0
) -> pd.DataFrame:
    """Chosen/rejected pairs for preference training.

    From a ranking question (answers are lists, best first): for each record, every two options the
    annotators ordered, `chosen` the one most of them put first; `margin` = the share of votes for
    it minus one half, so 0.5 is unanimous. From a rating question: records of the same `group`
    (a column such as 'metadata.prompt_id') compared by their mean rating; `margin` = the difference.
    Ties are left out. Columns: record_id (or the group), chosen, rejected, margin, n_answers, release.
    """
    import numpy as np
    import pandas as pd

    where = "preference_pairs"
    answers = select(frame, question, where=where)
    columns = ["record_id", "chosen", "rejected", "margin", "n_answers", "release"]
    if not len(answers):
        return pd.DataFrame(columns=columns)
    coded = encode(answers, where=where)
    releases = _release_of(answers)
    if coded.kind == "list":
        rows: dict[tuple[Any, Any, Any], list[int]] = {}
        for record_id, value in zip(answers["record_id"], answers["value"], strict=True):
            ranking = list(hashable(value))
            for i, better in enumerate(ranking):
                for worse in ranking[i + 1 :]:
                    a, b = sorted((better, worse), key=repr)
                    votes = rows.setdefault((record_id, a, b), [0, 0])
                    votes[0 if better == a else 1] += 1
        counts = answers.groupby("record_id").size()
        out = []
        for (record_id, a, b), (for_a, for_b) in rows.items():
            if for_a == for_b:
                continue
            chosen, rejected, won = (a, b, for_a) if for_a > for_b else (b, a, for_b)
            margin = won / (for_a + for_b) - 0.5
            if margin >= min_margin:
                out.append(
                    (record_id, chosen, rejected, margin, int(counts[record_id]), releases.get(record_id))
                )
        return pd.DataFrame(out, columns=columns)
    if coded.kind == "number":
        if group is None:
            raise LabelbookError(
                f"{where}: {question!r} holds ratings: pass group= the column that says which records "
                "answer the same prompt (e.g. group='metadata.prompt_id'), so their ratings can be compared."
            )
        if group not in answers.columns:
            raise LabelbookError(
                f"{where}: group={group!r} is not a column of the frame; pull with --metadata or --fields."
            )
        means = (
            answers.assign(score=np.asarray(coded.categories, dtype=float)[coded.codes])
            .groupby([group, "record_id"])
            .agg(score=("score", "mean"), n=("score", "size"))
            .reset_index()
        )
        out = []
        for key, part in means.groupby(group, sort=False):
            part = part.sort_values("score", ascending=False)
            records = part.to_dict("records")
            for i, high in enumerate(records):
                for low in records[i + 1 :]:
                    margin = float(high["score"] - low["score"])
                    if margin > 0 and margin >= min_margin:
                        out.append(
                            (
                                key,
                                high["record_id"],
                                low["record_id"],
                                margin,
                                int(high["n"] + low["n"]),
                                releases.get(high["record_id"]),
                            )
                        )
        return pd.DataFrame(out, columns=[group, *columns[1:]])
    raise LabelbookError(
        f"{where}: {question!r} holds labels; preference pairs come from ranking (lists) or rating answers."
    )
