"""Read a notebook into a Guide: read → preprocess → build, like nbconvert's exporters.

`load(path)` reads an .ipynb (nbformat 4; older formats are upgraded) or a jupytext notebook
(.py in percent or light format, .md), runs `PREPROCESSORS` in order — each step takes and
returns `(nb, resources)` and is driven by cell tags — and builds the `Guide` from what is left.

What a researcher writes
------------------------
Front matter
    The first markdown (or raw) cell may start with a YAML block between `---` lines; it becomes
    `Guide.metadata`, and its `title` the guide's title. Without one, the title is the first
    level-1 heading (when it comes before any other heading), else the file name.
Sections
    Markdown cells are split at headings of level 1 to 3. A section's id is the slug of its
    heading (`## Partial success` → `partial-success`; repeats get `-2`, `-3`), or the id written
    after it: `## Partial success {#partial}`. Text before the first section heading forms the
    section `introduction` (level 0, no title).
Rules
    A paragraph or list item that starts with a bracketed id beginning with `R-` (or `R` and a
    digit) is a rule: `- [R-partial-tests] If the tests were never run, the outcome is at most
    partial.` The id (`R-partial-tests`) is the researcher's to keep stable across releases, so
    reports and explanations can cite it; the rule belongs to the section it appears in.
Cell tags
    `labelbook:task`         the one code cell that binds an `lb.Task` to `task`.
    `labelbook:example`      a code cell that binds `example = lb.Example(record=..., answers=...,
                             explanation=...)` (or `examples = [...]`); it belongs to its section.
    `labelbook:hide`         researcher-only: dropped before anything else, never rendered.
    `labelbook:show-output`  show the code cell's stored outputs (text, HTML tables, markdown,
                             PNG/JPEG images). Image alt text comes from the output's metadata
                             (`{"image/png": {"alt": ...}}`) or the cell's `labelbook.alt`
                             metadata (a string, or a list with one entry per image).
    Untagged code cells are the researcher's and are not shown. Any other `labelbook:` tag is an
    error, so a typo never silently drops an example.

Task and example cells are executed with `exec`, without a kernel, each in a fresh namespace
holding `lb` (this package) — example cells also see `task` — with the notebook's folder as the
working directory, as Jupyter would have it. They are the researcher's own code: loading a
notebook runs it, as `jupyter nbconvert --execute` would. IPython magics are not available.

Every problem raises `NotebookError` naming the file, the 1-based cell number and the fix.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from labelbook.errors import LabelbookError, NotebookError
from labelbook.guide import CellOutput, Guide
from labelbook.outline import build_guide
from labelbook.task import Example, Task

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "EXAMPLE_TAG",
    "HIDE_TAG",
    "PREPROCESSORS",
    "SHOW_OUTPUT_TAG",
    "SUPPORTED_SUFFIXES",
    "TASK_TAG",
    "build_guide",
    "check_tags",
    "collect_outputs",
    "inline_attachments",
    "load",
    "number_cells",
    "preprocess",
    "read",
    "read_front_matter",
    "remove_hidden",
    "run_example_cells",
    "run_task_cell",
]

TASK_TAG = "labelbook:task"
EXAMPLE_TAG = "labelbook:example"
HIDE_TAG = "labelbook:hide"
SHOW_OUTPUT_TAG = "labelbook:show-output"
_KNOWN_TAGS = (TASK_TAG, EXAMPLE_TAG, HIDE_TAG, SHOW_OUTPUT_TAG)

SUPPORTED_SUFFIXES = (".ipynb", ".py", ".md")

Resources: TypeAlias = dict[str, Any]
Preprocessor: TypeAlias = Callable[["NotebookNode", Resources], tuple["NotebookNode", Resources]]

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S | re.M)


def load(path: str | os.PathLike[str]) -> Guide:
    """Read a notebook (.ipynb, or jupytext .py / .md) into a Guide."""
    nb, resources = read(path)
    nb, resources = preprocess(nb, resources)
    return build_guide(nb, resources)


def preprocess(
    nb: NotebookNode, resources: Resources, steps: Sequence[Preprocessor] | None = None
) -> tuple[NotebookNode, Resources]:
    """Run `steps` (default: every step of `PREPROCESSORS`) in order; each error names the notebook."""
    for step in PREPROCESSORS if steps is None else steps:
        try:
            nb, resources = step(nb, resources)
        except NotebookError as err:
            err.path = err.path or resources["path"]
            raise
    return nb, resources


# ---------------------------------------------------------------------------------------------
# Read


def read(path: str | os.PathLike[str]) -> tuple[NotebookNode, Resources]:
    """Read a notebook file into nbformat 4 and the resources the pipeline starts from."""
    try:
        return _read(Path(path))
    except NotebookError as err:
        err.path = err.path or Path(path)
        raise


def _read(path: Path) -> tuple[NotebookNode, Resources]:
    if path.suffix not in SUPPORTED_SUFFIXES:
        raise NotebookError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; labelbook reads "
            f"{', '.join(SUPPORTED_SUFFIXES)} notebooks (convert others with `jupytext --to ipynb`)."
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such file; check the path.") from None
    except OSError as err:
        raise NotebookError(f"{path}: cannot be read: {err.strerror or err}.") from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise NotebookError(
            f"{path}: not UTF-8 text (byte {err.start}); save the notebook as UTF-8."
        ) from err
    nb = _read_ipynb(path, text) if path.suffix == ".ipynb" else _read_jupytext(path, text)
    resources: Resources = {"path": path, "source_hash": hashlib.sha256(data).hexdigest()}
    return nb, resources


def _read_ipynb(path: Path, text: str) -> NotebookNode:
    import nbformat

    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        truncated = " The file looks truncated." if err.pos >= len(text.rstrip()) else ""
        raise NotebookError(
            f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}.{truncated} "
            "Restore it from version control or re-save it from Jupyter."
        ) from err
    major = raw.get("nbformat") if isinstance(raw, dict) else None
    if not isinstance(major, int) or isinstance(major, bool):
        raise NotebookError(
            f"{path}: not a Jupyter notebook (no 'nbformat' version in the JSON); "
            "pass an .ipynb saved by Jupyter."
        )
    if major > 4:
        raise NotebookError(f"{path}: nbformat {major} is newer than labelbook reads (4); upgrade labelbook.")
    if major == 4:
        _check_cells(path, raw)
    try:
        with warnings.catch_warnings():
            # Old minor versions warn about missing cell ids; the upgrade below adds them.
            warnings.simplefilter("ignore")
            nb = nbformat.reader.reads(text)
            nb = nbformat.convert(nb, 4)
    except Exception as err:
        raise NotebookError(
            f"{path}: cannot read this nbformat {major} notebook: {err}. "
            "Open and re-save it in Jupyter to upgrade it."
        ) from err
    return nb


def _check_cells(path: Path, raw: dict[str, Any]) -> None:
    """The structure the pipeline relies on, with messages that name the cell."""
    cells = raw.get("cells")
    if not isinstance(cells, list):
        raise NotebookError(f"{path}: the notebook has no 'cells' list; re-save it from Jupyter.")
    for number, cell in enumerate(cells, start=1):
        where = f"{path}, cell {number}"
        if not isinstance(cell, dict):
            raise NotebookError(
                f"{where}: a cell must be a JSON object; re-save the notebook from Jupyter.", cell=number
            )
        if cell.get("cell_type") not in ("markdown", "code", "raw"):
            raise NotebookError(
                f"{where}: unknown cell_type {cell.get('cell_type')!r} (expected markdown, code or raw).",
                cell=number,
            )
        source = cell.get("source")
        if not (
            isinstance(source, str) or (isinstance(source, list) and all(isinstance(s, str) for s in source))
        ):
            raise NotebookError(
                f"{where}: the cell has no text 'source'; re-save the notebook from Jupyter.", cell=number
            )
        tags = (cell.get("metadata") or {}).get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise NotebookError(
                f"{where}: metadata.tags must be a list of strings, got {tags!r}.", cell=number
            )


def _read_jupytext(path: Path, text: str) -> NotebookNode:
    import jupytext

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return jupytext.reads(text, fmt=path.suffix.lstrip("."))
    except Exception as err:
        raise NotebookError(f"{path}: jupytext cannot read this notebook: {err}.") from err


# ---------------------------------------------------------------------------------------------
# Preprocess: each step (nb, resources) -> (nb, resources)


def _tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _where(resources: Resources, cell: NotebookNode, tag: str = "") -> str:
    label = f" ({tag})" if tag else ""
    return f"{resources['path']}, cell {cell['cell_number']}{label}"


def number_cells(nb: NotebookNode, resources: Resources) -> tuple[NotebookNode, Resources]:
    """Record each cell's 1-based position (`cell["cell_number"]`) before any cell is dropped."""
    for number, cell in enumerate(nb.cells, start=1):
        cell["cell_number"] = number
    return nb, resources


