"""Dawid–Skene on 100k records × 5 annotators (of 20) × 4 labels, from the tidy frame, against
crowd-kit's DawidSkene on the same answers (its own long frame: task, worker, label), both with
n_iter=100 and tol=1e-5. Target: labelbook's time <= 0.5× crowd-kit's at equal accuracy.

crowd-kit runs in a throw-away virtualenv (see reference_env.py; it pulls transformers, ~775 MB,
so it is no dependency of labelbook). Where it cannot be installed, the anchor is a plain
reference EM loop (per-record Python, the textbook algorithm) run in this process instead.

    python benchmarks/quality_dawid_skene.py
    python benchmarks/quality_dawid_skene.py --records 20000 --anchor loop
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from labelbook import quality
from quality_agreement import tidy_frame
from reference_env import python_with, run

TARGET_RATIO = 0.5

REFERENCE = """
import sys, time
import pandas as pd
from crowdkit.aggregation import DawidSkene
frame = pd.read_parquet(sys.argv[1])
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    long = frame.rename(columns={"record_id": "task", "annotator": "worker", "value": "label"})
    labels = DawidSkene(n_iter=100, tol=1e-5).fit_predict(long[["task", "worker", "label"]])
    best = min(best, time.perf_counter() - start)
labels.rename("label").to_frame().to_parquet(sys.argv[2])
print(best)
"""


def reference_loop(frame: pd.DataFrame, n_iter: int = 100, tol: float = 1e-5) -> pd.Series:
    """The textbook EM with dicts and Python loops: the anchor when crowd-kit cannot be installed."""
    labels = sorted(set(frame["value"]))
    by_record: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for record, annotator, value in zip(frame["record_id"], frame["annotator"], frame["value"], strict=True):
        by_record[record].append((annotator, value))
    post = {}
    for record, answers in by_record.items():
        counts = {label: 0.0 for label in labels}
        for _, value in answers:
            counts[value] += 1
        post[record] = {label: c / len(answers) for label, c in counts.items()}
    for _ in range(n_iter):
        prior = {label: sum(p[label] for p in post.values()) / len(post) for label in labels}
        errors: dict[str, dict[str, dict[str, float]]] = defaultdict(
            lambda: {t: dict.fromkeys(labels, 1e-9) for t in labels}
        )
        for record, answers in by_record.items():
            for annotator, value in answers:
                for truth in labels:
                    errors[annotator][truth][value] += post[record][truth]
        for table in errors.values():
            for truth in labels:
                total = sum(table[truth].values())
                for value in labels:
                    table[truth][value] /= total
        change = 0.0
        for record, answers in by_record.items():
            score = {}
            for truth in labels:
                s = np.log(prior[truth] + 1e-9)
                for annotator, value in answers:
                    s += np.log(errors[annotator][truth][value])
                score[truth] = s
            top = max(score.values())
            weights = {t: np.exp(s - top) for t, s in score.items()}
            total = sum(weights.values())
            new = {t: w / total for t, w in weights.items()}
            change = max(change, max(abs(new[t] - post[record][t]) for t in labels))
            post[record] = new
        if change < tol:
            break
    return pd.Series({record: max(p, key=p.__getitem__) for record, p in post.items()})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--anchor", choices=["crowd-kit", "loop"], default="crowd-kit")
    args = parser.parse_args()
    frame = tidy_frame(args.records, 5, 20, seed=1)
    truth = frame.attrs["truth"]
    ours_s = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        ours = quality.DawidSkene(n_iter=100, tol=1e-5).fit(frame)
        ours_s = min(ours_s, time.perf_counter() - start)
    assert ours.labels_ is not None
    ours_accuracy = float((ours.labels_ == truth.reindex(ours.labels_.index)).mean())
    python = python_with("crowd-kit") if args.anchor == "crowd-kit" else None
    if python is not None:
        with tempfile.TemporaryDirectory() as folder:
            answers, labels = Path(folder) / "answers.parquet", Path(folder) / "labels.parquet"
            plain = frame[["record_id", "annotator", "value"]].copy()
            plain.attrs = {}  # the truth stays here
            plain.to_parquet(answers)
            anchor_s = float(run(python, REFERENCE, str(answers), str(labels)))
            theirs = pd.read_parquet(labels)["label"]
        anchor = "crowd-kit DawidSkene"
    else:
        start = time.perf_counter()
        theirs = reference_loop(frame)
        anchor_s = time.perf_counter() - start
        anchor = "reference EM loop (crowd-kit not installable here)"
    anchor_accuracy = float((theirs == truth.reindex(theirs.index)).mean())
    print(f"answers: {len(frame):,} ({args.records:,} records × 5 of 20 annotators, 4 labels)")
    steps = f"{ours.n_iter_} EM steps"
    print(f"labelbook.quality.DawidSkene: {ours_s:.3f} s  accuracy {ours_accuracy:.4f}  ({steps})")
    print(f"{anchor}: {anchor_s:.3f} s  accuracy {anchor_accuracy:.4f}")
    ratio = ours_s / anchor_s
    same = abs(ours_accuracy - anchor_accuracy) <= 0.002
    verdict = "ok" if ratio <= TARGET_RATIO and same else "MISSED"
    target = f"target <= {TARGET_RATIO}×"
    print(f"ratio: {ratio:.2f}× the anchor's time ({target}), equal accuracy: {same}: {verdict}")


if __name__ == "__main__":
    main()
