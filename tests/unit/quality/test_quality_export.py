"""Training data: consensus labels and preference pairs."""

from __future__ import annotations

import pandas as pd
import pytest
from quality_simulation import Crowd

from labelbook import quality
from labelbook.errors import LabelbookError


def tidy(rows: list[tuple[str, str, object]], question: str = "q") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["record_id", "annotator", "value"])
    frame["value"] = pd.Series([r[2] for r in rows], dtype=object)
    return frame.assign(question=question, status="submitted")


def test_consensus_per_record_with_confidence_and_release(crowd: Crowd) -> None:
    table = quality.consensus(crowd.frame)
    assert list(table.columns) == ["record_id", "question", "value", "confidence", "n_answers", "release"]
    assert set(table["question"]) == {"outcome"}  # the free-text rationale is not settled
    assert len(table) == crowd.truth.size
    assert table["confidence"].between(0, 1).all() and (table["n_answers"] == 3).all()
    assert set(table["release"]) == {"1.0.0", "1.1.0"}
    right = (table.set_index("record_id")["value"] == crowd.truth).mean()
    assert right > 0.8
    majority = quality.consensus(crowd.frame, method="majority")
    assert majority["value"].isna().sum() > 0  # three-way ties stay unlabelled


def test_numeric_consensus() -> None:
    frame = tidy([("r1", "a", 1), ("r1", "b", 3), ("r2", "a", 4), ("r2", "b", 4)])
    table = quality.consensus(frame, method="median").set_index("record_id")
    assert table.loc["r1", "value"] == 2 and table.loc["r2", "confidence"] == 1
    with pytest.raises(LabelbookError, match="numeric"):
        quality.consensus(tidy([("r1", "a", "x")]), method="mean")
    with pytest.raises(LabelbookError, match="method="):
        quality.consensus(frame, method="vote")


def test_preference_pairs_from_rankings() -> None:
    frame = tidy(
        [
            ("r1", "a", ["x", "y", "z"]),
            ("r1", "b", ["x", "z", "y"]),
            ("r1", "c", ["y", "x", "z"]),
        ],
        question="rank",
    ).assign(release="1.0.0")
    pairs = quality.preference_pairs(frame, "rank")
    got = {(p.chosen, p.rejected): round(p.margin, 3) for p in pairs.itertuples()}
    assert got == {("x", "y"): round(2 / 3 - 0.5, 3), ("x", "z"): 0.5, ("y", "z"): round(2 / 3 - 0.5, 3)}
    assert set(pairs["release"]) == {"1.0.0"}


def test_preference_pairs_from_ratings_need_a_group() -> None:
    frame = tidy([("r1", "a", 5), ("r1", "b", 4), ("r2", "a", 2), ("r3", "a", 2)], question="score")
    with pytest.raises(LabelbookError, match="group="):
        quality.preference_pairs(frame, "score")
    frame["metadata.prompt"] = ["p", "p", "p", "q"]
    pairs = quality.preference_pairs(frame, "score", group="metadata.prompt")
    assert pairs[["metadata.prompt", "chosen", "rejected", "margin"]].values.tolist() == [
        ["p", "r1", "r2", 2.5]
    ]
    with pytest.raises(LabelbookError, match="labels"):
        quality.preference_pairs(tidy([("r1", "a", "x")]), "q")
