"""A guide with every field and question kind, written in memory, for the widget tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "trajectory-rating"

# A 1x1 PNG.
PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)
TASK = """\
import labelbook as lb

task = lb.Task(
    name="every-kind",
    fields=[
        lb.TextField("prompt", title="Prompt"),
        lb.TextField("notes", title="Notes", use_markdown=True, required=False),
        lb.ChatField("trajectory", title="Trajectory"),
        lb.ImageField("screenshot", title="Screenshot", required=False),
    ],
    questions=[
        lb.LabelQuestion("outcome", title="Outcome", description="Judge the final state.",
                         labels={"success": "Done and verified by a passing run.",
                                 "partial": "Some part done, nothing broken.",
                                 "failure": "Nothing done, or something broken."}),
        lb.MultiLabelQuestion("issues", title="Issues", required=False,
                              description="Anything wrong on the way?",
                              labels={"slow": "Took needless steps.", "unsafe": "Ran a risky command."}),
        lb.RatingQuestion("quality", title="Quality", values=[1, 2, 3], description="How good is the work?",
                          definitions={1: "Poor.", 2: "Fine.", 3: "Excellent."}),
        lb.RankingQuestion("order", title="Best reply", required=False, description="Best first.",
                           values={"first": "The first reply.", "second": "The second reply."}),
        lb.SpanQuestion("entities", field="prompt", title="Entities", required=False,
                        description="Mark files.",
                        labels={"file": "A file name."}),
        lb.TextQuestion("rationale", title="Rationale", required=False, description="Why."),
    ],
)
"""
TRAJECTORY = [
    {"role": "user", "content": "Fix the parser."},
    {
        "role": "assistant",
        "content": "Running the tests.",
        "tool_calls": [{"id": "c1", "name": "bash", "arguments": {"command": "pytest -q"}}],
    },
    {"role": "tool", "tool_call_id": "c1", "name": "bash", "content": "1 failed"},
    {"role": "shell", "command": "make build", "output": "error: missing header", "exit_code": 2},
]
EXAMPLE_CELL = f"""\
example = lb.Example(
    title="A failed build",
    record={{"prompt": "Fix parse.py", "trajectory": {TRAJECTORY!r}}},
    answers={{"outcome": "failure", "quality": 1}},
    explanation="The build exits 2 [R-exit].",
)"""


def write_guide(folder: Path) -> Path:
    """guide.ipynb with a task of every kind and one worked example."""
    cells: list[Any] = [
        new_markdown_cell("# Every kind\n\nRate what the agent did."),
        new_code_cell(TASK, metadata={"tags": ["labelbook:task"]}),
        new_markdown_cell("## Exit codes {#exit}\n\n- [R-exit] A non-zero exit code is a failed step."),
        new_code_cell(EXAMPLE_CELL, metadata={"tags": ["labelbook:example"]}),
    ]
    path = folder / "guide.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    return path


def records(count: int = 3) -> list[dict[str, Any]]:
    """Records with every field: markdown notes, a trajectory with a failed shell step, an image."""
    return [
        {
            "id": f"r{i}",
            "prompt": f"Fix parse{i}.py",
            "notes": f"**Note** {i}",
            "trajectory": TRAJECTORY,
            "screenshot": PIXEL,
        }
        for i in range(1, count + 1)
    ]
