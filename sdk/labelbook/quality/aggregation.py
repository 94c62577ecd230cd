"""Aggregation, crowd-kit's convention: `fit(frame)` / `fit_predict(frame)`, fitted attributes end in `_`.

    mv = quality.MajorityVote().fit(frame)          # labels_, probas_, ties_, skills_
    ds = quality.DawidSkene(n_iter=100).fit(frame)  # labels_, probas_, priors_, skills_, errors_
    quality.aggregate_numeric(frame)               # ratings: mean, median, dispersion per record

Dawid–Skene (1979) is written here in vectorised numpy rather than taken from crowd-kit, whose
install pulls transformers (~775 MB): answers sorted by record once, so each EM step is a few
`bincount` and `reduceat` calls over the answers, never a Python loop over records or annotators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labelbook.errors import LabelbookError
from labelbook.quality._frame import Coded, encode, hashable, select

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["DawidSkene", "MajorityVote", "aggregate_numeric"]


def _vote_table(coded: Coded) -> np.ndarray:
    import numpy as np

    n_items, n_cats = len(coded.records), len(coded.categories)
    table = np.bincount(coded.items * n_cats + coded.codes, minlength=n_items * n_cats)
    return table.reshape(n_items, n_cats).astype(float)


class MajorityVote:
    """The most frequent answer per record; ties are explicit (`labels_` is None there, `ties_` lists them).

    `on_tie="none"` (default) leaves tied records unlabelled; `"first"` takes the first tied value in
    sorted order (deterministic, but hides the tie — `ties_` still lists them).
    """

    def __init__(self, *, on_tie: str = "none") -> None:
        if on_tie not in ("none", "first"):
            raise LabelbookError(f"MajorityVote(on_tie={on_tie!r}): use 'none' or 'first'.")
        self.on_tie = on_tie
        self.labels_: pd.Series | None = None
        """The winning value per record_id (None where tied and on_tie='none')."""
        self.probas_: pd.DataFrame | None = None
        """Vote shares: record_id × value."""
        self.ties_: pd.Series | None = None
        """record_id → the tied values, for tied records only."""
        self.skills_: pd.Series | None = None
        """Per annotator: the share of their answers that match the label (tied records left out)."""

    def fit(self, frame: pd.DataFrame, *, question: str | None = None) -> MajorityVote:
        """Count the answers (submitted only, one question)."""
        import numpy as np
        import pandas as pd

        coded = encode(select(frame, question, where="MajorityVote", raw=True), where="MajorityVote")
        categories = list(coded.categories)
        table = _vote_table(coded)
        top = table.max(axis=1, initial=0)
        tied = (table == top[:, None]).sum(axis=1) > 1
        winner = table.argmax(axis=1) if len(table) else np.zeros(0, dtype=int)
        labels = np.array([categories[i] for i in winner] if len(categories) else [], dtype=object)
        if self.on_tie == "none":
            labels[tied] = None
        index = pd.Index(coded.records, name="record_id")
        self.labels_ = pd.Series(labels, index=index, name="label", dtype=object)
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = table / table.sum(axis=1, keepdims=True)
        self.probas_ = pd.DataFrame(shares, index=index, columns=pd.Index(categories, name="label"))
        self.ties_ = pd.Series(
            [[categories[j] for j in np.flatnonzero(table[i] == top[i])] for i in np.flatnonzero(tied)],
            index=index[tied],
            name="tied",
            dtype=object,
        )
        decided = ~tied[coded.items]
        hits = (coded.codes == winner[coded.items]) & decided
        n = np.bincount(coded.coders[decided], minlength=len(coded.annotators))
        right = np.bincount(coded.coders[hits], minlength=len(coded.annotators))
        with np.errstate(divide="ignore", invalid="ignore"):
            skill = right / n
        self.skills_ = pd.Series(skill, index=pd.Index(coded.annotators, name="annotator"), name="skill")
        return self

    def fit_predict(self, frame: pd.DataFrame, *, question: str | None = None) -> pd.Series:
        """`fit`, then `labels_`."""
        self.fit(frame, question=question)
        assert self.labels_ is not None
        return self.labels_


class DawidSkene:
    """Dawid and Skene's (1979) EM: each annotator's confusion matrix and each record's label posterior.

    `n_iter`: most EM steps; `tol`: stop when no posterior moves by more than this.
    `gold`: expert answers (record_id, [question,] value, as `project.gold()`): those records'
    posteriors are fixed to the expert's label, which anchors the annotators' confusion matrices.
    """

    def __init__(self, n_iter: int = 100, tol: float = 1e-5, *, gold: pd.DataFrame | None = None) -> None:
        if not isinstance(n_iter, int) or n_iter < 1:
            raise LabelbookError(f"DawidSkene(n_iter={n_iter!r}): give a positive number of EM steps.")
        if not tol > 0:
            raise LabelbookError(f"DawidSkene(tol={tol!r}): give a positive tolerance, e.g. 1e-5.")
        self.n_iter = n_iter
        self.tol = tol
        self.gold = gold
        self.labels_: pd.Series | None = None
        """The most probable label per record_id."""
        self.probas_: pd.DataFrame | None = None
        """Posterior probability of each label: record_id × label."""
        self.priors_: pd.Series | None = None
        """Estimated share of each label among the records."""
        self.skills_: pd.Series | None = None
        """Per annotator: the expected share of their answers that are right (mean posterior of the
        label they gave)."""
        self.errors_: pd.DataFrame | None = None
        """Confusion matrices: index (annotator, label given), columns the true label, P(given | true)."""
        self.n_iter_: int = 0
        """EM steps taken."""

    def _gold_codes(self, coded: Coded, categories: list[Any], question: str | None) -> np.ndarray:
        import numpy as np
        import pandas as pd

        fixed = np.full(len(coded.records), -1)
        if self.gold is None:
            return fixed
        gold = self.gold
        if not isinstance(gold, pd.DataFrame) or not {"record_id", "value"} <= set(gold.columns):
            raise LabelbookError(
                "DawidSkene(gold=...): pass project.gold()'s frame (columns record_id, question, value)."
            )
        if "question" in gold.columns and question is not None:
            gold = gold[gold["question"] == question]
        elif "question" in gold.columns and gold["question"].nunique() > 1:
            raise LabelbookError(
                "DawidSkene(gold=...): the gold frame has several questions; pass question=."
            )
        position = {value: i for i, value in enumerate(categories)}
        at = pd.Index(coded.records).get_indexer(gold["record_id"])
        for row, record_id, value in zip(at, gold["record_id"], gold["value"], strict=True):
            if row < 0 or value is None:
                continue
            key = hashable(value)
            if key not in position:
                raise LabelbookError(
                    f"DawidSkene(gold=...): record {record_id!r} has expert answer {value!r}, which no "
                    f"annotator gave; answers seen: {', '.join(map(repr, categories))}."
                )
            fixed[row] = position[key]
        return fixed

    def fit(self, frame: pd.DataFrame, *, question: str | None = None) -> DawidSkene:
        """Run EM from the majority vote until the posteriors settle (or `n_iter` steps)."""
        import numpy as np
        import pandas as pd

        where = "DawidSkene"
        coded = encode(select(frame, question, where=where, raw=True), where=where)
        categories = list(coded.categories)
        n_items, n_workers, n_cats = len(coded.records), len(coded.annotators), len(categories)
        fixed = self._gold_codes(coded, categories, question)
        anchored = fixed >= 0
        order = np.argsort(coded.items, kind="stable")
        items, workers, codes = coded.items[order], coded.coders[order], coded.codes[order]
        starts = np.flatnonzero(np.r_[True, items[1:] != items[:-1]]) if len(items) else np.zeros(0, int)

        posteriors = _vote_table(coded)
        posteriors /= np.maximum(posteriors.sum(axis=1, keepdims=True), 1)
        posteriors[anchored] = np.eye(n_cats)[fixed[anchored]]
        eps = 1e-9
        steps = 0
        errors = np.full((n_workers, n_cats, n_cats), 1.0 / max(n_cats, 1))
        priors = np.full(n_cats, 1.0 / max(n_cats, 1))
        size = n_workers * n_cats
        flat = workers * n_cats + codes  # (annotator, label given) of each answer
        for step in range(1, self.n_iter + 1):
            steps = step
            # M step: priors and each annotator's confusion (true × given), from the posteriors.
            priors = posteriors.mean(axis=0) if n_items else priors
            flat_counts = np.zeros((size, n_cats))  # (annotator, given) × true
            for k in range(n_cats):
                flat_counts[:, k] = np.bincount(flat, weights=posteriors[items, k], minlength=size)
            # annotator × given × true, then annotator × true × given
            errors = flat_counts.reshape(n_workers, n_cats, n_cats).transpose(0, 2, 1)
            errors = errors / np.maximum(errors.sum(axis=2, keepdims=True), eps)
            # E step: log posterior = log prior + the sum over the record's answers of log P(given | true).
            log_given = np.log(errors + eps).transpose(0, 2, 1).reshape(size, n_cats)
            if len(starts):
                summed = np.add.reduceat(np.take(log_given, flat, axis=0), starts, axis=0)
            else:
                summed = np.zeros((0, n_cats))
            log_post = np.log(priors + eps)[None, :] + summed
            log_post -= log_post.max(axis=1, keepdims=True, initial=-np.inf)
            new = np.exp(log_post)
            new /= new.sum(axis=1, keepdims=True)
            new[anchored] = posteriors[anchored]
            change = float(np.abs(new - posteriors).max()) if n_items else 0.0
            posteriors = new
            if change < self.tol:
                break
        self.n_iter_ = steps
        index = pd.Index(coded.records, name="record_id")
        label_index = pd.Index(categories, name="label")
        self.probas_ = pd.DataFrame(posteriors, index=index, columns=label_index)
        winners = posteriors.argmax(axis=1) if n_items else np.zeros(0, dtype=int)
        self.labels_ = pd.Series(
            np.array([categories[i] for i in winners], dtype=object), index=index, name="label", dtype=object
        )
        self.priors_ = pd.Series(priors, index=label_index, name="prior")
        right = posteriors[items, codes] if len(items) else np.zeros(0)
        n = np.bincount(workers, minlength=n_workers)
        with np.errstate(divide="ignore", invalid="ignore"):
            skill = np.bincount(workers, weights=right, minlength=n_workers) / n
        annotators = pd.Index(coded.annotators, name="annotator")
        self.skills_ = pd.Series(skill, index=annotators, name="skill")
        given = errors.transpose(0, 2, 1).reshape(n_workers * n_cats, n_cats)
        self.errors_ = pd.DataFrame(
            given,
            index=pd.MultiIndex.from_product([annotators, label_index], names=["annotator", "label"]),
            columns=pd.Index(categories, name="true_label"),
        )
        return self

    def fit_predict(self, frame: pd.DataFrame, *, question: str | None = None) -> pd.Series:
        """`fit`, then `labels_`."""
        self.fit(frame, question=question)
        assert self.labels_ is not None
        return self.labels_


def aggregate_numeric(frame: pd.DataFrame, *, question: str | None = None) -> pd.DataFrame:
    """Numeric answers (ratings, scores) per record_id: n, mean, median, std, min, max, iqr."""
    import numpy as np
    import pandas as pd

    where = "aggregate_numeric"
    coded = encode(select(frame, question, where=where, raw=True), where=where)
    columns = ["n", "mean", "median", "std", "min", "max", "iqr"]
    if coded.size == 0:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="record_id"))
    if coded.kind != "number":
        raise LabelbookError(
            f"{where}: the answers are {coded.kind}s, not numbers; use MajorityVote or DawidSkene for labels."
        )
    values = pd.Series(np.asarray(coded.categories, dtype=float)[coded.codes], name="value")
    groups = values.groupby(pd.Index(coded.records, name="record_id")[coded.items], sort=False)
    out = pd.DataFrame(
        {
            "n": groups.size(),
            "mean": groups.mean(),
            "median": groups.median(),
            "std": groups.std(ddof=1),
            "min": groups.min(),
            "max": groups.max(),
            "iqr": groups.quantile(0.75) - groups.quantile(0.25),
        }
    )
    return out[columns]
