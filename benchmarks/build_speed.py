"""Build speed: a generated 300-cell guide notebook, in process and as a whole `labelbook build`.

Generates a notebook of 300 cells (prose sections with rules, worked examples with agent
trajectories, hidden researcher cells, one task cell), then measures:

1. in process: `labelbook.load` + lint + `render_all` (guide.md, guide.html, task.json),
   median of warm runs, against the 0.3 s target (the first, cold run is printed too);
2. as whole processes, in the same run: `labelbook build NB -o DIR` against
   `jupyter nbconvert --to markdown NB` (the anchor), medians, against the ratio target 0.5.

    python benchmarks/build_speed.py               # 300 cells, 10 warm runs, 5 process runs each
    python benchmarks/build_speed.py --cells 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_IN_PROCESS_S = 0.3
TARGET_RATIO = 0.5
LABELS = {
    "success": "Every part of the instruction is done and verified by a passing run after the last change.",
    "partial": "Some required part is done and nothing is broken, but a part is missing or never verified.",
    "failure": "Nothing required is done, or the agent left the project worse than before.",
}
TASK = f"""\
import labelbook as lb

task = lb.Task(
    name="trajectory-rating",
    fields=[lb.TextField("instruction", description="What the agent was asked."),
            lb.ChatField("trajectory", description="What it did.")],
    questions=[
        lb.LabelQuestion("outcome", description="Judge the final state.", labels={LABELS!r}),
        lb.TextQuestion("rationale", description="Cite the step and the rule."),
    ],
    overlap=3,
)"""


def _example(n: int, rule: int) -> str:
    label = list(LABELS)[n % 3]
    trajectory = [
        {"role": "user", "content": f"Fix bug #{n} in the parser."},
        {
            "role": "assistant",
            "content": "Running the tests first.",
            "tool_calls": [{"id": f"c{n}", "name": "bash", "arguments": {"command": "pytest -q"}}],
        },
        {"role": "tool", "tool_call_id": f"c{n}", "content": "F.\n1 failed, 1 passed"},
        {"role": "shell", "command": "sed -i 's/a/b/' parser.py", "output": "", "exit_code": 0},
        {"role": "shell", "command": "pytest -q", "output": "..\n2 passed", "exit_code": 0},
    ]
    return (
        f"example = lb.Example(title='Case {n}', record={{'instruction': 'Fix bug #{n}.', "
        f"'trajectory': {trajectory!r}}}, "
        f"answers={{'outcome': {label!r}, 'rationale': 'See [R-{rule:03d}].'}}, "
        f"explanation='The final run decides: {label}, not the other labels [R-{rule:03d}].')"
    )


def generate(path: Path, cells: int) -> None:
    """A guide of `cells` cells: ~2/3 prose, ~1/5 examples, the rest hidden researcher code."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    out: list[Any] = [
        new_markdown_cell("# Rating agent trajectories\n\nRead what the agent did and rate the outcome."),
        new_code_cell(TASK, metadata={"tags": ["labelbook:task"]}),
    ]
    n = rule = 0
    while len(out) < cells:
        n += 1
        kind = n % 15
        if kind < 10:
            rule = n
            out.append(
                new_markdown_cell(
                    f"## Topic {n}\n\nWhen the agent edits file {n}, compare success, partial and failure "
                    f"by the last test run. A *passing* run after the last change is evidence.\n\n"
                    f"- [R-{n:03d}] The outcome for case {n} follows the final `pytest` run.\n"
                    f"- Details: see [the glossary](#glossary).\n\n| step | meaning |\n|---|---|\n"
                    f"| {n} | a check |"
                )
            )
        elif kind < 13:
            out.append(new_code_cell(_example(n, rule), metadata={"tags": ["labelbook:example"]}))
        else:
            out.append(new_code_cell(f"scratch_{n} = {n} * 2", metadata={"tags": ["labelbook:hide"]}))
    nb = new_notebook(cells=out[:cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def in_process(path: Path, runs: int) -> tuple[float, list[float]]:
    """Seconds for load + lint + render_all: the first (cold) run, then `runs` warm ones."""
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        import labelbook
        from labelbook.lint.prose import inline_tokens, parsed, words_of
        from labelbook.render import render_all

        for cache in (parsed, inline_tokens, words_of):
            cache.cache_clear()  # every run parses from scratch, as a fresh process would

        guide = labelbook.load(path)
        findings = labelbook.lint(guide)
        render_all(guide)
        times.append(time.perf_counter() - start)
        if any(f.severity == "error" for f in findings):
            raise SystemExit(f"the generated notebook has lint errors: {findings[:3]}")
    return times[0], times[1:]


def whole_process(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--runs", type=int, default=10, help="warm in-process runs")
    parser.add_argument("--process-runs", type=int, default=5, help="runs of each whole command")
    args = parser.parse_args()

    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="labelbook-bench-") as tmp:
        folder = Path(tmp)
        notebook = folder / "guide.ipynb"
        generate(notebook, args.cells)
        cold, warm = in_process(notebook, args.runs)
        median = statistics.median(warm)

        build = [str(bin_dir / "labelbook"), "build", str(notebook), "-o", str(folder / "build")]
        nbconvert = [
            str(bin_dir / "jupyter-nbconvert"),
            "--to",
            "markdown",
            str(notebook),
            "--output-dir",
            str(folder / "nbconvert"),
        ]
        whole_process(build, 1)  # warm the file cache and .pyc files for both
        whole_process(nbconvert, 1)
        build_times, nbconvert_times = [], []
        for _ in range(args.process_runs):  # interleaved, so drift affects both alike
            build_times += whole_process(build, 1)
            nbconvert_times += whole_process(nbconvert, 1)
        build_s, nbconvert_s = statistics.median(build_times), statistics.median(nbconvert_times)
        sizes = {p.name: p.stat().st_size for p in sorted((folder / "build").iterdir())}

    ratio_in = median / TARGET_IN_PROCESS_S
    ratio = build_s / nbconvert_s
    print(f"notebook: {args.cells} cells; outputs: {json.dumps(sizes)}")
    print(
        f"in process (load + lint + render all three): median {median * 1000:.0f} ms "
        f"over {args.runs} warm runs "
        f"(cold first run {cold * 1000:.0f} ms); target {TARGET_IN_PROCESS_S * 1000:.0f} ms -> "
        f"{ratio_in:.2f} of target [{'ok' if median <= TARGET_IN_PROCESS_S else 'MISSED'}]"
    )
    print(
        f"whole process: labelbook build {build_s * 1000:.0f} ms, jupyter nbconvert --to markdown "
        f"{nbconvert_s * 1000:.0f} ms (medians of {args.process_runs}) -> ratio {ratio:.2f}; "
        f"target <= {TARGET_RATIO} [{'ok' if ratio <= TARGET_RATIO else 'MISSED'}]"
    )


if __name__ == "__main__":
    main()
