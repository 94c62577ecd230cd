"""examples/researcher-walkthrough.ipynb runs top to bottom in a real kernel: guidelines, preview, try
with gold, release, publish to an embedded server it starts, monitor, pull, disagreements."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from labelbook import server

JUPYTER_EXECUTE = str(Path(sys.executable).with_name("jupyter-execute"))
EXAMPLES = Path(__file__).parents[3] / "examples"


def test_the_walkthrough_executes(tmp_path: Path) -> None:
    workdir = tmp_path / "examples"
    shutil.copytree(
        EXAMPLES, workdir, ignore=shutil.ignore_patterns("walkthrough", "*.releases", "*.labelbook")
    )
    try:
        result = subprocess.run(
            [
                JUPYTER_EXECUTE,
                "--kernel_name=python3",
                "--timeout=300",
                "--inplace",
                "researcher-walkthrough.ipynb",
            ],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.stop(workdir / "walkthrough" / "server")  # even when a cell failed after starting it
    assert result.returncode == 0, result.stderr[-3000:]
    nb = nbformat.read(workdir / "researcher-walkthrough.ipynb", as_version=4)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    widgets = [
        o["data"]["text/plain"].split("(")[0]
        for o in outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widgets == ["Preview", "TryIt", "Monitor", "Disagreements"]
    text = json.dumps([o.get("text", "") for o in outputs])
    assert "gold: 1 of 1 answers agree with the experts" in text
    # No password or API key in what the notebook shows.
    credentials = json.loads((workdir / "walkthrough" / "server" / "credentials.json").read_text())
    shown = json.dumps(outputs)
    assert credentials["password"] not in shown and credentials["api_key"] not in shown
