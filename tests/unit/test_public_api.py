"""What a researcher meets in a notebook: objects that flow, short reprs, names that tab-complete."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import labelbook as lb
from labelbook import releases

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trajectory-rating" / "guide.ipynb"


def test_lazy_names_are_listed_and_typed_but_not_imported() -> None:
    code = (
        "import sys, labelbook as lb; names = dir(lb); "
        "print(all(n in names for n in lb.__all__), 'argilla' in sys.modules, 'jinja2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False", "False"]
    assert lb.lint.__module__ == "labelbook.lint" and callable(lb.lint)
    assert lb.release is releases.release


def test_lint_stays_the_function_after_its_module_is_imported() -> None:
    import labelbook.lint.checks  # noqa: F401  (importing the module must not shadow lb.lint)

    assert callable(lb.lint) and lb.lint(lb.load(EXAMPLE)) == []


def test_a_guide_repr_is_one_short_line_without_images() -> None:
    guide = lb.load(EXAMPLE)
    text = repr(guide)
    assert text.startswith("<Guide ") and "\n" not in text and len(text) < 200
    assert "base64" not in text and f"{len(guide.sections)} sections" in text


def test_release_diff_and_findings_show_themselves_briefly(tmp_path: Path) -> None:
    notebook = tmp_path / "guide.ipynb"
    shutil.copy(EXAMPLE, notebook)
    guide = lb.load(notebook)
    first = lb.release(guide, "first")
    assert repr(first).startswith("<Release 1.0.0 (first, just made) ") and "'first'" in repr(first)
    again = lb.release(guide, "again")
    assert not again.created and repr(again).startswith("<Release 1.0.0 (first) ")
    notebook.write_text(notebook.read_text().replace("Agents often announce", "Agents frequently announce"))
    changes = lb.diff_versions(notebook, "1.0.0")
    assert repr(changes).startswith("<GuideDiff 1.0.0 → working: 1 change, needs a minor bump\n  minor ")
    page = changes._repr_html_()
    assert "<del>often</del><ins>frequently</ins>" in page.replace(" ", "")
    assert repr(lb.lint(guide)) == "<Findings: none>"
    assert repr(releases.diff_versions(notebook, "1.0.0", "1.0.0")) == "<GuideDiff 1.0.0 → 1.0.0: no changes>"
