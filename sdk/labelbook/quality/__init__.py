"""Quality analytics on the tidy annotation frame: agreement, aggregation, gold, workforce, vendors,
the disagreement report and training data. Nothing here talks to a server.

    from labelbook import quality
    quality.krippendorff_alpha(frame, level="nominal")
    quality.agreement(frame, by=["question", "release", "vendor"], ci=0.95)
    quality.DawidSkene().fit(frame).labels_
    report = quality.report(frame, guide=guide, gold=gold)
"""

from __future__ import annotations

from labelbook.quality._frame import QualityWarning
from labelbook.quality.aggregation import DawidSkene, MajorityVote, aggregate_numeric
from labelbook.quality.agreement import (
    LEVELS,
    agreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
)
from labelbook.quality.export import consensus, preference_pairs
from labelbook.quality.feedback import Feedback, feedback, read_retired, retire
from labelbook.quality.gold import drift, gold_accuracy, gold_confusion
from labelbook.quality.reporting import Report, confusions, contested, report
from labelbook.quality.workforce import annotators, vendors

__all__ = [
    "LEVELS",
    "DawidSkene",
    "Feedback",
    "MajorityVote",
    "QualityWarning",
    "Report",
    "aggregate_numeric",
    "agreement",
    "annotators",
    "cohen_kappa",
    "confusions",
    "consensus",
    "contested",
    "drift",
    "feedback",
    "fleiss_kappa",
    "gold_accuracy",
    "gold_confusion",
    "krippendorff_alpha",
    "percent_agreement",
    "preference_pairs",
    "read_retired",
    "report",
    "retire",
    "vendors",
]
