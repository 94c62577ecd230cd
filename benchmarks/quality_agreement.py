"""Krippendorff's alpha (nominal) on 1M answers (200k records × 5 annotators), from the tidy frame,
against the `krippendorff` package (PyPI) on the same frame, the pivot to its coders × units
matrix included in its time. Target: labelbook's time <= 1.0× the package's.

The package runs in a throw-away virtualenv (see reference_env.py); both sides read the same
parquet file first and time only from the in-memory frame to the coefficient (best of 3).

    python benchmarks/quality_agreement.py
    python benchmarks/quality_agreement.py --records 50000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from labelbook import quality
from reference_env import python_with, run

TARGET_RATIO = 1.0
LABELS = ["success", "partial", "failure", "blocked"]

REFERENCE = """
import sys, time
import numpy as np, pandas as pd, krippendorff
frame = pd.read_parquet(sys.argv[1])
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    codes = {label: i for i, label in enumerate(sorted(frame["value"].unique()))}
    numeric = frame.assign(code=frame["value"].map(codes).astype(float))
    matrix = numeric.pivot(index="annotator", columns="record_id", values="code").to_numpy()
    alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    best = min(best, time.perf_counter() - start)
print(alpha, best)
"""


def tidy_frame(records: int, per_record: int, annotators: int, seed: int = 0) -> pd.DataFrame:
    """Answers of a crowd with accuracies from .95 to .55, `per_record` distinct annotators each."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(LABELS), records)
    who = np.argsort(rng.random((records, annotators)), axis=1)[:, :per_record]
    accuracy = np.linspace(0.95, 0.55, annotators)[who]
    right = rng.random(who.shape) < accuracy
    noise = (truth[:, None] + rng.integers(1, len(LABELS), who.shape)) % len(LABELS)
    answer = np.where(right, truth[:, None], noise)
    ids = [f"r{i:07d}" for i in range(records)]
    frame = pd.DataFrame(
        {
            "record_id": np.repeat(ids, per_record),
            "annotator": [f"ann-{a:03d}" for a in who.ravel()],
            "question": "outcome",
            "value": pd.Series(np.array(LABELS, dtype=object)[answer.ravel()], dtype=object),
            "status": "submitted",
        }
    )
    frame.attrs["truth"] = pd.Series(np.array(LABELS, dtype=object)[truth], index=ids)
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--per-record", type=int, default=5)
    parser.add_argument("--annotators", type=int, default=20)
    args = parser.parse_args()
    frame = tidy_frame(args.records, args.per_record, args.annotators)
    python = python_with("krippendorff")
    if python is None:
        raise SystemExit("the krippendorff package cannot be installed here: no anchor to compare with")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answers.parquet"
        plain = frame.copy()
        plain.attrs = {}  # the truth stays here
        plain.to_parquet(path)
        reference_alpha, reference_s = (float(v) for v in run(python, REFERENCE, str(path)).split())
    ours_s = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        alpha = quality.krippendorff_alpha(frame, level="nominal")
        ours_s = min(ours_s, time.perf_counter() - start)
    shape = f"{args.records:,} records × {args.per_record}, {args.annotators} annotators"
    print(f"answers: {len(frame):,} ({shape})")
    print(f"labelbook.quality.krippendorff_alpha: {ours_s:.3f} s  alpha {alpha:.6f}")
    print(f"krippendorff.alpha (pivot included):  {reference_s:.3f} s  alpha {reference_alpha:.6f}")
    ratio = ours_s / reference_s
    verdict = "ok" if ratio <= TARGET_RATIO and abs(alpha - reference_alpha) < 1e-9 else "MISSED"
    print(f"ratio: {ratio:.2f}× the package's time (target <= {TARGET_RATIO}×), same alpha: {verdict}")


if __name__ == "__main__":
    main()
