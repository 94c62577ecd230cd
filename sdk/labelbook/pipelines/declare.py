"""Find the pipeline a notebook or a .py module declares (for `labelbook pipeline run|status`).

A .py file runs as a module whose `__name__` is not `__main__` (so `if __name__ == "__main__":
pipe.run()` does not fire). In a notebook, the code cells tagged `labelbook:pipeline` run, or every
code cell when none is tagged; either way in the file's folder, so relative paths mean what they
mean in the notebook. Exactly one `Pipeline` must come out of it.
"""

from __future__ import annotations

import contextlib
import os
import runpy
from pathlib import Path
from typing import Any

from labelbook.pipelines.nodes import PipelineError
from labelbook.pipelines.pipeline import Pipeline

TAG = "labelbook:pipeline"


def load_pipeline(path: str | os.PathLike[str]) -> Pipeline:
    """The one Pipeline the file declares."""
    file = Path(path).resolve()
    if not file.is_file():
        raise PipelineError(f"{path}: no such file.")
    with contextlib.chdir(file.parent):
        if file.suffix == ".ipynb":
            import nbformat

            notebook = nbformat.read(file, as_version=4)
            cells = [c for c in notebook.cells if c.cell_type == "code"]
            tagged = [c for c in cells if TAG in c.get("metadata", {}).get("tags", [])]
            namespace: dict[str, Any] = {"__name__": "__labelbook_pipeline__", "__file__": str(file)}
            for number, cell in enumerate(tagged or cells, 1):
                try:
                    exec(compile(cell.source, f"{file}[cell {number}]", "exec"), namespace)
                except Exception as err:
                    raise PipelineError(f"{path}, code cell {number}: {type(err).__name__}: {err}") from err
        else:
            try:
                namespace = runpy.run_path(str(file), run_name="__labelbook_pipeline__")
            except PipelineError:
                raise
            except Exception as err:
                raise PipelineError(f"{path}: {type(err).__name__}: {err}") from err
    found = {id(v): v for v in namespace.values() if isinstance(v, Pipeline)}
    if len(found) != 1:
        what = "no Pipeline" if not found else f"{len(found)} pipelines"
        raise PipelineError(
            f"{path}: {what} declared; bind exactly one `lb.Pipeline(...)` to a name"
            + (f" in the cells tagged {TAG!r}." if file.suffix == ".ipynb" else ".")
        )
    pipe = next(iter(found.values()))
    return pipe
