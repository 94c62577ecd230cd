"""Every example notebook runs top to bottom in a real kernel, as a researcher would run it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# nbclient's command, installed beside this interpreter.
JUPYTER_EXECUTE = str(Path(sys.executable).with_name("jupyter-execute"))
EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*/*.ipynb"))


def test_there_are_examples_to_run() -> None:
    assert EXAMPLES, "no example notebooks found under examples/"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.parent.name)
def test_example_notebook_executes(path: Path, tmp_path: Path) -> None:
    # A copy beside its sample files, run by nbclient in a process of its own: the kernel's event
    # loop and sockets never mix with the test session's.
    workdir = tmp_path / path.parent.name
    shutil.copytree(path.parent, workdir)
    result = subprocess.run(
        [JUPYTER_EXECUTE, "--kernel_name=python3", "--timeout=120", "--inplace", path.name],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
