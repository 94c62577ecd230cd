"""Widget speed: Preview and TryIt over a generated 300-section guide and 1,000 records, in process.

Generates a guide notebook with at least 300 sections (build_speed's generator: prose with rules,
worked examples with agent trajectories) and 1,000 records with trajectories, then measures what a
researcher waits for in the kernel (widgets built without a front end, as in the tests):

1. Preview(guide, records) first render: median of warm constructions (the cold first one, with
   its imports, is printed too), against the 0.5 s target;
2. Preview's next record (the Next button's handler), median over 100 clicks, against 50 ms;
3. TryIt's next item (choose a label, write a rationale, Submit), median over 100 items, against 50 ms.

    python benchmarks/widgets_speed.py            # 300 sections, 1,000 records
    python benchmarks/widgets_speed.py --records 5000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from build_speed import generate

TARGET_FIRST_S = 0.5
TARGET_NEXT_S = 0.05
LABELS = ["success", "partial", "failure"]


def records(count: int) -> list[dict[str, Any]]:
    """Records like the example's: an instruction and a trajectory with tool calls and shell steps."""
    out = []
    for i in range(count):
        trajectory = [
            {"role": "user", "content": f"Fix bug #{i} in the parser."},
            {
                "role": "assistant",
                "content": "Running the tests first.",
                "tool_calls": [{"id": f"c{i}", "name": "bash", "arguments": {"command": "pytest -q"}}],
            },
            {"role": "tool", "tool_call_id": f"c{i}", "content": "F.\n1 failed, 1 passed"},
            {"role": "shell", "command": f"sed -i 's/a/b/' parser_{i}.py", "output": "", "exit_code": 0},
            {"role": "shell", "command": "pytest -q", "output": "..\n2 passed", "exit_code": i % 2},
            {"role": "assistant", "content": f"Fixed **bug {i}**; see `parser_{i}.py`."},
        ]
        out.append({"id": f"r{i:05d}", "instruction": f"Fix bug #{i}.", "trajectory": trajectory})
    return out


def report(name: str, median: float, target: float, extra: str = "") -> None:
    verdict = "ok" if median <= target else "MISSED"
    print(
        f"{name}: median {median * 1000:.1f} ms{extra}; target {target * 1000:.0f} ms -> "
        f"{median / target:.2f} of target [{verdict}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", type=int, default=300)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7, help="warm Preview constructions")
    parser.add_argument("--clicks", type=int, default=100, help="next record / next item")
    args = parser.parse_args()

    import labelbook as lb

    with tempfile.TemporaryDirectory(prefix="labelbook-bench-") as tmp:
        notebook = Path(tmp) / "guide.ipynb"
        cells = args.sections * 3 // 2
        while True:
            generate(notebook, cells)
            guide = lb.load(notebook)
            if len(guide.sections) >= args.sections:
                break
            cells += 50
        rows = records(args.records)

        from labelbook_jupyter import Preview, TryIt

        times = []
        for _ in range(args.runs + 1):
            start = time.perf_counter()
            preview = Preview(guide, rows)
            times.append(time.perf_counter() - start)
            if preview.error:
                raise SystemExit(f"Preview failed: {preview.error}")
        cold, warm = times[0], times[1:]

        steps = []
        for _ in range(min(args.clicks, len(rows) - 1)):
            start = time.perf_counter()
            preview.next.click()
            steps.append(time.perf_counter() - start)

        trying = TryIt(guide, rows, n=args.clicks + 1, seed=1, annotator="bench")
        if trying.error:
            raise SystemExit(f"TryIt failed: {trying.error}")
        items = []
        for i in range(args.clicks):
            start = time.perf_counter()
            trying.choose("outcome", LABELS[i % 3]).choose("rationale", f"step {i}").submit()
            items.append(time.perf_counter() - start)
        assert trying.trial is not None and len(trying.trial.results) == args.clicks, trying.error

        start = time.perf_counter()
        preview.show_guidelines()
        page_s = time.perf_counter() - start

    print(
        f"guide: {len(guide.sections)} sections, {len(guide.examples)} worked examples; {len(rows)} records"
    )
    report(
        "Preview first render",
        statistics.median(warm),
        TARGET_FIRST_S,
        f" over {args.runs} warm runs (cold first run {cold * 1000:.0f} ms, with imports)",
    )
    report("Preview next record", statistics.median(steps), TARGET_NEXT_S, f" over {len(steps)} clicks")
    report("TryIt next item", statistics.median(items), TARGET_NEXT_S, f" over {len(items)} items")
    print(f"(the guidelines, rendered when first opened: {page_s * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
