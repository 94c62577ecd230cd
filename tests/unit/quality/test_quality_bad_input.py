"""Every public function on bad frames: a LabelbookError that says what to fix, or a documented NaN
(with a QualityWarning), never a traceback from numpy or pandas."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from labelbook import quality
from labelbook.errors import LabelbookError

GOLD = pd.DataFrame({"record_id": ["r1", "r2"], "question": "q", "value": ["x", "y"]})


def frame(rows: list[tuple[str, str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=["record_id", "annotator", "value"])
    out["value"] = pd.Series([r[2] for r in rows], dtype=object)
    return out.assign(
        question="q",
        status="submitted",
        vendor="v",
        release="1.0.0",
        submitted_at=pd.Timestamp("2025-01-01T00:00:00Z"),
    )


BAD = {
    "empty": frame([]),
    "one annotator": frame([("r1", "a", "x"), ("r2", "a", "y")]),
    "all identical": frame([("r1", "a", "x"), ("r1", "b", "x"), ("r2", "a", "x"), ("r2", "b", "x")]),
    "mixed types": frame([("r1", "a", "x"), ("r1", "b", 2)]),
    "unknown label": frame([("r1", "a", "x"), ("r1", "b", "zzz")]),
    "missing column": frame([("r1", "a", "x")]).drop(columns=["annotator"]),
    "all missing values": frame([("r1", "a", None), ("r1", "b", None)]),
}

CALLS: dict[str, Callable[[pd.DataFrame], Any]] = {
    "percent_agreement": quality.percent_agreement,
    "fleiss_kappa": quality.fleiss_kappa,
    "krippendorff_alpha": quality.krippendorff_alpha,
    "cohen_kappa": quality.cohen_kappa,
    "agreement": quality.agreement,
    "MajorityVote": lambda f: quality.MajorityVote().fit(f),
    "DawidSkene": lambda f: quality.DawidSkene().fit(f),
    "DawidSkene+gold": lambda f: quality.DawidSkene(gold=GOLD).fit(f),
    "aggregate_numeric": quality.aggregate_numeric,
    "gold_accuracy": lambda f: quality.gold_accuracy(f, GOLD),
    "gold_confusion": lambda f: quality.gold_confusion(f, GOLD),
    "drift": lambda f: quality.drift(f, GOLD),
    "annotators": lambda f: quality.annotators(f, GOLD),
    "vendors": lambda f: quality.vendors(f, GOLD, rates={"v": 10.0}),
    "consensus": quality.consensus,
    "preference_pairs": lambda f: quality.preference_pairs(f, "q"),
    "report": lambda f: quality.report(f, gold=GOLD).to_html(),
    "feedback": lambda f: quality.feedback(f, GOLD, None, "a"),
}


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("name", list(CALLS))
def test_bad_input_is_a_clear_error_or_a_documented_nan(name: str, case: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", quality.QualityWarning)
        try:
            CALLS[name](BAD[case])
        except LabelbookError as err:
            assert str(err) and "Traceback" not in str(err)
