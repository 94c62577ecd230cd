"""Inter-annotator agreement: percent agreement, Cohen's and Fleiss' kappa, Krippendorff's alpha.

Each coefficient is a float for one question (`question=` picks it when the frame holds several),
computed from the submitted answers, one per record × annotator. Where a coefficient is undefined
(no record with two answers, every answer the same value) it is NaN and a `QualityWarning` says why.

All four are written the same way, which is what makes the bootstrap cheap: per-record
statistics (a row per record) whose column sums determine the coefficient. Resampling records
is then a matrix product of resampling counts with those rows, not a loop over resamples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labelbook.errors import LabelbookError
from labelbook.quality._frame import Coded, encode, select, undefined

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "LEVELS",
    "agreement",
    "cohen_kappa",
    "distance_matrix",
    "fleiss_kappa",
    "krippendorff_alpha",
    "percent_agreement",
]

LEVELS = ("nominal", "ordinal", "interval", "ratio", "masi", "jaccard", "kendall")
"""Krippendorff's levels of measurement, plus distances for multi-label (MASI, Jaccard) and ranking
(Kendall: the share of item pairs two rankings order differently) answers."""

MAX_CATEGORIES = 5000


# --- distances ---------------------------------------------------------------------------------


def _as_set(value: Any) -> frozenset[Any]:
    return frozenset(value) if isinstance(value, tuple) else frozenset([value])


def _masi(a: Any, b: Any) -> float:
    x, y = _as_set(a), _as_set(b)
    if x == y:
        return 0.0
    union = x | y
    jaccard = len(x & y) / len(union)
    monotonicity = 2 / 3 if (x <= y or y <= x) else (1 / 3 if x & y else 0.0)
    return 1.0 - jaccard * monotonicity


def _jaccard(a: Any, b: Any) -> float:
    x, y = _as_set(a), _as_set(b)
    union = x | y
    return 0.0 if not union else 1.0 - len(x & y) / len(union)


def _kendall(a: Any, b: Any) -> float:
    x = list(a) if isinstance(a, tuple) else [a]
    y = list(b) if isinstance(b, tuple) else [b]
    items = list(dict.fromkeys(x + y))
    if len(items) < 2:
        return 0.0
    # Items a ranking leaves out share its last place.
    rx = {item: x.index(item) if item in x else len(x) for item in items}
    ry = {item: y.index(item) if item in y else len(y) for item in items}
    discordant = pairs = 0
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            p, q = items[i], items[j]
            pairs += 1
            if (rx[p] - rx[q]) * (ry[p] - ry[q]) < 0:
                discordant += 1
    return discordant / pairs


_SET_DISTANCES: dict[str, Callable[[Any, Any], float]] = {
    "masi": _masi,
    "jaccard": _jaccard,
    "kendall": _kendall,
}


def distance_matrix(
    categories: Sequence[Any], level: str | Callable[[Any, Any], float], counts: np.ndarray | None = None
) -> np.ndarray:
    """δ between every two categories (squared differences for the metric levels, as Krippendorff).

    `categories` must be sorted for ordinal, interval and ratio; `counts` (how often each value is
    pairable) is needed for ordinal, whose distance depends on how the values are used.
    """
    import numpy as np

    c = len(categories)
    if callable(level):
        return np.array([[float(level(a, b)) for b in categories] for a in categories])
    if level == "nominal":
        return 1.0 - np.eye(c)
    if level in _SET_DISTANCES:
        distance = _SET_DISTANCES[level]
        out = np.zeros((c, c))
        for i in range(c):
            for j in range(i + 1, c):
                out[i, j] = out[j, i] = distance(categories[i], categories[j])
        return out
    values = np.asarray(categories, dtype=float)
    if level == "interval":
        return (values[:, None] - values[None, :]) ** 2
    if level == "ratio":
        total = values[:, None] + values[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = ((values[:, None] - values[None, :]) / total) ** 2
        return np.nan_to_num(out, nan=0.0)
    if level == "ordinal":
        if counts is None:
            raise ValueError("ordinal distances need the value counts")
        cumulative = np.concatenate([[0.0], np.cumsum(counts)])
        low = np.minimum.outer(np.arange(c), np.arange(c))
        high = np.maximum.outer(np.arange(c), np.arange(c))
        between = cumulative[high + 1] - cumulative[low]
        return (between - (counts[:, None] + counts[None, :]) / 2) ** 2 * (1 - np.eye(c))
    raise LabelbookError(f"level={level!r} is not known; use one of {', '.join(LEVELS)} or a function(a, b).")


# --- per-record statistics ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Stats:
    """Rows: records with two or more answers; `value(sums)` turns column sums (B × k) into B coefficients."""

    rows: np.ndarray
    value: Callable[[np.ndarray], np.ndarray]


def _counts(coded: Coded) -> tuple[np.ndarray, np.ndarray]:
    """Records × categories answer counts, for the records with at least two answers, and their sizes."""
    import numpy as np

    n_items, n_cats = len(coded.records), len(coded.categories)
    if n_items * n_cats > 50_000_000:
        raise LabelbookError(
            f"{n_cats} distinct answers over {n_items} records is too many to tabulate; "
            "use level='interval' for continuous numbers or round them first."
        )
    table = np.bincount(coded.items * n_cats + coded.codes, minlength=n_items * n_cats)
    table = table.reshape(n_items, n_cats).astype(float)
    sizes = table.sum(axis=1)
    keep = sizes >= 2
    return table[keep], sizes[keep]


def _pairwise_rows(table: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per record: the share of its ordered answer pairs that agree."""
    return ((table**2).sum(axis=1) - sizes) / (sizes * (sizes - 1))


