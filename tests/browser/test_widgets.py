"""The widgets in real JupyterLab, driven by headless Chromium: what a researcher sees and clicks.

One JupyterLab per module (isolated config, settings and workspaces; token; loopback port), a
notebook per test run with "Run All". Screenshots go to tests/browser/artifacts/ (kept as test
artifacts) and, with LABELBOOK_DOCS_SCREENSHOTS=1 (`make docs-screenshots`), to docs/img/ (the
pictures docs/notebook.md shows): a test run never changes the checkout.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "trajectory-rating"
ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS_IMG = ROOT / "docs" / "img"
KERNEL_TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path

    def open(self, page: Page, notebook: str) -> None:
        page.goto(f"{self.url}/lab/tree/{notebook}?reset&token={self.token}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("jupyterlab")
    work = base / "work"
    work.mkdir()
    settings = base / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    # No news or update toast over the notebook.
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
    }
    token, port = secrets.token_hex(16), free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    log = open(base / "jupyterlab.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start: {(base / 'jupyterlab.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield Lab(url, token, work)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def write_notebook(lab: Lab, name: str, *sources: str) -> str:
    nb = new_notebook(cells=[new_code_cell(source) for source in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / name)
    return name


def run_all(page: Page, timeout_ms: int = KERNEL_TIMEOUT_MS) -> None:
    """Wait for the kernel, then run every cell and wait until the kernel is idle again."""
    expect(page.locator(".jp-Notebook")).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
    kernel = page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName")
    expect(kernel).not_to_have_text("No Kernel", timeout=KERNEL_TIMEOUT_MS)
    idle = page.locator(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']")
    expect(idle).to_have_count(1, timeout=KERNEL_TIMEOUT_MS)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_timeout(300)
    expect(idle).to_have_count(1, timeout=timeout_ms)


def run_last_cell(page: Page) -> None:
    page.evaluate(
        "async () => { const app = window.jupyterapp;"
        " await app.commands.execute('notebook:move-cursor-to-bottom').catch(() => {});"
        " }"
    )
    page.locator(".jp-Notebook .jp-Cell").last.click()
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-cell')")
    page.wait_for_timeout(300)
    idle = page.locator(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']")
    expect(idle).to_have_count(1, timeout=KERNEL_TIMEOUT_MS)


def screenshot(page: Page, widget: str, name: str) -> None:
    """A picture of one widget: kept as a test artifact and as the docs' picture."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.set_viewport_size({"width": 1100, "height": 3000})  # the whole widget, not the notebook's window
    page.wait_for_timeout(300)
    target = page.locator(widget).first
    target.scroll_into_view_if_needed()
    target.screenshot(path=str(ARTIFACTS / name))
    if size is not None:
        page.set_viewport_size(size)
    if os.environ.get("LABELBOOK_DOCS_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / name, DOCS_IMG / name)


def test_preview_shows_every_label_with_its_definition_and_the_shell_steps(page: Page, lab: Lab) -> None:
    name = write_notebook(
        lab,
        "preview.ipynb",
        "from labelbook_jupyter import Preview\n"
        f"preview = Preview({str(EXAMPLE / 'guide.ipynb')!r}, {str(EXAMPLE / 'records.jsonl')!r})\npreview",
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    lab.open(page, name)
    run_all(page)
    widget = page.locator(".lb-widget").first
    expect(widget.get_by_text("1 of 30", exact=True)).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
    import labelbook as lb

    task = lb.load(EXAMPLE / "guide.ipynb").task
    for label, definition in task.question("outcome").meanings().items():
        expect(widget.get_by_role("button", name=label, exact=True)).to_be_visible()
        expect(widget.locator(".definition", has_text=definition[:60])).to_be_visible()
    # The trajectory's shell steps: the commands, what they printed, their exit codes.
    expect(widget.locator("pre.shell", has_text="sed -n 1,40p utils/text.py")).to_be_visible()
    expect(widget.locator("pre.output", has_text="def main():")).to_be_visible()
    expect(widget.locator(".exit", has_text="exit code 0").first).to_be_visible()
    screenshot(page, ".lb-widget", "widget-preview.png")
    widget.get_by_role("button", name="Next").click()
    expect(widget.get_by_text("2 of 30", exact=True)).to_be_visible()
    expect(widget.locator(".exit.fail", has_text="exit code 2")).to_be_visible()  # traj-002's failing run
    # The guidelines: the contractor page, in a frame, opened on a click.
    widget.get_by_text("Guidelines (the contractor page)").click()
    guide = page.frame_locator("iframe.lb-guide")
    expect(guide.get_by_role("heading", name="Rating agent trajectories", level=1)).to_be_visible()
    assert errors == []


def test_tryit_submit_moves_on_shows_gold_and_returns_the_answers(page: Page, lab: Lab) -> None:
    name = write_notebook(
        lab,
        "tryit.ipynb",
        "from labelbook_jupyter import TryIt\n"
        f"trying = TryIt({str(EXAMPLE / 'guide.ipynb')!r}, {str(EXAMPLE / 'records.jsonl')!r}, n=3,\n"
        f"               gold={str(EXAMPLE / 'gold.jsonl')!r}, shuffle=False)\ntrying",
        "print(trying.answers[['record_id', 'question', 'value', 'is_gold']].to_json(orient='records'))",
    )
    lab.open(page, name)
    run_all(page)
    widget = page.locator(".lb-widget").first
    expect(widget.get_by_text("Item 1 of 3")).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
    for item, (label, why) in enumerate(
        [("partial", "Never ran the tests."), ("failure", "Exit code 2."), ("partial", "Looks done.")], 1
    ):
        expect(widget.get_by_text(f"Item {item} of 3")).to_be_visible()
        widget.get_by_role("button", name=label, exact=True).click()
        widget.locator("textarea").fill(why)
        if item == 3:
            screenshot(page, ".lb-widget", "widget-tryit.png")
        widget.get_by_role("button", name="Submit").click()
        if item < 3:
            expect(widget.get_by_text(f"Item {item + 1} of 3")).to_be_visible()
    # traj-003 is a gold item: the experts' answer and rationale show after it.
    feedback = widget.locator(".lb-feedback")
    expect(feedback).to_contain_text("Gold item traj-003")
    expect(feedback).to_contain_text("success")
    expect(feedback).to_contain_text("The final test run after the last edit passes (R-verified).")
    expect(widget.get_by_text("Done: 3 answered")).to_be_visible()
    screenshot(page, ".lb-widget", "widget-tryit-gold.png")
    run_last_cell(page)
    output = page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-OutputArea-output")
    expect(output).to_contain_text("traj-003")
    rows = json.loads(output.inner_text())
    outcomes = [(r["record_id"], r["value"], r["is_gold"]) for r in rows if r["question"] == "outcome"]
    assert outcomes == [
        ("traj-001", "partial", False),
        ("traj-002", "failure", False),
        ("traj-003", "partial", True),
    ]


def _demo() -> Any:
    spec = importlib.util.spec_from_file_location("labelbook_demo", ROOT / "examples" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_monitor_shows_the_simulated_contractors_after_a_refresh(
    page: Page, lab: Lab, lb_server: Any, tmp_path: Path
) -> None:
    import labelbook as lb

    folder = lab.root / "monitored"
    folder.mkdir()
    for name in ("guide.ipynb", "records.jsonl", "roster.csv", "gold.jsonl"):
        shutil.copy(EXAMPLE / name, folder / name)
    lb.release(folder / "guide.ipynb", "first")
    result = lb.publish(folder / "guide.ipynb", records=folder / "records.jsonl",
                        annotators=folder / "roster.csv", gold=folder / "gold.jsonl", workspace="browser",
                        dataset="browser-monitor", api_url=lb_server.url, api_key=lb_server.api_key,
                        progress=False)  # fmt: skip
    opening = (
        "import labelbook as lb\n"
        f"project = lb.Project.open('monitored/guide.ipynb', api_url={lb_server.url!r}, "
        f"api_key={lb_server.api_key!r})\n"
    )
    name = write_notebook(lab, "monitor.ipynb", opening + "from labelbook_jupyter import Monitor\n"
                          "monitor = Monitor(project)\nmonitor")  # fmt: skip
    lab.open(page, name)
    run_all(page)
    widget = page.locator(".lb-widget").first
    expect(widget.get_by_text("No answers yet")).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
    # The simulated contractors answer through the API, each with its own key.
    sim = _demo()
    truth = {}
    for line in (folder / "records.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        truth[record["id"]] = sim.reference(record)
    owner = {"X-Argilla-Api-Key": lb_server.api_key}
    keys = {
        u["username"]: u["api_key"]
        for u in httpx.get(f"{lb_server.url}/api/v1/users", headers=owner).json()["items"]
    }
    for username, accuracy in sim.ACCURACY.items():
        sim.simulate(lb_server.url, keys[username], result.state.dataset_id, truth, accuracy, username, 25)
    widget.get_by_role("button", name="Refresh").click()
    for username in sim.ACCURACY:
        expect(widget.locator("table.lb-annotators").get_by_text(username, exact=True)).to_be_visible(
            timeout=KERNEL_TIMEOUT_MS
        )
    expect(widget.get_by_text("records complete")).to_contain_text("submitted responses from 4 annotators")
    expect(widget.locator("table.lb-vendors")).to_contain_text("brightlabel")
    screenshot(page, ".lb-widget", "widget-monitor.png")

    code = opening + "from labelbook_jupyter import Disagreements\nDisagreements(project)"
    name = write_notebook(lab, "disagreements.ipynb", code)
    lab.open(page, name)
    run_all(page)
    widget = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .lb-widget").first
    expect(widget.get_by_text("The labels given, as defined")).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
    expect(widget.locator("table.lb-answers")).to_contain_text("(simulated) looks like")
    widget.get_by_text("The record", exact=True).click()
    expect(widget.locator(".msg pre", has_text="$ ").first).to_be_visible()  # as Argilla shows it
    screenshot(page, ".jp-NotebookPanel:not(.lm-mod-hidden) .lb-widget", "widget-disagreements.png")


def test_the_walkthrough_runs_cell_by_cell_in_jupyterlab(page: Page, lab: Lab) -> None:
    from labelbook import server

    folder = lab.root / "examples"
    shutil.copytree(
        ROOT / "examples", folder, ignore=shutil.ignore_patterns("walkthrough", "*.releases", "*.labelbook")
    )
    try:
        lab.open(page, "examples/researcher-walkthrough.ipynb")
        run_all(page, timeout_ms=300_000)
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        assert panel.locator(".jp-OutputArea-output", has_text="Traceback").count() == 0
        expect(panel.locator(".lb-widget")).to_have_count(4)  # Preview, TryIt, Monitor, Disagreements
        expect(panel.locator(".lb-widget .lb-info", has_text="gold: 1 of 1 answers agree")).to_be_visible()
        expect(panel.locator("table.lb-annotators")).to_contain_text("sim-acme-1")
    finally:
        server.stop(folder / "walkthrough" / "server")
