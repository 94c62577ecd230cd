"""Agreement coefficients against published worked examples, and their edge cases."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from labelbook import quality
from labelbook.errors import LabelbookError

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 coders × 12 units,
# None where a coder gave no value.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}

# Fleiss (1971) as worked in Wikipedia's "Fleiss' kappa": 10 subjects, 14 raters, 5 categories.
FLEISS_1971 = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def tidy(rows: list[tuple[object, object, object]], question: str = "q") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["record_id", "annotator", "value"])
    frame["value"] = pd.Series([r[2] for r in rows], dtype=object)
    frame["question"] = question
    frame["status"] = "submitted"
    return frame


def krippendorff_frame() -> pd.DataFrame:
    return tidy(
        [
            (f"u{i}", coder, value)
            for coder, values in KRIPPENDORFF_2011.items()
            for i, value in enumerate(values)
            if value is not None
        ]
    )


def fleiss_frame() -> pd.DataFrame:
    rows = []
    for subject, counts in enumerate(FLEISS_1971):
        rater = 0
        for category, n in enumerate(counts):
            for _ in range(n):
                rows.append((f"s{subject}", f"r{rater}", f"c{category + 1}"))
                rater += 1
    return tidy(rows)


@pytest.mark.parametrize(
    ("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_krippendorff_2011_at_each_level(level: str, expected: float) -> None:
    assert round(quality.krippendorff_alpha(krippendorff_frame(), level=level), 3) == expected


def test_fleiss_1971() -> None:
    frame = fleiss_frame()
    assert round(quality.fleiss_kappa(frame), 3) == 0.210
    # Fleiss's P-bar: the mean share of agreeing rater pairs per subject.
    assert round(quality.percent_agreement(frame), 3) == 0.378


def test_cohen_two_by_two() -> None:
    # Wikipedia's "Cohen's kappa" example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> p_o .7, p_e .5.
    cells = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    rows = []
    for i, (a, b) in enumerate(cells):
        rows += [(f"r{i}", "A", a), (f"r{i}", "B", b)]
    assert round(quality.cohen_kappa(tidy(rows)), 3) == 0.400


def test_weighted_cohen_by_hand() -> None:
    # 3-point scale; quadratic weights: 1 - sum(w*O)/sum(w*E) worked out by hand.
    pairs = [(1, 1), (2, 2), (3, 3), (1, 2), (2, 3), (3, 1)]
    rows = []
    for i, (a, b) in enumerate(pairs):
        rows += [(f"r{i}", "A", a), (f"r{i}", "B", b)]
    # O: each cell 1/6; marginals uniform 1/3 -> E cells 1/9. Quadratic w: 0, .25, 1.
    observed = (0.25 + 0.25 + 1) / 6
    expected = (4 * 0.25 + 2 * 1) / 9
    assert quality.cohen_kappa(tidy(rows), weights="quadratic") == pytest.approx(1 - observed / expected)
    linear_observed = (0.5 + 0.5 + 1) / 6
    linear_expected = (4 * 0.5 + 2 * 1) / 9
    assert quality.cohen_kappa(tidy(rows), weights="linear") == pytest.approx(
        1 - linear_observed / linear_expected
    )


def test_multilabel_and_ranking_distances() -> None:
    from labelbook.quality.agreement import distance_matrix

    sets = [("x", "y"), ("x",), ("z",)]
    # MASI (Passonneau 2006): 1 - Jaccard × monotonicity (1 equal, 2/3 subset, 1/3 overlap, 0 disjoint).
    assert distance_matrix(sets, "masi")[0].tolist() == pytest.approx([0, 1 - 0.5 * 2 / 3, 1])
    assert distance_matrix(sets, "jaccard")[0].tolist() == pytest.approx([0, 0.5, 1])
    orders = [("p", "q", "r"), ("q", "p", "r"), ("r", "q", "p")]
    assert distance_matrix(orders, "kendall")[0].tolist() == pytest.approx([0, 1 / 3, 1])
    overlap = tidy(
        [
            ("r1", "a", ["x", "y"]),
            ("r1", "b", ["x"]),
            ("r2", "a", ["y"]),
            ("r2", "b", ["z"]),
            ("r3", "a", ["z"]),
            ("r3", "b", ["z"]),
        ]
    )
    masi = quality.krippendorff_alpha(overlap, level="masi")
    jaccard = quality.krippendorff_alpha(overlap, level="jaccard")
    nominal = quality.krippendorff_alpha(overlap, level="nominal")
    assert nominal < jaccard and nominal < masi  # partial overlap counts as partial agreement
    rankings = tidy(
        [
            ("r1", "a", ["p", "q", "r"]),
            ("r1", "b", ["p", "q", "r"]),
            ("r2", "a", ["p", "q", "r"]),
            ("r2", "b", ["p", "r", "q"]),
            ("r4", "a", ["r", "q", "p"]),
            ("r4", "b", ["r", "q", "p"]),
            ("r3", "a", ["q", "p", "r"]),
            ("r3", "b", ["q", "r", "p"]),
        ]
    )
    # Near misses (one adjacent swap) count as near agreement under Kendall's distance.
    assert quality.krippendorff_alpha(rankings, level="kendall") > quality.krippendorff_alpha(
        rankings, level="nominal"
    )


def test_agreement_table_has_intervals_per_group() -> None:
    frame = pd.concat(
        [krippendorff_frame().assign(release="1.0.0"), fleiss_frame().assign(question="f", release="1.0.0")]
    )
    table = quality.agreement(frame, by=["question", "release"], ci=0.9, n_boot=300)
    assert table["question"].tolist() == ["q", "f"]  # in the order the frame holds them
    row = table.set_index("question").loc["q"]
    assert row["items"] == 12 and row["answers"] == 41 and row["annotators"] == 4
    assert row["level"] == "ordinal"
    assert round(row["krippendorff_alpha"], 3) == 0.815
    assert row["krippendorff_alpha_low"] < row["krippendorff_alpha"] <= row["krippendorff_alpha_high"]
    assert round(table.set_index("question").loc["f", "fleiss_kappa"], 3) == 0.210
    one = quality.agreement(krippendorff_frame().drop(columns=["question"]), level="interval", ci=None)
    assert round(one.loc[0, "krippendorff_alpha"], 3) == 0.849 and "question" not in one.columns
    nominal = quality.agreement(frame, level={"q": "nominal"}, ci=None)
    assert round(nominal.set_index("question").loc["q", "krippendorff_alpha"], 3) == 0.743
    assert math.isnan(nominal.set_index("question").loc["q", "krippendorff_alpha_low"])


def test_only_submitted_answers_count_and_the_last_one_wins() -> None:
    frame = krippendorff_frame()
    extra = pd.DataFrame(
        {"record_id": ["u0"], "annotator": ["A"], "value": pd.Series([5], dtype=object)}
    ).assign(question="q", status="draft")
    assert quality.krippendorff_alpha(pd.concat([frame, extra]), level="interval") == pytest.approx(
        quality.krippendorff_alpha(frame, level="interval")
    )


# --- bad input ---------------------------------------------------------------------------------


def test_missing_columns_are_named() -> None:
    with pytest.raises(LabelbookError, match="'annotator'"):
        quality.fleiss_kappa(pd.DataFrame({"record_id": [1], "value": ["a"]}))
    with pytest.raises(LabelbookError, match="DataFrame"):
        quality.fleiss_kappa([1, 2])  # type: ignore[arg-type]
    with pytest.raises(LabelbookError, match="'vendor'"):
        quality.agreement(krippendorff_frame(), by=["vendor"])


def test_several_questions_need_a_choice() -> None:
    frame = pd.concat([krippendorff_frame(), fleiss_frame().assign(question="f")])
    with pytest.raises(LabelbookError, match="question="):
        quality.krippendorff_alpha(frame)
    assert round(quality.fleiss_kappa(frame, question="f"), 3) == 0.210
    with pytest.raises(LabelbookError, match="no submitted answers to question 'nope'"):
        quality.fleiss_kappa(frame, question="nope")


@pytest.mark.parametrize(
    ("rows", "why"),
    [
        ([], "no submitted answers"),
        ([("r1", "a", "x"), ("r2", "a", "y")], "no record has two"),
        ([("r1", "a", "x"), ("r1", "b", "x"), ("r2", "a", "x"), ("r2", "b", "x")], "same value"),
    ],
    ids=["empty", "one annotator", "all identical"],
)
def test_undefined_is_nan_with_a_warning(rows: list[tuple[str, str, str]], why: str) -> None:
    frame = tidy(rows)
    for function in (quality.krippendorff_alpha, quality.fleiss_kappa):
        with pytest.warns(quality.QualityWarning, match=why):
            assert math.isnan(function(frame))


def test_mixed_types_and_wrong_levels_are_errors() -> None:
    with pytest.raises(LabelbookError, match="mix types"):
        quality.krippendorff_alpha(tidy([("r1", "a", "x"), ("r1", "b", 3)]))
    with pytest.raises(LabelbookError, match="numeric answers"):
        quality.krippendorff_alpha(fleiss_frame(), level="interval")
    with pytest.raises(LabelbookError, match="not known"):
        quality.krippendorff_alpha(fleiss_frame(), level="cosine")


def test_cohen_needs_two_annotators_and_known_labels() -> None:
    with pytest.raises(LabelbookError, match="exactly two annotators"):
        quality.cohen_kappa(fleiss_frame())
    frame = tidy([("r1", "a", "x"), ("r1", "b", "y"), ("r2", "a", "y"), ("r2", "b", "y")])
    with pytest.raises(LabelbookError, match="not among the labels"):
        quality.cohen_kappa(frame, labels=["x", "z"])
    with pytest.raises(LabelbookError, match="labels' order"):
        quality.cohen_kappa(frame, weights="linear")
    assert quality.cohen_kappa(frame, labels=["x", "y"], weights="linear") == pytest.approx(0.0)