def check_tags(nb: NotebookNode, resources: Resources) -> tuple[NotebookNode, Resources]:
    """Refuse unknown `labelbook:` tags and tags on the wrong kind of cell."""
    for cell in nb.cells:
        for tag in _tags(cell):
            if tag.startswith("labelbook:") and tag not in _KNOWN_TAGS:
                close = difflib.get_close_matches(tag, _KNOWN_TAGS, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known tags: {', '.join(_KNOWN_TAGS)}."
                raise NotebookError(
                    f"{_where(resources, cell)}: unknown tag {tag!r}; {hint}", cell=cell["cell_number"]
                )
            if tag in (TASK_TAG, EXAMPLE_TAG, SHOW_OUTPUT_TAG) and cell.cell_type != "code":
                raise NotebookError(
                    f"{_where(resources, cell)}: the tag {tag!r} belongs on a code cell, "
                    f"not a {cell.cell_type} cell; move it.",
                    cell=cell["cell_number"],
                )
    return nb, resources


def remove_hidden(nb: NotebookNode, resources: Resources) -> tuple[NotebookNode, Resources]:
    """Drop `labelbook:hide` cells (a task cell is kept: its code is never shown anyway)."""
    nb.cells = [c for c in nb.cells if HIDE_TAG not in _tags(c) or TASK_TAG in _tags(c)]
    return nb, resources


def inline_attachments(nb: NotebookNode, resources: Resources) -> tuple[NotebookNode, Resources]:
    """Replace `attachment:name` links in markdown cells with data URIs, so documents stand alone."""
    for cell in nb.cells:
        attachments = cell.get("attachments") or {}
        if cell.cell_type != "markdown" or not attachments:
            continue
        for name, bundle in attachments.items():
            mime, payload = next(iter(bundle.items()), ("", ""))
            if isinstance(payload, list):
                payload = "".join(payload)
            uri = f"data:{mime};base64,{''.join(str(payload).split())}"
            cell.source = cell.source.replace(f"attachment:{name}", uri)
    return nb, resources


def read_front_matter(nb: NotebookNode, resources: Resources) -> tuple[NotebookNode, Resources]:
    """Take YAML front matter from the first markdown or raw cell into `resources["metadata"]`."""
    resources["metadata"] = {}
    first = next((c for c in nb.cells if c.cell_type in ("markdown", "raw")), None)
    if first is None:
        return nb, resources
    match = _FRONT_MATTER.match(first.source.lstrip("\n"))
    if match is None:
        return nb, resources
    import yaml

    try:
        metadata = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 2} of the cell" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise NotebookError(
            f"{_where(resources, first)}: the front matter is not valid YAML{line}: {problem}. "
            "Write `key: value` lines between the two `---` lines.",
            cell=first["cell_number"],
        ) from err
    if metadata is None:  # a horizontal rule, then only comments or headings: not front matter
        return nb, resources
    if not isinstance(metadata, dict):
        raise NotebookError(
            f"{_where(resources, first)}: the front matter must be `key: value` lines, "
            f"got a YAML {type(metadata).__name__}. (A `---` line at the top of the first cell starts "
            "front matter; for a horizontal rule there, write `***`.)",
            cell=first["cell_number"],
        )
    title = metadata.get("title")
    if title is not None and not isinstance(title, str):
        raise NotebookError(
            f"{_where(resources, first)}: the front matter's title must be text, got {title!r}.",
            cell=first["cell_number"],
        )
    resources["metadata"] = metadata
    rest = first.source.lstrip("\n")[match.end() :]
    first.source = rest if first.cell_type == "markdown" else ""
    return nb, resources


