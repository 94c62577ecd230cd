"""A store written by an earlier labelbook (commit 43ffcc4, before releases became a package) is
read, listed, diffed and released on top of by today's code: stores are never migrated."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from labelbook import releases

FIXTURE = Path(__file__).parent / "fixtures" / "store-43ffcc4"


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "old", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "old" / "guide.ipynb"


def test_an_old_store_opens_and_lists_with_its_hashes_checked(notebook: Path) -> None:
    found = releases.list_releases(notebook)
    assert [(str(r.version), r.bump, r.message) for r in found] == [
        ("1.0.0", "first", "first release"),
        ("1.1.0", "minor", "clarify R-better"),
    ]
    assert found[1].created_at == datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    assert not found[1].created
    assert found[1].changes == [
        "Rule R-better changed: Read both answers in full; pick B when it is the better answer overall."
    ]
    assert releases.open_release(notebook, "1.0.0") == found[0]
    [live] = releases.deployments(notebook)
    assert (live.version, live.dataset_id) == ("1.1.0", "00000000-0000-0000-0000-000000000001")
    assert (
        releases.live_release(notebook, live.dataset_id, datetime(2026, 12, 2, tzinfo=timezone.utc))
        == "1.1.0"
    )


def test_an_old_store_diffs_against_itself_and_the_notebook(notebook: Path) -> None:
    changes = releases.diff_versions(notebook, "1.0.0", "1.1.0")
    assert [(c.kind, c.id, c.action, c.bump) for c in changes.changes] == [
        ("rule", "R-better", "changed", "minor")
    ]
    assert not releases.diff_versions(notebook, "1.1.0"), "the notebook is as 1.1.0 released it"


def test_today_releases_on_top_of_an_old_store(notebook: Path) -> None:
    again = releases.release(notebook, "nothing new")
    assert (str(again.version), again.created) == ("1.1.0", False)
    nb = nbformat.read(notebook, as_version=4)
    [cell] = [c for c in nb.cells if "pick B when it is the better answer overall" in c.source]
    cell.source = cell.source.replace("the better answer overall", "teh better answer overall")
    nbformat.write(nb, notebook)
    made = releases.release(notebook, "typo", now=datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc))
    assert (str(made.version), made.bump, made.created) == ("1.1.1", "patch", True)
    assert [str(r.version) for r in releases.list_releases(notebook)] == ["1.0.0", "1.1.0", "1.1.1"]
