"""The full disagreement report on 100k records × 3 annotators (from 12, three vendors), with a
guide, gold answers on 2 000 records and two releases, rendered to HTML. Target: <= 10 s.

    python benchmarks/quality_report.py
    python benchmarks/quality_report.py --records 20000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from labelbook import quality
from labelbook.guide import Guide, Markdown, Rule, Section
from labelbook.task import LabelQuestion, Task, TextField, TextQuestion

TARGET_S = 10.0
LABELS = ["success", "partial", "failure", "blocked"]


def crowd(records: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    people = [f"{vendor}-{i}" for vendor in ("acme", "bright", "cheap") for i in range(4)]
    accuracy = np.repeat([0.93, 0.8, 0.6], 4)
    truth = rng.integers(0, len(LABELS), records)
    who = np.argsort(rng.random((records, len(people))), axis=1)[:, :3]
    right = rng.random(who.shape) < accuracy[who]
    noise = (truth[:, None] + rng.integers(1, len(LABELS), who.shape)) % len(LABELS)
    answer = np.where(right, truth[:, None], noise).ravel()
    n = records * 3
    ids = np.repeat([f"r{i:07d}" for i in range(records)], 3)
    names = np.array(people, dtype=object)[who.ravel()]
    base = pd.Timestamp("2025-03-03T09:00:00Z")
    stamps = base + pd.to_timedelta(np.sort(rng.uniform(0, 30 * 86400, n)), unit="s")
    common = {
        "record_id": ids,
        "annotator": names,
        "vendor": [name.split("-")[0] for name in names],
        "status": "submitted",
        "submitted_at": stamps,
        "release": np.where(np.arange(n) < n // 2, "1.0.0", "1.1.0"),
        "is_gold": np.repeat(np.arange(records) < 2000, 3),
    }
    outcome = pd.DataFrame({**common, "question": "outcome"})
    outcome["value"] = pd.Series(np.array(LABELS, dtype=object)[answer], dtype=object)
    rationale = pd.DataFrame({**common, "question": "rationale"})
    rationale["value"] = pd.Series([f"see step {i % 97}" for i in range(n)], dtype=object)
    frame = pd.concat([outcome, rationale], ignore_index=True)
    gold = pd.DataFrame(
        {
            "record_id": [f"r{i:07d}" for i in range(2000)],
            "question": "outcome",
            "value": np.array(LABELS)[truth[:2000]],
        }
    )
    return frame, gold


def guide() -> Guide:
    task = Task(
        "bench",
        fields=[TextField("text")],
        questions=[LabelQuestion("outcome", labels=dict.fromkeys(LABELS, "x")), TextQuestion("rationale")],
    )
    sections = tuple(
        Section(
            f"s{i}",
            f"{a} or {b}?",
            2,
            (Markdown(f"- [R-{i}] {a} is not {b}.", i),),
            (Rule(f"R-{i}", f"{a} is not {b}.", f"s{i}", i),),
            (i,),
        )
        for i, (a, b) in enumerate(
            [("partial", "failure"), ("success", "partial"), ("blocked", "failure")], 2
        )
    )
    return Guide("Bench", {}, task, 1, sections, Path("bench.ipynb"), "0" * 64)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    frame, gold = crowd(args.records)
    rates = {"acme": 30.0, "bright": 20.0, "cheap": 10.0}
    start = time.perf_counter()
    made = quality.report(frame, guide=guide(), gold=gold, rates=rates)
    built = time.perf_counter() - start
    page = made.to_html()
    total = time.perf_counter() - start
    print(f"answers: {len(frame):,} rows ({args.records:,} records × 3 annotators × 2 questions)")
    print(f"report tables: {built:.2f} s; with the HTML ({len(page) // 1024} KiB): {total:.2f} s")
    verdict = "ok" if total <= TARGET_S else "MISSED"
    print(f"ratio: {total / TARGET_S:.2f}× the {TARGET_S:.0f} s target: {verdict}")


if __name__ == "__main__":
    main()