@contextmanager
def _working_directory(folder: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def _sentence(text: str) -> str:
    """`text` ending in exactly one full stop (or its own ? or !), never two."""
    text = text.strip()
    return text if text.endswith((".", "?", "!", ".)", "?)", "!)")) else f"{text}."


def _run_cell(
    cell: NotebookNode, resources: Resources, tag: str, namespace: dict[str, Any]
) -> dict[str, Any]:
    """Execute a cell's code in `namespace`; any failure becomes a NotebookError naming the cell."""
    where = _where(resources, cell, tag)
    number = cell["cell_number"]
    filename = f"<{resources['path']} cell {number}>"
    lines = cell.source.splitlines()
    try:
        code = compile(cell.source, filename, "exec")
    except SyntaxError as err:
        line = f" at line {err.lineno} of the cell" if err.lineno else ""
        text = lines[err.lineno - 1].strip() if err.lineno and err.lineno <= len(lines) else ""
        if text.startswith(("%", "!")):
            fix = (
                f"Remove the IPython magic `{text}` from cell {number}, or move it to an untagged cell: "
                "this cell runs as plain Python, without a kernel."
            )
        else:
            at = f" at line {err.lineno}" if err.lineno else ""
            quoted = f" (`{text}`)" if text else ""
            fix = f"Correct the Python syntax of cell {number}{at}{quoted}, then run the cell to check it."
        raise NotebookError(
            f"{where}: SyntaxError{line}: {_sentence(err.msg)}", cell=number, fix=fix
        ) from None
    try:
        with _working_directory(resources["path"].resolve().parent):
            exec(code, namespace)
    except (Exception, SystemExit) as err:
        location = ""
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == filename]
        if frames and frames[-1].lineno and frames[-1].lineno <= len(lines):
            failed = frames[-1].lineno
            location = f" (line {failed} of the cell: `{lines[failed - 1].strip()}`)"
        message = _sentence(str(err) or type(err).__name__)
        problem = f"{where} raised {type(err).__name__}{location}: {message}"
        defined = "`lb` and `task` are" if tag == EXAMPLE_TAG else "`lb` is"
        if isinstance(err, LabelbookError):  # its message already says what to change
            fix = f"Change cell {number} as the message says."
        elif isinstance(err, NameError) and err.name:
            fix = (
                f"Import or define `{err.name}` in cell {number}: it runs on its own, without a kernel, "
                f"in a fresh namespace where only {defined} defined."
            )
        else:
            fix = (
                f"Fix cell {number}: it runs on its own, without a kernel, in a fresh namespace where only "
                f"{defined} defined; import anything else it uses."
            )
        raise NotebookError(problem, cell=number, fix=fix) from err
    return namespace


