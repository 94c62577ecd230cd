"""Diff speed: two generated 300-section guides, compared section by section with word highlights.

Builds two guides in memory (300 sections of prose with three rules each, a worked example every
tenth section, one labeled question), then edits the second one as a revision would: every
fifth section reworded, every tenth rule changed, a few sections added and removed, a label
added and a definition reworded. Measures `labelbook.releases.diff` on the two snapshots plus
the word-level highlights of every change (median of warm runs) against the 0.2 s target, and
prints the HTML rendering time of the same diff for information.

    python benchmarks/diff_speed.py                 # 300 sections, 10 runs
    python benchmarks/diff_speed.py --sections 1000
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import labelbook as lb
from labelbook import releases
from labelbook.guide import Guide, Markdown, Rule, Section, WorkedExample

TARGET_S = 0.2
WORDS = [
    "agent", "trajectory", "command", "output", "test", "passes", "fails", "instruction", "evidence",
    "change", "state", "final", "project", "build", "verified", "partial", "success", "failure",
    "rationale", "step", "rule", "shell", "exit", "code", "error",
]  # fmt: skip


def _prose(n: int, words: int = 120) -> str:
    text = " ".join(WORDS[(n * 7 + i * 3) % len(WORDS)] for i in range(words))
    return text[:300] + ".\n\n" + text[300:] + "."


def _guide(sections: int, revised: bool) -> Guide:
    labels = {"success": "Every part is done and verified.", "partial": "Some part is done.",
              "failure": "Nothing is done."}  # fmt: skip
    if revised:
        labels["unclear"] = "The trajectory is cut off."
        labels["partial"] = "Some required part is done and nothing is broken."
    question = lb.LabelQuestion("outcome", description="Pick one.", labels=labels)
    task = lb.Task(name="bench", fields=[lb.TextField("text")], questions=[question])
    built: list[Section] = []
    for n in range(sections):
        if revised and n % 97 == 3:
            continue  # removed
        sid = f"section-{n}"
        prose = _prose(n)
        if revised and n % 5 == 0:
            prose = prose.replace("evidence", "proof").replace("final", "last")
        rules = tuple(
            Rule(f"R-{n}-{k}", f"Rule {k} of section {n}: " + _prose(n + k, 25)
                 + (" Unless the build fails." if revised and (n + k) % 10 == 0 else ""), sid, n + 2)
            for k in range(3)
        )  # fmt: skip
        blocks: list[Any] = [Markdown(prose, n + 2)]
        if n % 10 == 0:
            example = lb.Example(record={"text": f"record {n}"}, answers={"outcome": "success"},
                                 explanation=_prose(n, 40))  # fmt: skip
            blocks.append(WorkedExample(f"{sid}-example-1", sid, n + 2, example))
        built.append(Section(sid, f"Section {n}", 2, tuple(blocks), rules, (n + 2,)))
        if revised and n % 97 == 50:
            built.append(Section(f"new-{n}", f"New {n}", 2, (Markdown(_prose(n + 1), n + 2),), (), (n + 2,)))
    return Guide("Bench", {}, task, 1, tuple(built), Path("bench.ipynb"), "0" * 64)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", type=int, default=300)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    old = releases.snapshot(_guide(args.sections, revised=False))
    new = releases.snapshot(_guide(args.sections, revised=True))

    def once() -> releases.GuideDiff:
        changes = releases.diff(old, new, old_label="1.0.0", new_label="working")
        for change in changes.changes:
            change.segments  # noqa: B018 - the word highlights are part of what a diff costs
        return changes

    cold_start = time.perf_counter()
    changes = once()
    cold = time.perf_counter() - cold_start
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    start = time.perf_counter()
    page = releases.render_diff_html(changes)
    html_s = time.perf_counter() - start
    print(f"guides: {args.sections} sections each; {len(changes.changes)} changes, bump {changes.bump}")
    print(f"diff + word highlights: median {median * 1000:.1f} ms over {args.runs} runs", end="")
    print(f" (cold {cold * 1000:.1f} ms)")
    verdict = "ok" if median <= TARGET_S else "SLOW"
    print(f"target {TARGET_S * 1000:.0f} ms -> ratio {median / TARGET_S:.2f} ({verdict})")
    print(
        f"HTML page of the diff: {html_s * 1000:.1f} ms, {len(page) / 1024:.0f} KiB (not part of the target)"
    )


if __name__ == "__main__":
    main()
