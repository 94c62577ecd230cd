"""`%load_ext labelbook_jupyter` and `%labelbook ...`, and the SDK objects' notebook summaries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from widget_guides import EXAMPLE

import labelbook as lb
from labelbook_jupyter import Preview, TryIt
from labelbook_jupyter.magics import labelbook_magic


@pytest.fixture
def shell() -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell

    ipython = InteractiveShell.instance()
    try:
        yield ipython
    finally:
        InteractiveShell.clear_instance()


def test_load_ext_registers_the_magic(shell: Any) -> None:
    shell.run_line_magic("load_ext", "labelbook_jupyter")
    shell.user_ns["guide"] = lb.load(EXAMPLE / "guide.ipynb")
    widget = shell.run_line_magic("labelbook", "preview guide")
    assert isinstance(widget, Preview) and widget.error == "" and widget.position.value == "1 of 3"
    path = EXAMPLE / "guide.ipynb"
    trying = shell.run_line_magic("labelbook", f"try {path} --records {EXAMPLE / 'records.jsonl'} -n 2")
    assert isinstance(trying, TryIt) and trying.position.value == "Item 1 of 2"


def test_gold_and_order_options() -> None:
    path = EXAMPLE / "guide.ipynb"
    line = (
        f"try {path} --records {EXAMPLE / 'records.jsonl'} --gold {EXAMPLE / 'gold.jsonl'} -n 3 --no-shuffle"
    )
    trying = labelbook_magic(line)
    assert [r.id for r in trying.trial.items] == ["traj-001", "traj-002", "traj-003"]
    assert "traj-003" in trying.trial.gold


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", "the following arguments are required"),
        ("publish guide.ipynb", "invalid choice: &#x27;publish&#x27;"),
        ("try guide.ipynb -n many", "invalid int value"),
    ],
)
def test_a_bad_line_shows_the_usage(line: str, expected: str) -> None:
    box = labelbook_magic(line)
    assert expected in box.value and "%labelbook preview  GUIDE" in box.value


def test_a_missing_guide_is_a_message_in_the_widget(tmp_path: Path) -> None:
    widget = labelbook_magic(f"preview {tmp_path / 'nope.ipynb'}")
    assert "no such file" in widget.error


@pytest.mark.parametrize("command", ["monitor", "disagreements"])
def test_monitor_and_disagreements_of_an_unpublished_guide(command: str) -> None:
    widget = labelbook_magic(f"{command} {EXAMPLE / 'guide.ipynb'}")
    assert type(widget).__name__ == {"monitor": "Monitor", "disagreements": "Disagreements"}[command]
    assert "not published yet" in widget.error and "labelbook publish" in widget.error


def test_guide_and_release_summaries(tmp_path: Path) -> None:
    guide = lb.load(EXAMPLE / "guide.ipynb")
    text = guide._repr_html_()
    assert "<b>Rating agent trajectories</b>" in text and "success, partial, failure" in text
    assert f"{len(guide.sections)} sections" in text
    import shutil

    shutil.copy(EXAMPLE / "guide.ipynb", tmp_path / "guide.ipynb")
    release = lb.release(tmp_path / "guide.ipynb", "First <release>")
    summary = release._repr_html_()
    assert "<b>Release 1.0.0</b>" in summary and "First &lt;release&gt;" in summary
    assert "First release." in summary