def _fresh_namespace() -> dict[str, Any]:
    import labelbook

    return {"__name__": "__labelbook__", "lb": labelbook}


def run_task_cell(nb: NotebookNode, resources: Resources) -> tuple[NotebookNode, Resources]:
    """Run the one `labelbook:task` cell and keep the Task it binds to `task`."""
    cells = [c for c in nb.cells if TASK_TAG in _tags(c)]
    path = resources["path"]
    if not cells:
        raise NotebookError(
            f"{path}: no cell is tagged {TASK_TAG!r}.",
            fix="Add the tag to the code cell that binds `task = lb.Task(...)` "
            "(JupyterLab: property inspector → Cell Tags).",
        )
    if len(cells) > 1:
        numbers = ", ".join(str(c["cell_number"]) for c in cells)
        raise NotebookError(
            f"{path}: cells {numbers} are all tagged {TASK_TAG!r}; a guide has one task.",
            cell=cells[1]["cell_number"],
            fix="Keep the tag on one cell.",
        )
    cell = cells[0]
    namespace = _run_cell(cell, resources, TASK_TAG, _fresh_namespace())
    task = namespace.get("task")
    if "task" not in namespace:
        raise NotebookError(
            f"{_where(resources, cell, TASK_TAG)}: the cell ran but did not bind `task`.",
            cell=cell["cell_number"],
            fix=f"End cell {cell['cell_number']} with `task = lb.Task(...)`.",
        )
    if not isinstance(task, Task):
        raise NotebookError(
            f"{_where(resources, cell, TASK_TAG)}: `task` is a {type(task).__name__}, not an lb.Task.",
            cell=cell["cell_number"],
            fix=f"In cell {cell['cell_number']}, bind "
            "`task = lb.Task(name=..., fields=[...], questions=[...])`.",
        )
    resources["task"] = task
    resources["task_cell"] = cell["cell_number"]
    return nb, resources


