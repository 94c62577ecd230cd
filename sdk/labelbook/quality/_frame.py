"""Reading the tidy frame for the quality functions: checks with clear errors, one question, codes.

Every public function of `labelbook.quality` goes through `select` (columns, status, question,
one answer per record × annotator) and, for categorical work, `encode` (integer codes for records,
annotators and values), so bad input fails here with a `LabelbookError` that says what to fix,
never later inside numpy or pandas.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from labelbook.errors import LabelbookError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "Coded",
    "QualityWarning",
    "comparable",
    "distinct",
    "encode",
    "hashable",
    "select",
    "undefined",
    "wilson",
]

REQUIRED = ("record_id", "annotator", "value")


class QualityWarning(UserWarning):
    """A coefficient is undefined for these answers (NaN is returned); the message says why."""


def undefined(what: str, why: str) -> float:
    """Warn that `what` is undefined because `why`, and return NaN."""
    warnings.warn(f"{what} is undefined: {why}; returning NaN.", QualityWarning, stacklevel=3)
    return math.nan


def hashable(value: Any) -> Any:
    """Lists (multi-label, ranking answers) as tuples, so they can be counted and compared."""
    if isinstance(value, list | tuple):
        return tuple(hashable(v) for v in value)
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):  # numpy arrays from parquet
        converted = value.tolist()
        return tuple(hashable(v) for v in converted) if isinstance(converted, list) else converted
    return value


def distinct(values: pd.Series) -> list[Any]:
    """The distinct answers (lists as tuples), without a Python call per answer when none is a list."""
    import pandas as pd

    try:
        found = pd.unique(values[values.notna()])
    except TypeError:  # unhashable lists
        return list(dict.fromkeys(hashable(v) for v in values if v is not None))
    return [hashable(v) for v in found]


def comparable(values: pd.Series) -> pd.Series:
    """The answers as values that compare and hash: lists become tuples (others kept as they are)."""
    import pandas as pd

    try:
        pd.unique(values)
    except TypeError:
        return pd.Series([hashable(v) for v in values], index=values.index, dtype=object)
    return values


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "label"
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        return "list"
    return type(value).__name__


def select(
    frame: pd.DataFrame,
    question: str | None = None,
    *,
    where: str,
    submitted_only: bool = True,
    required: Sequence[str] = REQUIRED,
    raw: bool = False,
) -> pd.DataFrame:
    """The submitted answers to one question, one per record × annotator (the last saved wins).

    `raw=True` leaves empty answers and repeated answers in: `encode` drops them faster, from codes.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise LabelbookError(
            f"{where}: expected the tidy annotation frame (a pandas DataFrame from project.annotations()), "
            f"got {type(frame).__name__}."
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise LabelbookError(
            f"{where}: the frame has no column {', '.join(repr(c) for c in missing)}; pass the tidy frame "
            f"of project.annotations() (record_id, annotator, question, value, status, ...)."
        )
    out = frame
    # Each filter copies every column: skipped when it would keep every row.
    if submitted_only and "status" in out.columns:
        submitted = (out["status"] == "submitted").to_numpy()
        if not submitted.all():
            out = out[submitted]
    if "question" in out.columns:
        questions = list(pd.unique(out["question"]))
        if question is None and len(questions) > 1:
            raise LabelbookError(
                f"{where}: the frame holds answers to {len(questions)} questions "
                f"({', '.join(map(str, questions))}); pick one with question=."
            )
        if question is not None:
            if question not in questions and len(out):
                raise LabelbookError(
                    f"{where}: no submitted answers to question {question!r}; "
                    f"questions answered: {', '.join(map(str, questions)) or 'none'}."
                )
            if len(questions) > 1:
                out = out[(out["question"] == question).to_numpy()]
    elif question is not None:
        raise LabelbookError(f"{where}: question={question!r} given but the frame has no 'question' column.")
    if raw:
        return out
    if "value" in out.columns:
        present = out["value"].notna().to_numpy()
        if not present.all():
            out = out[present]
    keys = ["record_id", "annotator"]
    if all(k in out.columns for k in keys) and len(out):
        twice = out.duplicated(keys, keep=False)
        if twice.any():
            if "submitted_at" in out.columns:
                out = out.sort_values("submitted_at", kind="stable")
            out = out.drop_duplicates(keys, keep="last")
    return out


@dataclass(frozen=True)
class Coded:
    """One question's answers as integer codes (row i is one answer)."""

    kind: str
    """'label' (text), 'number' or 'list' (multi-label or ranking; compared as tuples)."""
    items: np.ndarray
    """Record code of each answer (index into `records`)."""
    coders: np.ndarray
    """Annotator code of each answer (index into `annotators`)."""
    codes: np.ndarray
    """Value code of each answer (index into `categories`)."""
    records: pd.Index
    """Record ids by code."""
    annotators: pd.Index
    """Annotator names by code."""
    categories: list[Any]
    """Distinct values by code: sorted numbers, sorted labels, or tuples."""

    @property
    def size(self) -> int:
        """How many answers."""
        return len(self.codes)


def _last_answers(answers: pd.DataFrame, items: np.ndarray, coders: np.ndarray) -> np.ndarray | None:
    """Rows to keep so each record × annotator keeps its last saved answer; None when none repeats."""
    import numpy as np

    key = items * (int(coders.max(initial=0)) + 1) + coders
    ordered = np.sort(key)  # a sort beats np.unique's hashing here by 10x
    if not (ordered[1:] == ordered[:-1]).any():
        return None
    order = np.arange(len(key))
    if "submitted_at" in answers.columns:
        order = np.argsort(answers["submitted_at"].to_numpy(), kind="stable")
    last = {k: i for k, i in zip(key[order].tolist(), order.tolist(), strict=True)}
    return np.sort(np.fromiter(last.values(), dtype=np.int64))


def encode(answers: pd.DataFrame, *, where: str, order: Sequence[Any] | None = None) -> Coded:
    """Integer codes for the selected answers (empty answers dropped, the last of repeated answers
    kept); mixed answer types are an error that names them."""
    import numpy as np
    import pandas as pd

    values = answers["value"]
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # lists (multi-label, ranking) are not hashable: compare them as tuples
        values = pd.Series([hashable(v) for v in values], index=values.index, dtype=object)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    present = codes >= 0
    if not present.all():
        answers, values, codes = answers[present], values[present], codes[present]
    kinds = {_kind(v) for v in uniques}
    if "flag" in kinds:  # True/False answers are two labels
        kinds = (kinds - {"flag"}) | {"label"}
        uniques = pd.Index([str(v).lower() if isinstance(v, bool) else v for v in uniques], dtype=object)
    if len(kinds) > 1:
        examples = {_kind(v) if _kind(v) != "flag" else "label": v for v in uniques}
        shown = ", ".join(f"{k} ({examples[k]!r})" for k in sorted(kinds))
        raise LabelbookError(
            f"{where}: the answers mix types: {shown}. One question's answers must all be labels, all "
            "numbers or all lists; clean the frame or pick one question with question=."
        )
    kind = kinds.pop() if kinds else "label"
    if kind not in ("label", "number", "list"):
        raise LabelbookError(
            f"{where}: answers of type {kind} cannot be compared; expected labels, numbers or lists."
        )
    categories: list[Any] = [hashable(v) for v in uniques]
    if kind == "number":
        numbers = np.asarray(categories, dtype=float)
        if not np.isfinite(numbers).all():
            raise LabelbookError(f"{where}: some numeric answers are not finite numbers.")
        # Equal numbers written differently (1 and 1.0) are one value; sorted for ordinal distances.
        sorted_values, inverse = np.unique(numbers, return_inverse=True)
        codes = inverse[codes]
        categories = [float(v) for v in sorted_values]
    elif kind == "label":
        ranks = np.argsort(np.argsort(np.array(categories, dtype=object)))
        codes = ranks[codes]
        categories = sorted(categories)
    if order is not None:
        known = [hashable(v) for v in order]
        unknown = [c for c in categories if c not in known]
        if unknown:
            raise LabelbookError(
                f"{where}: answers {', '.join(map(repr, unknown[:5]))} are not among the labels given "
                f"({', '.join(map(repr, known))}); fix the answers or add the labels."
            )
        position = {c: i for i, c in enumerate(known)}
        remap = np.array([position[c] for c in categories], dtype=np.int64)
        codes = remap[codes] if len(codes) else codes
        categories = known
    items, records = pd.factorize(answers["record_id"])
    coders, annotators = pd.factorize(answers["annotator"])
    items = np.asarray(items, dtype=np.int64)
    coders = np.asarray(coders, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    keep = _last_answers(answers, items, coders)
    if keep is not None:
        items, coders, codes = items[keep], coders[keep], codes[keep]
    return Coded(kind, items, coders, codes, pd.Index(records), pd.Index(annotators), categories)


def wilson(correct: Any, n: Any, ci: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval for a proportion correct/n (NaN where n is 0); arrays welcome."""
    import numpy as np

    if not 0 < ci < 1:
        raise LabelbookError(f"ci={ci!r}: give the confidence level as a fraction, e.g. 0.95.")
    z = NormalDist().inv_cdf(0.5 + ci / 2)
    k = np.asarray(correct, dtype=float)
    m = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        centre = (p + z * z / (2 * m)) / (1 + z * z / m)
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
        low = np.where(m > 0, np.clip(centre - half, 0, 1), np.nan)
        high = np.where(m > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high
