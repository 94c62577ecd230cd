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
from labelbook.quality.agreement import (
    LEVELS,
    agreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
)

__all__ = [
    "LEVELS",
    "QualityWarning",
    "agreement",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "percent_agreement",
]
