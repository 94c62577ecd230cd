"""Feedback for one contractor, and retired gold items."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from quality_simulation import Crowd

from labelbook import quality
from labelbook.errors import LabelbookError


def test_feedback_lists_misses_with_the_deciding_rule(crowd: Crowd) -> None:
    gold = pd.concat(
        [crowd.gold, crowd.gold.assign(question="rationale", value="Expert: see R-made-worse")],
        ignore_index=True,
    )
    sent = quality.feedback(crowd.frame, gold, crowd.guide, "cheap-2")
    accuracy = quality.gold_accuracy(crowd.frame, crowd.gold).loc["cheap-2"]
    assert (sent.scored, sent.correct) == (accuracy["n"], accuracy["correct"])
    assert len(sent.misses) == sent.scored - sent.correct
    pair = sent.misses[sent.misses[["expected", "given"]].isin(["partial", "failure"]).all(axis=1)]
    assert len(pair) and all(s[0] == "partial-or-failure" for s in pair["sections"])
    assert all(r == ["R-partial-progress", "R-made-worse"] for r in pair["rules"])
    assert set(sent.misses["explanation"]) == {"Expert: see R-made-worse"}
    page = sent.to_html()
    assert "cheap-2" in page and "R-made-worse" in page and "<script" not in page
    others = set(crowd.frame["annotator"]) - {"cheap-2"}
    assert not any(name in page for name in others)  # no other contractor's name
    with pytest.raises(LabelbookError, match="no answers from 'nobody'"):
        quality.feedback(crowd.frame, crowd.gold, crowd.guide, "nobody")


def test_retired_gold_scores_only_the_past(crowd: Crowd, tmp_path: Path) -> None:
    sent = quality.feedback(crowd.frame, crowd.gold, crowd.guide, "cheap-1")
    middle = (crowd.frame["submitted_at"].min() + pd.Timedelta(hours=1)).floor("s")
    quality.retire(tmp_path, sent.record_ids, "cheap-1", at=middle.to_pydatetime())
    quality.retire(tmp_path, sent.record_ids[:1], "cheap-2", at=datetime(2030, 1, 1, tzinfo=timezone.utc))
    retired = quality.read_retired(tmp_path)
    first = retired[str(sent.record_ids[0])]
    assert first["shown_to"] == ["cheap-1", "cheap-2"]
    assert first["retired_at"] == middle.isoformat()  # the first retirement counts
    stamps = {record_id: entry["retired_at"] for record_id, entry in retired.items()}
    gold = crowd.gold.assign(retired_at=pd.to_datetime(crowd.gold["record_id"].map(stamps), utc=True))
    before = quality.gold_accuracy(crowd.frame, crowd.gold)["n"].sum()
    after = quality.gold_accuracy(crowd.frame, gold)["n"].sum()
    assert 0 < after < before
