"""TryIt.send: the researcher's pilot answers land in the real Argilla project as their own responses."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import labelbook as lb
from labelbook_jupyter import TryIt

EXAMPLE = Path(__file__).parents[3] / "examples" / "trajectory-rating"


def published(tmp_path: Path, server: Any, dataset: str) -> Path:
    """A project of its own (another notebook publishing into the same dataset would be refused)."""
    notebook = tmp_path / "guide.ipynb"
    for name in ("guide.ipynb", "records.jsonl"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    lb.release(notebook, "first")
    lb.publish(notebook, records=tmp_path / "records.jsonl", workspace="pilot", dataset=dataset,
               api_url=server.url, api_key=server.api_key, progress=False)  # fmt: skip
    return notebook


def test_send_submits_the_answers_as_the_researchers_own(tmp_path: Path, lb_server: Any) -> None:
    notebook = published(tmp_path, lb_server, "pilot-send")
    trying = TryIt(notebook, tmp_path / "records.jsonl", n=3, shuffle=False, annotator=lb_server.username)
    trying.choose("outcome", "partial").choose("rationale", "Never ran the tests.").submit()
    trying.choose("outcome", "failure").choose("rationale", "Exit code 2.").submit()
    trying.skip()
    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
        assert trying.send(project) == 3
        assert "Sent 3 response(s)" in trying.message.value
        summary = project._repr_html_()
        assert "<b>pilot-send</b>" in summary and project.url in summary
        assert lb_server.api_key not in summary
        pulled = project.annotations()
    mine = pulled[pulled["annotator"] == lb_server.username]
    outcome = mine[mine["question"] == "outcome"].set_index("record_id")
    assert outcome.loc["traj-001", "value"] == "partial" and outcome.loc["traj-001", "status"] == "submitted"
    assert outcome.loc["traj-002", "value"] == "failure"
    assert mine[mine["record_id"] == "traj-003"]["status"].tolist() == ["discarded", "discarded"]
    # The pilot's frame and the pull agree on what a quality function reads.
    sent = trying.answers
    assert set(sent.columns) >= set(pulled.columns)
    assert sent.loc[sent["question"] == "outcome", "value"].tolist()[:2] == ["partial", "failure"]


def test_send_refuses_records_that_are_not_published(tmp_path: Path, lb_server: Any) -> None:
    notebook = published(tmp_path, lb_server, "pilot-refused")
    trying = TryIt(notebook, n=1, shuffle=False)  # the worked examples: never published
    trying.choose("outcome", "success").choose("rationale", "r").submit()
    with lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as project:
        assert trying.send(project) == 0
    assert "are not in dataset 'pilot-refused'" in trying.error and "success-example-1" in trying.error


def test_send_before_publishing_says_to_publish_first(tmp_path: Path) -> None:
    trying = TryIt(EXAMPLE / "guide.ipynb", n=1)
    trying.choose("outcome", "success").choose("rationale", "r").submit()
    assert trying.send(tmp_path / "guide.ipynb") == 0
    assert "not published yet" in trying.error
