"""Monitor against the real embedded server: simulated contractors answer, a refresh shows them."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import labelbook as lb
from labelbook.argilla import Connection, Project
from labelbook_jupyter import Disagreements, Monitor

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "examples" / "trajectory-rating"


def demo() -> Any:
    """examples/demo.py: the simulated contractors."""
    spec = importlib.util.spec_from_file_location("labelbook_demo", ROOT / "examples" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, lb_server: Any) -> Any:
    folder = tmp_path_factory.mktemp("monitored")
    for name in ("guide.ipynb", "records.jsonl", "roster.csv", "gold.jsonl"):
        shutil.copy(EXAMPLE / name, folder / name)
    notebook = folder / "guide.ipynb"
    lb.release(notebook, "first")
    result = lb.publish(notebook, records=folder / "records.jsonl", annotators=folder / "roster.csv",
                        gold=folder / "gold.jsonl", workspace="monitored", dataset="monitored",
                        api_url=lb_server.url, api_key=lb_server.api_key, progress=False)  # fmt: skip
    return notebook, result


def simulate(server: Any, dataset_id: str, records: Path, who: dict[str, float], limit: int) -> None:
    sim = demo()
    truth = {}
    for line in records.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        truth[record["id"]] = sim.reference(record)
    users = httpx.get(f"{server.url}/api/v1/users", headers={"X-Argilla-Api-Key": server.api_key}).json()
    keys = {u["username"]: u["api_key"] for u in users["items"]}
    for name, accuracy in who.items():
        sim.simulate(server.url, keys[name], dataset_id, truth, accuracy, name, limit)


def test_refresh_shows_the_simulated_contractors(project: Any, lb_server: Any) -> None:
    notebook, published = project
    with Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as opened:
        monitor = Monitor(opened)
        assert monitor.error == "" and monitor.annotations is not None and monitor.annotations.empty
        assert "No answers yet" in monitor.people.value
        assert monitor.bar.value == 0 and "0 of 30 records complete" in monitor.progress.value
        simulate(lb_server, published.state.dataset_id, notebook.with_name("records.jsonl"),
                 {"sim-acme-1": 0.95, "sim-bright-2": 0.6}, 10)  # fmt: skip
        monitor.refresh_button.click()
        assert monitor.error == ""
        frame = monitor.annotations
        assert frame is not None and set(frame["annotator"]) == {"sim-acme-1", "sim-bright-2"}
        assert "sim-acme-1" in monitor.people.value and "sim-bright-2" in monitor.people.value
        assert "20 submitted responses from 2 annotators" in monitor.progress.value
        assert "<td>acme</td>" in monitor.people.value and "Vendors" in monitor.groups.value
        assert "Records submitted per hour" in monitor.hours.value and "<rect" in monitor.hours.value
        table = monitor.snapshot.annotators if monitor.snapshot else None
        assert table is not None and table.loc["sim-acme-1", "answers"] == 10  # outcome only: not free text
        assert "rationale" not in monitor.groups.value  # agreement on labels, not on free text


def test_a_timer_refreshes_in_the_background(project: Any, lb_server: Any) -> None:
    notebook, published = project
    with Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as opened:
        monitor = Monitor(opened, every=0.5)
        try:
            assert monitor.running
            first = monitor.snapshot
            simulate(
                lb_server,
                published.state.dataset_id,
                notebook.with_name("records.jsonl"),
                {"sim-acme-2": 0.8},
                5,
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                frame = monitor.annotations
                if frame is not None and "sim-acme-2" in set(frame["annotator"]):
                    break
                time.sleep(0.2)
            assert monitor.snapshot is not first and "sim-acme-2" in monitor.people.value
        finally:
            monitor.stop()
        assert not monitor.running


def test_a_server_that_is_down_is_a_message_with_the_command_to_start_it(
    project: Any, lb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook, _ = project
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("ARGILLA_API_URL", dead)
    monkeypatch.setenv("ARGILLA_API_KEY", "any")
    monitor = Monitor(notebook)
    assert "cannot reach the Argilla server" in monitor.error and "labelbook server start" in monitor.error
    assert "Traceback" not in monitor.message.value
    # A server that goes away after the monitor opened: the refresh says so, the last tables stay.
    with Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key) as opened:
        monitor = Monitor(opened)
        shown = monitor.people.value
        alive, opened.connection = opened.connection, Connection(dead, "any")
        try:
            monitor.refresh()
        finally:
            opened.connection.close()
            opened.connection = alive
        assert "labelbook server start" in monitor.error and monitor.people.value == shown


def test_disagreements_from_the_project(
    project: Any, lb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook, published = project
    simulate(lb_server, published.state.dataset_id, notebook.with_name("records.jsonl"),
             {"sim-bright-1": 0.9, "sim-bright-2": 0.6}, 30)  # fmt: skip
    monkeypatch.setenv("ARGILLA_API_URL", lb_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", lb_server.api_key)
    widget = Disagreements(notebook)
    assert widget.error == "" and widget.cases, widget.error
    case = widget.current
    assert case is not None and case.question == "outcome" and len(case.answers) >= 2
    assert len({a["value"] for a in case.answers}) >= 2
    assert case.url is not None and case.url.startswith(lb_server.url)
    # The record as Argilla shows it: the trajectory's roles and the shell commands.
    assert "msg role-" in widget.record.value and "$ " in widget.record.value
    assert "Open in Argilla" in widget.case.value and "(simulated) looks like" in widget.case.value