def run_example_cells(nb: NotebookNode, resources: Resources) -> tuple[NotebookNode, Resources]:
    """Run each `labelbook:example` cell; keep its Examples in `resources["examples"][cell number]`."""
    resources["examples"] = {}
    for cell in nb.cells:
        if EXAMPLE_TAG not in _tags(cell):
            continue
        namespace = _fresh_namespace()
        namespace["task"] = resources["task"]
        namespace = _run_cell(cell, resources, EXAMPLE_TAG, namespace)
        where = _where(resources, cell, EXAMPLE_TAG)
        if "example" in namespace:
            found: object = [namespace["example"]]
        elif "examples" in namespace:
            found = namespace["examples"]
        else:
            raise NotebookError(
                f"{where}: the cell ran but did not bind `example`; end it with "
                "`example = lb.Example(record={...}, answers={...}, explanation=...)`.",
                cell=cell["cell_number"],
            )
        if not isinstance(found, Sequence) or not all(isinstance(e, Example) for e in found) or not found:
            raise NotebookError(
                f"{where}: `example` must be an lb.Example (or `examples` a non-empty list of them); "
                "bind `example = lb.Example(record={...}, answers={...}, explanation=...)`.",
                cell=cell["cell_number"],
            )
        resources["examples"][cell["cell_number"]] = list(found)
    return nb, resources


_OUTPUT_KINDS = (
    ("image/png", "image"),
    ("image/jpeg", "image"),
    ("text/html", "html"),
    ("text/markdown", "markdown"),
    ("text/plain", "text"),
)


def collect_outputs(nb: NotebookNode, resources: Resources) -> tuple[NotebookNode, Resources]:
    """Keep the stored outputs of `labelbook:show-output` cells in `resources["outputs"][cell number]`."""
    resources["outputs"] = {}
    for cell in nb.cells:
        if SHOW_OUTPUT_TAG not in _tags(cell):
            continue
        alts = (cell.metadata.get("labelbook") or {}).get("alt", [])
        alts = [alts] if isinstance(alts, str) else list(alts)
        outputs: list[CellOutput] = []
        images = 0
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                if output.get("name") == "stdout":
                    outputs.append(CellOutput("text", "text/plain", output.text, cell["cell_number"]))
                continue
            if output.output_type not in ("execute_result", "display_data"):
                continue  # errors are the researcher's business
            data = output.get("data", {})
            for mime, kind in _OUTPUT_KINDS:
                if mime not in data:
                    continue
                payload = data[mime]
                payload = "".join(payload) if isinstance(payload, list) else str(payload)
                alt = ""
                if kind == "image":
                    payload = "".join(payload.split())
                    alt = str((output.get("metadata", {}).get(mime) or {}).get("alt", ""))
                    if not alt and images < len(alts):
                        alt = str(alts[images])
                    images += 1
                outputs.append(CellOutput(kind, mime, payload, cell["cell_number"], alt))  # type: ignore[arg-type]
                break
        resources["outputs"][cell["cell_number"]] = outputs
    return nb, resources


PREPROCESSORS: tuple[Preprocessor, ...] = (
    number_cells,
    check_tags,
    remove_hidden,
    inline_attachments,
    read_front_matter,
    run_task_cell,
    run_example_cells,
    collect_outputs,
)
"""The steps `load` runs, in order; each takes and returns `(nb, resources)`."""