def _percent_stats(coded: Coded) -> _Stats:
    import numpy as np

    table, sizes = _counts(coded)
    rows = np.column_stack([_pairwise_rows(table, sizes), np.ones(len(sizes))])

    def value(sums: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            out: np.ndarray = sums[:, 0] / sums[:, 1]
        return out

    return _Stats(rows, value)


def _fleiss_stats(coded: Coded) -> _Stats:
    import numpy as np

    table, sizes = _counts(coded)
    rows = np.column_stack([_pairwise_rows(table, sizes), np.ones(len(sizes)), table])

    def value(sums: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            observed = sums[:, 0] / sums[:, 1]
            shares = sums[:, 2:] / sums[:, 2:].sum(axis=1, keepdims=True)
            chance = (shares**2).sum(axis=1)
            out: np.ndarray = np.where(chance < 1 - 1e-12, (observed - chance) / (1 - chance), np.nan)
        return out

    return _Stats(rows, value)


def _alpha_stats(coded: Coded, level: str | Callable[[Any, Any], float]) -> _Stats:
    import numpy as np

    if level in ("ordinal", "interval", "ratio") and coded.kind != "number":
        raise LabelbookError(
            f"level={level!r} needs numeric answers (ratings); these are {coded.kind}s. "
            "Use level='nominal' for labels, 'masi' or 'jaccard' for multi-label, 'kendall' for rankings."
        )
    if level == "ratio" and coded.size and min(coded.categories) < 0:
        raise LabelbookError("level='ratio' needs answers >= 0 (a ratio scale has a true zero).")
    if level == "interval" and len(coded.categories) > MAX_CATEGORIES:
        return _interval_stats(coded)
    table, sizes = _counts(coded)
    delta = distance_matrix(coded.categories, level, counts=table.sum(axis=0))
    within = ((table @ delta) * table).sum(axis=1) / (sizes - 1)
    rows = np.column_stack([within, table])

    def value(sums: np.ndarray) -> np.ndarray:
        counts = sums[:, 1:]
        n = counts.sum(axis=1)
        expected = np.einsum("bc,cd,bd->b", counts, delta, counts)
        with np.errstate(divide="ignore", invalid="ignore"):
            out: np.ndarray = np.where(expected > 1e-12, 1 - (n - 1) * sums[:, 0] / expected, np.nan)
        return out

    return _Stats(rows, value)


def _interval_stats(coded: Coded) -> _Stats:
    """Interval alpha without a category table: sums of squares (for many distinct numbers)."""
    import numpy as np

    x = np.asarray(coded.categories, dtype=float)[coded.codes]
    n_items = len(coded.records)
    m = np.bincount(coded.items, minlength=n_items).astype(float)
    s1 = np.bincount(coded.items, weights=x, minlength=n_items)
    s2 = np.bincount(coded.items, weights=x * x, minlength=n_items)
    keep = m >= 2
    m, s1, s2 = m[keep], s1[keep], s2[keep]
    within = 2 * m * (s2 - s1 * s1 / m) / (m - 1)
    rows = np.column_stack([within, m, s1, s2])

    def value(sums: np.ndarray) -> np.ndarray:
        n = sums[:, 1]
        expected = 2 * (n * sums[:, 3] - sums[:, 2] ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            out: np.ndarray = np.where(expected > 1e-12, 1 - (n - 1) * sums[:, 0] / expected, np.nan)
        return out

    return _Stats(rows, value)


def _resampled_sums(rows: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Column sums of `n_boot` resamples of the rows (with replacement), as B × k."""
    import numpy as np

    n = rows.shape[0]
    if n == 0:
        return np.zeros((n_boot, rows.shape[1]))
    chunk = max(1, 4_000_000 // n)
    out = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        picks = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        weights = np.bincount(picks.ravel(), minlength=b * n).reshape(b, n).astype(float)
        out.append(weights @ rows)
    return np.vstack(out)


def _point(stats: _Stats) -> float:
    return float(stats.value(stats.rows.sum(axis=0)[None, :])[0])


# --- public coefficients -----------------------------------------------------------------------


def _coded(frame: pd.DataFrame, question: str | None, where: str) -> Coded:
    return encode(select(frame, question, where=where, raw=True), where=where)


def _why_undefined(stats: _Stats, coded: Coded) -> str:
    if coded.size == 0:
        return "there are no submitted answers"
    if stats.rows.shape[0] == 0:
        return "no record has two or more answers to compare"
    return "every answer is the same value, so there is no disagreement to expect (agreement is trivial)"


def percent_agreement(frame: pd.DataFrame, *, question: str | None = None) -> float:
    """The share of answer pairs on the same record that agree, averaged over records with 2+ answers."""
    coded = _coded(frame, question, "percent_agreement")
    stats = _percent_stats(coded)
    result = _point(stats)
    return undefined("percent agreement", _why_undefined(stats, coded)) if math.isnan(result) else result


def fleiss_kappa(frame: pd.DataFrame, *, question: str | None = None) -> float:
    """Fleiss' kappa (1971): agreement beyond chance for any number of annotators per record."""
    coded = _coded(frame, question, "fleiss_kappa")
    stats = _fleiss_stats(coded)
    result = _point(stats)
    return undefined("Fleiss' kappa", _why_undefined(stats, coded)) if math.isnan(result) else result


def krippendorff_alpha(
    frame: pd.DataFrame,
    *,
    level: str | Callable[[Any, Any], float] = "nominal",
    question: str | None = None,
) -> float:
    """Krippendorff's alpha (2011) at a level of measurement: nominal, ordinal, interval, ratio; for
    multi-label answers 'masi' or 'jaccard', for rankings 'kendall'; or a distance function(a, b)."""
    if not callable(level) and level not in LEVELS:
        raise LabelbookError(
            f"level={level!r} is not known; use one of {', '.join(LEVELS)} or a function(a, b)."
        )
    coded = _coded(frame, question, "krippendorff_alpha")
    stats = _alpha_stats(coded, level)
    result = _point(stats)
    return undefined("Krippendorff's alpha", _why_undefined(stats, coded)) if math.isnan(result) else result


def cohen_kappa(
    frame: pd.DataFrame,
    *,
    question: str | None = None,
    weights: str | None = None,
    annotators: Sequence[str] | None = None,
    labels: Sequence[Any] | None = None,
) -> float:
    """Cohen's kappa between exactly two annotators on the records both answered.

    `weights`: None (any disagreement counts fully), 'linear' or 'quadratic' (disagreements count by
    distance on the ordered scale: numbers in order, or `labels` in the order given).
    `annotators`: the two to compare when the frame holds more.
    """
    import numpy as np
    import pandas as pd

    where = "cohen_kappa"
    if weights not in (None, "linear", "quadratic"):
        raise LabelbookError(f"{where}: weights={weights!r}; use None, 'linear' or 'quadratic'.")
    answers = select(frame, question, where=where)
    if annotators is not None:
        pair = list(annotators)
        if len(pair) != 2:
            raise LabelbookError(f"{where}: annotators= takes exactly two names, got {pair}.")
        absent = [a for a in pair if a not in set(pd.unique(answers["annotator"]))]
        if absent:
            raise LabelbookError(f"{where}: no submitted answers from {', '.join(absent)}.")
        answers = answers[answers["annotator"].isin(pair)]
    coded = encode(answers, where=where, order=labels)
    if len(coded.annotators) != 2:
        raise LabelbookError(
            f"{where}: Cohen's kappa compares exactly two annotators; these answers come from "
            f"{len(coded.annotators)}. Pass annotators=(a, b), or use fleiss_kappa or krippendorff_alpha."
        )
    if weights is not None and coded.kind == "label" and labels is None:
        raise LabelbookError(
            f"{where}: weights={weights!r} needs the labels' order: pass labels=[...] from low to high."
        )
    if coded.kind == "list" and weights is not None:
        raise LabelbookError(f"{where}: weights apply to ordered scales, not to lists.")
    n_cats = len(coded.categories)
    first = np.full(len(coded.records), -1)
    second = np.full(len(coded.records), -1)
    mask = coded.coders == 0
    first[coded.items[mask]] = coded.codes[mask]
    second[coded.items[~mask]] = coded.codes[~mask]
    both = (first >= 0) & (second >= 0)
    if not both.any():
        return undefined("Cohen's kappa", "the two annotators answered no record in common")
    cell = first[both] * n_cats + second[both]
    table = np.bincount(cell, minlength=n_cats * n_cats).reshape(n_cats, n_cats).astype(float)
    if weights is None:
        w = 1.0 - np.eye(n_cats)
    else:
        positions = (
            np.asarray(coded.categories, dtype=float)
            if coded.kind == "number"
            else np.arange(n_cats, dtype=float)
        )
        spread = positions.max() - positions.min() if n_cats > 1 else 1.0
        gap = np.abs(positions[:, None] - positions[None, :]) / (spread or 1.0)
        w = gap if weights == "linear" else gap**2
    observed = table / table.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    chance = float((w * expected).sum())
    if chance <= 1e-12:
        return undefined("Cohen's kappa", "both annotators gave one and the same value throughout")
    return 1.0 - float((w * observed).sum()) / chance


# --- the table ---------------------------------------------------------------------------------


def _infer_level(coded: Coded) -> str:
    return {"label": "nominal", "number": "ordinal", "list": "masi"}[coded.kind]


_COEFFICIENTS = ("percent_agreement", "fleiss_kappa", "krippendorff_alpha")


def agreement(
    frame: pd.DataFrame,
    *,
    by: Sequence[str] = ("question",),
    questions: Sequence[str] | None = None,
    ci: float | None = 0.95,
    level: str | Mapping[str, str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Agreement per group: percent agreement, Fleiss' kappa and Krippendorff's alpha with bootstrap
    intervals (records resampled), and the records, answers and annotators counted.

    `by`: columns to group on; 'question' is always among them when the frame has it (coefficients
    never mix questions); `questions`: which ones (default: every question whose answers are
    categories, so free-text questions are left out). `level`: one level for every question, or
    question → level; by default labels are nominal, numbers ordinal, lists MASI. NaN where a
    coefficient is undefined (fewer than two answers per record, one value only); no warning here,
    read the counts beside it.
    """
    import numpy as np
    import pandas as pd

    where = "agreement"
    select(frame.iloc[:0], None, where=where)  # the columns, checked before anything else
    keys = _group_keys(frame, by, where)
    if ci is not None and not 0 < ci < 1:
        raise LabelbookError(
            f"{where}: ci={ci!r}; give the confidence level as a fraction, e.g. 0.95, or None."
        )
    columns = [*keys, "items", "answers", "annotators", "level"]
    for name in _COEFFICIENTS:
        columns += [name, f"{name}_low", f"{name}_high"]
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for key, part in _groups(frame, keys, questions, where):
        asked = key[0] if "question" in frame.columns else None
        coded = encode(part, where=f"{where} ({asked})" if asked else where)
        wanted: str | None = level.get(str(asked)) if isinstance(level, Mapping) else level
        chosen_level: str = wanted or _infer_level(coded)
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row.update(
            items=len(coded.records),
            answers=coded.size,
            annotators=len(coded.annotators),
            level=chosen_level,
        )
        row.update(_coefficients(coded, chosen_level, ci=ci, n_boot=n_boot, rng=rng))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _group_keys(frame: pd.DataFrame, by: Sequence[str], where: str) -> list[str]:
    """The columns to group on: `by` without repeats, led by 'question' when the frame has it."""
    keys = list(dict.fromkeys(by))
    if "question" in frame.columns and "question" not in keys:
        keys.insert(0, "question")
    elif "question" not in frame.columns and "question" in keys:
        keys.remove("question")  # a frame of one question's answers
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise LabelbookError(
            f"{where}: by= names column(s) the frame lacks: {', '.join(map(repr, missing))}; "
            f"columns: {', '.join(map(str, frame.columns))}."
        )
    return keys


def _groups(
    frame: pd.DataFrame, keys: list[str], questions: Sequence[str] | None, where: str
) -> list[tuple[tuple[Any, ...], pd.DataFrame]]:
    """The answers split by `keys` (question first, when the frame has questions), each with its key."""
    if "question" not in frame.columns:
        base = select(frame, None, where=where)
        if not keys:
            return [((), base)]
        return [
            ((key if isinstance(key, tuple) else (key,)), part)
            for key, part in base.groupby(keys, dropna=False, sort=True)
        ]
    from labelbook.quality.gold import scorable_questions

    groups: list[tuple[tuple[Any, ...], pd.DataFrame]] = []
    chosen_questions = list(questions) if questions is not None else scorable_questions(frame)
    for question in chosen_questions:
        chosen = select(frame, question, where=where, raw=True)
        if keys[1:]:
            for key, part in chosen.groupby(keys[1:], dropna=False, sort=True):
                groups.append(((question, *(key if isinstance(key, tuple) else (key,))), part))
        else:
            groups.append(((question,), chosen))
    return groups


def _coefficients(
    coded: Coded, level: str, *, ci: float | None, n_boot: int, rng: np.random.Generator
) -> dict[str, float]:
    """The three coefficients of one group, each with its bootstrap interval (NaN without `ci`).

    One resampling serves all three: their per-record rows side by side, resampled together."""
    import numpy as np

    all_stats = [_percent_stats(coded), _fleiss_stats(coded), _alpha_stats(coded, level)]
    rows_matrix = np.column_stack([s.rows for s in all_stats])
    sums = rows_matrix.sum(axis=0)[None, :]
    resampled = None
    if ci is not None and len(rows_matrix):
        resampled = _resampled_sums(rows_matrix, n_boot, rng)
    out: dict[str, float] = {}
    start = 0
    for name, stats in zip(_COEFFICIENTS, all_stats, strict=True):
        width = stats.rows.shape[1]
        point = float(stats.value(sums[:, start : start + width])[0])
        low = high = math.nan
        if ci is not None and resampled is not None and not math.isnan(point):
            draws = stats.value(resampled[:, start : start + width])
            draws = draws[~np.isnan(draws)]
            if len(draws):
                low, high = (float(v) for v in np.quantile(draws, [(1 - ci) / 2, (1 + ci) / 2]))
        out.update({name: point, f"{name}_low": low, f"{name}_high": high})
        start += width
    return out
