"""Aggregation, gold, workforce and vendors on a simulated crowd with known truths, and small cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from quality_simulation import PEOPLE, RATES, Crowd

from labelbook import quality
from labelbook.errors import LabelbookError


def tidy(rows: list[tuple[str, str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["record_id", "annotator", "value"])
    frame["value"] = pd.Series([r[2] for r in rows], dtype=object)
    return frame.assign(question="q", status="submitted")


def accuracy(labels: pd.Series, truth: pd.Series) -> float:
    return float((labels == truth.reindex(labels.index)).mean())


# --- the simulation's acceptance criteria -------------------------------------------------------


def test_dawid_skene_beats_majority_vote(crowd: Crowd) -> None:
    ds = quality.DawidSkene().fit(crowd.frame, question="outcome")
    mv = quality.MajorityVote(on_tie="first").fit(crowd.frame, question="outcome")
    assert ds.labels_ is not None and mv.labels_ is not None
    assert accuracy(ds.labels_, crowd.truth) >= accuracy(mv.labels_, crowd.truth)
    # Anchoring on gold never hurts, and the gold records take the experts' labels.
    anchored = quality.DawidSkene(gold=crowd.gold).fit(crowd.frame, question="outcome")
    assert anchored.labels_ is not None
    assert accuracy(anchored.labels_, crowd.truth) >= accuracy(ds.labels_, crowd.truth) - 0.01
    gold = crowd.gold.set_index("record_id")["value"]
    assert (anchored.labels_.reindex(gold.index) == gold).all()
    # Skills rank the contractors as their accuracies do (the spammer last).
    assert ds.skills_ is not None
    assert ds.skills_.idxmin() == "cheap-spam"
    assert ds.skills_["acme-1"] > ds.skills_["bright-1"] > ds.skills_["cheap-1"]


def test_spammer_flagged_and_no_strong_annotator(crowd: Crowd) -> None:
    strong = [name for name, (_, acc) in PEOPLE.items() if acc is not None and acc >= 0.9]
    for gold in (None, crowd.gold):
        table = quality.annotators(crowd.frame, gold)
        assert table.loc["cheap-spam", "flagged"], table.loc["cheap-spam", "reason"]
        assert not table.loc[strong, "flagged"].any()
    table = quality.annotators(crowd.frame)
    assert "random" in table.loc["cheap-spam", "reason"]
    assert table.loc["acme-1", "seconds_per_item"] == pytest.approx(60, abs=5)
    assert table.loc["acme-1", "items_per_hour"] == pytest.approx(60, rel=0.1)


def test_never_flagged_on_five_answers(crowd: Crowd) -> None:
    few = crowd.frame[crowd.frame["record_id"].isin(crowd.gold["record_id"][:12])]
    table = quality.annotators(few, crowd.gold)
    assert not table["flagged"].any()
    assert table["reason"].str.contains("not enough evidence").all()


def test_vendors_in_their_true_order_with_costs(crowd: Crowd) -> None:
    table = quality.vendors(crowd.frame, crowd.gold, rates=RATES)
    assert table.index.tolist() == ["acme", "bright", "cheap"]
    assert table.loc["acme", "meets_bar"] or table.loc["acme", "gold_accuracy"] >= 0.8
    assert not table.loc["cheap", "meets_bar"]
    assert "below the bar" in table.loc["cheap", "reason"]
    assert (table["cost_per_accepted_item"] > 0).all()
    # Per-item rates: cost = rate × items.
    per_item = quality.vendors(crowd.frame, crowd.gold, rates={"acme": {"rate": 1.0, "unit": "item"}})
    assert per_item.loc["acme", "cost"] == per_item.loc["acme", "items"]
    assert math.isnan(per_item.loc["bright", "cost"])
    roster = pd.DataFrame({"username": list(PEOPLE), "vendor": [v for v, _ in PEOPLE.values()], "rate": 10.0})
    assert quality.vendors(crowd.frame, rates=roster)["cost"].notna().all()


def test_gold_accuracy_confusion_and_drift(crowd: Crowd) -> None:
    table = quality.gold_accuracy(crowd.frame, crowd.gold)
    assert table.index.name == "annotator"
    assert list(table.columns) == ["n", "correct", "accuracy", "low", "high"]
    assert (table["low"] <= table["accuracy"]).all() and (table["accuracy"] <= table["high"]).all()
    assert table["accuracy"].idxmax().startswith("acme")
    by_vendor = quality.gold_accuracy(crowd.frame, crowd.gold, by=["vendor"])
    assert by_vendor["n"].sum() == table["n"].sum()
    confusion = quality.gold_confusion(crowd.frame, crowd.gold)
    assert confusion.loc["partial", "failure"] > confusion.loc["partial", "blocked"]
    assert confusion.to_numpy().sum() == table["n"].sum()
    blocks = quality.drift(crowd.frame, crowd.gold, every=25)
    assert set(blocks.columns) >= {"annotator", "period", "n", "accuracy", "low", "high"}
    assert (blocks.groupby("annotator")["n"].sum() == table["n"]).all()
    weekly = quality.drift(crowd.frame, crowd.gold, every="D")
    assert weekly["n"].sum() == table["n"].sum()


def test_wilson_interval_by_hand() -> None:
    frame = tidy([(f"r{i}", "a", "x" if i < 8 else "y") for i in range(10)])
    gold = pd.DataFrame({"record_id": [f"r{i}" for i in range(10)], "question": "q", "value": "x"})
    row = quality.gold_accuracy(frame, gold).loc["a"]
    # Wilson 95 % for 8/10: 0.490 to 0.943.
    assert (row["n"], row["correct"], round(row["low"], 3), round(row["high"], 3)) == (10, 8, 0.490, 0.943)


# --- small cases --------------------------------------------------------------------------------


def test_majority_vote_ties_are_explicit() -> None:
    frame = tidy([("r1", "a", "x"), ("r1", "b", "y"), ("r2", "a", "x"), ("r2", "b", "x"), ("r2", "c", "y")])
    mv = quality.MajorityVote().fit(frame)
    assert mv.labels_ is not None and mv.ties_ is not None and mv.probas_ is not None
    assert mv.labels_.to_dict() == {"r1": None, "r2": "x"}
    assert mv.ties_.to_dict() == {"r1": ["x", "y"]}
    assert mv.probas_.loc["r2", "x"] == pytest.approx(2 / 3)
    assert quality.MajorityVote(on_tie="first").fit_predict(frame)["r1"] == "x"


def test_dawid_skene_fitted_attributes() -> None:
    rows = []
    for i in range(30):
        truth = "x" if i % 3 else "y"
        rows += [(f"r{i}", "a", truth), (f"r{i}", "b", truth), (f"r{i}", "c", "x")]
    ds = quality.DawidSkene().fit(tidy(rows))
    assert ds.labels_ is not None and ds.errors_ is not None and ds.probas_ is not None
    assert ds.labels_["r0"] == "y" and ds.labels_["r1"] == "x"
    assert ds.errors_.index.names == ["annotator", "label"]
    # c always says x: P(c says x | true y) is about 1.
    assert ds.errors_.loc[("c", "x"), "y"] == pytest.approx(1, abs=1e-3)
    assert np.allclose(ds.probas_.sum(axis=1), 1)
    with pytest.raises(LabelbookError, match="no annotator gave"):
        quality.DawidSkene(gold=pd.DataFrame({"record_id": ["r0"], "value": ["zzz"]})).fit(tidy(rows))


def test_aggregate_numeric() -> None:
    frame = tidy([("r1", "a", 1), ("r1", "b", 3), ("r1", "c", 5), ("r2", "a", 4)])
    table = quality.aggregate_numeric(frame)
    assert table.loc["r1", ["n", "mean", "median", "min", "max"]].tolist() == [3, 3, 3, 1, 5]
    assert table.loc["r1", "std"] == pytest.approx(2)
    assert math.isnan(table.loc["r2", "std"])
    with pytest.raises(LabelbookError, match="not numbers"):
        quality.aggregate_numeric(tidy([("r1", "a", "x")]))


@pytest.mark.parametrize(
    "call",
    [
        lambda f: quality.MajorityVote().fit(f),
        lambda f: quality.DawidSkene().fit(f),
        lambda f: quality.aggregate_numeric(f),
        lambda f: quality.annotators(f),
        lambda f: quality.gold_accuracy(f, pd.DataFrame({"record_id": [], "value": []})),
    ],
    ids=["mv", "ds", "numeric", "annotators", "gold"],
)
def test_empty_frames_give_empty_results(call: object) -> None:
    empty = tidy([])
    result = call(empty)  # type: ignore[operator]
    assert len(getattr(result, "labels_", result)) == 0


def test_bad_input_is_named() -> None:
    with pytest.raises(LabelbookError, match="'annotator'"):
        quality.annotators(pd.DataFrame({"record_id": ["r"], "value": ["x"]}))
    with pytest.raises(LabelbookError, match="'vendor'"):
        quality.vendors(tidy([("r1", "a", "x")]))
    with pytest.raises(LabelbookError, match="mix types"):
        quality.DawidSkene().fit(tidy([("r1", "a", "x"), ("r1", "b", 2)]))
    with pytest.raises(LabelbookError, match="gold frame has no column 'value'"):
        quality.gold_accuracy(tidy([("r1", "a", "x")]), pd.DataFrame({"record_id": ["r1"]}))
    with pytest.raises(LabelbookError, match="rates="):
        quality.vendors(tidy([("r1", "a", "x")]).assign(vendor="v"), rates=3)


def test_a_bulk_submission_shares_the_time_before_it_among_its_answers() -> None:
    # Ten answers a minute apart, then a bulk of 50 sent ten minutes later (the UI's bulk view).
    start = pd.Timestamp("2026-12-01 09:00", tz="UTC")
    one_by_one = [(f"r{i}", start + pd.Timedelta(minutes=i)) for i in range(10)]
    bulk_at = start + pd.Timedelta(minutes=19)
    bulk = [(f"b{i}", bulk_at + pd.Timedelta(milliseconds=3 * i)) for i in range(50)]
    rows = [(record, "ann", "x") for record, _ in [*one_by_one, *bulk]]
    frame = tidy(rows).assign(submitted_at=[moment.isoformat() for _, moment in [*one_by_one, *bulk]])

    table = quality.annotators(frame)

    # 9 gaps of 60 s, then 600 s over 50 answers (12 s each); the first answer at the median pace.
    assert table.loc["ann", "seconds_per_item"] == pytest.approx(12)
    assert table.loc["ann", "active_hours"] == pytest.approx((9 * 60 + 600 + 12) / 3600)
    assert table.loc["ann", "items_per_hour"] == pytest.approx(60 / ((9 * 60 + 612) / 3600), rel=1e-6)


def test_answers_all_sent_at_once_have_no_pace() -> None:
    moment = pd.Timestamp("2026-12-01 09:00", tz="UTC").isoformat()
    frame = tidy([(f"r{i}", "ann", "x") for i in range(30)]).assign(submitted_at=moment)
    table = quality.annotators(frame)
    assert math.isnan(table.loc["ann", "items_per_hour"]) and table.loc["ann", "sessions"] == 1
