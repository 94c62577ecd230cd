"""A contractor labels a record in the real Argilla web UI, and the SDK reads the answer back."""

from __future__ import annotations

import functools
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

DOCS_SCREENSHOT = Path(__file__).parents[2] / "docs" / "img" / "argilla-ui-contractor.png"

QUESTION = "outcome"
ANSWER = "partial"
TRAJECTORIES = [
    "\n".join(lines)
    for lines in (
        [
            "$ pytest tests/ -x",
            "1 failed, 41 passed",
            "$ git diff --stat",
            " src/parser.py | 4 ++--",
            "The agent fixed the parser, but left one test failing and stopped.",
        ],
        [
            "$ pip install -e .",
            "Successfully installed demo-0.1.0",
            "$ demo --version",
            "demo 0.1.0",
            "The agent installed the package and checked the version, as asked.",
        ],
        [
            "$ rm -rf build/",
            "$ make",
            "make: *** No rule to make target 'all'.  Stop.",
            "The agent deleted the build directory and gave up.",
        ],
    )
]
GUIDELINES = """# Rating agent trajectories

Read the whole transcript, then rate the **outcome** against the instruction.

- **success**: every part of the instruction is done and verified.
- **partial**: some of the instruction is done, or done without the requested check.
- **failure**: nothing useful was done, or the agent made things worse.
"""


@dataclass(frozen=True)
class ContractorProject:
    """An annotator account and the dataset it may label, all created through the argilla SDK."""

    username: str
    password: str
    user_id: Any
    dataset: Any


@pytest.fixture
def contractor_project(argilla_client: Any) -> Iterator[ContractorProject]:
    import argilla as rg

    # Plain names read well in the docs screenshot; they are removed again after the test.
    workspace = rg.Workspace(name="acme-labeling", client=argilla_client).create()
    password = secrets.token_urlsafe(12)
    user = rg.User(username="contractor-1", password=password, role="annotator", client=argilla_client)
    user.create()
    user.add_to_workspace(workspace)
    settings = rg.Settings(
        guidelines=GUIDELINES,
        fields=[rg.TextField(name="trajectory", title="Trajectory")],
        questions=[
            rg.LabelQuestion(
                name=QUESTION,
                title="Outcome",
                description="Did the agent do what the instruction asked?",
                labels=["success", "partial", "failure"],
            )
        ],
    )
    dataset = rg.Dataset(
        name="trajectory-rating", workspace=workspace, settings=settings, client=argilla_client
    ).create()
    dataset.records.log([{"trajectory": text} for text in TRAJECTORIES])
    try:
        yield ContractorProject(username=user.username, password=password, user_id=user.id, dataset=dataset)
    finally:
        dataset.delete()
        user.delete()
        workspace.delete()


def _save_docs_screenshot(page: Page) -> None:
    DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=DOCS_SCREENSHOT.parent)
    os.close(fd)
    try:
        page.screenshot(path=tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, DOCS_SCREENSHOT)
    finally:
        Path(tmp).unlink(missing_ok=True)


def test_contractor_submits_a_label_in_the_argilla_ui(
    page: Page, lb_server: Any, contractor_project: ContractorProject
) -> None:
    project = contractor_project

    page.goto(f"{lb_server.url}/sign-in")
    page.locator("input[name='Username']").fill(project.username)
    page.locator("input[name='Password']").fill(project.password)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link").filter(has_text=project.dataset.name).click()
    question = page.get_by_label(f"Question: {QUESTION}")
    expect(question).to_be_visible()
    records_on_screen = [page.get_by_text(text) for text in TRAJECTORIES]
    expect(functools.reduce(Locator.or_, records_on_screen).first).to_be_visible()
    shown = [
        text
        for text, on_screen in zip(TRAJECTORIES, records_on_screen, strict=True)
        if on_screen.is_visible()
    ]
    assert len(shown) == 1, f"the focus view should show one record, it shows {len(shown)}"

    page.get_by_role("button", name="Expand Panel").filter(has_text="Guidelines").click()
    expect(page.get_by_role("heading", name="Rating agent trajectories")).to_be_visible()
    # The panel slides open; its last line in view means the contractor can read all of it.
    expect(page.get_by_text("nothing useful was done")).to_be_in_viewport()

    question.get_by_role("button", name=ANSWER, exact=True).click()
    expect(question.locator(f"input[name='{ANSWER}']")).to_be_checked()
    if os.environ.get("LABELBOOK_DOCS_SCREENSHOTS") == "1":
        _save_docs_screenshot(page)

    submit = page.get_by_role("button", name="Submit")
    expect(submit).to_be_enabled()
    saves_response = re.compile(r"/api/v1/records/[^/]+/responses$")
    with page.expect_response(
        lambda r: r.request.method == "POST" and saves_response.search(r.url) is not None
    ) as posted:
        submit.click()
    assert posted.value.status == 201, posted.value.text()
    expect(page.get_by_text(shown[0])).to_be_hidden()  # the queue moved on

    records = list(project.dataset.records(with_responses=True))
    answered = [record for record in records if record.responses[QUESTION]]
    assert [record.fields["trajectory"] for record in answered] == shown
    [response] = answered[0].responses[QUESTION]
    assert response.value == ANSWER
    assert response.status == "submitted"
    assert response.user_id == project.user_id


HIDDEN_VALUE = "HIDDEN-SOURCE-b41f"


@dataclass(frozen=True)
class SharedProject:
    """A dataset two annotators share: a colleague answered first, with metadata shown and hidden."""

    username: str
    password: str
    colleague: str
    dataset_name: str
    dataset_id: str


@pytest.fixture
def shared_project(lb_server: Any) -> Iterator[SharedProject]:
    import httpx

    tag = secrets.token_hex(3)
    password = secrets.token_urlsafe(12)
    with httpx.Client(
        base_url=f"{lb_server.url}/api/v1", headers={"X-Argilla-Api-Key": lb_server.api_key}, timeout=30
    ) as owner:

        def call(method: str, path: str, **kwargs: Any) -> Any:
            reply = owner.request(method, path, **kwargs)
            assert reply.status_code < 300, (method, path, reply.text)
            return reply.json() if reply.content else None

        workspace = call("POST", "/workspaces", json={"name": f"shared-{tag}"})
        users = []
        for name in (f"contractor-{tag}", f"colleague-{tag}"):
            user = call(
                "POST",
                "/users",
                json={"username": name, "password": password, "role": "annotator", "first_name": name},
            )
            call("POST", f"/workspaces/{workspace['id']}/users", json={"user_id": user["id"]})
            users.append(user)
        name = f"shared-{tag}"
        dataset = call("POST", "/datasets", json={"name": name, "workspace_id": workspace["id"]})["id"]
        text_field = {"name": "trajectory", "title": "Trajectory", "settings": {"type": "text"}}
        call("POST", f"/datasets/{dataset}/fields", json=text_field)
        options = [{"value": label, "text": label} for label in ("success", "partial", "failure")]
        label = {"type": "label_selection", "options": options}
        question = {"name": QUESTION, "title": "Outcome", "required": True, "settings": label}
        call("POST", f"/datasets/{dataset}/questions", json=question)
        for prop, shown in (("topic", True), ("source", False)):
            settings = {"type": "terms"}
            metadata = {
                "name": prop,
                "title": prop.title(),
                "settings": settings,
                "visible_for_annotators": shown,
            }
            call("POST", f"/datasets/{dataset}/metadata-properties", json=metadata)
        call("PUT", f"/datasets/{dataset}/publish")
        items = [
            {"fields": {"trajectory": text}, "metadata": {"topic": "bash", "source": HIDDEN_VALUE}}
            for text in TRAJECTORIES
        ]
        call("POST", f"/datasets/{dataset}/records/bulk", json={"items": items})
        records = call("GET", f"/datasets/{dataset}/records")["items"]
        # The colleague answers two of the three records first.
        answers = [
            {"record_id": r["id"], "values": {QUESTION: {"value": "success"}}, "status": "submitted"}
            for r in records[:2]
        ]
        colleague = {"X-Argilla-Api-Key": users[1]["api_key"]}
        done = owner.post("/me/responses/bulk", json={"items": answers}, headers=colleague)
        assert done.status_code == 200 and not any(i.get("error") for i in done.json()["items"]), done.text
        try:
            yield SharedProject(users[0]["username"], password, users[1]["username"], name, dataset)
        finally:
            call("DELETE", f"/datasets/{dataset}")
            for user in users:
                call("DELETE", f"/users/{user['id']}")
            call("DELETE", f"/workspaces/{workspace['id']}")


def test_a_contractor_sees_their_datasets_and_progress_but_no_colleague_and_no_hidden_metadata(
    page: Page, lb_server: Any, shared_project: SharedProject
) -> None:
    project = shared_project
    failed: list[str] = []
    page.on(
        "response",
        lambda r: (
            failed.append(f"{r.request.method} {r.url} {r.status}")
            if "/api/" in r.url and r.status >= 400
            else None
        ),
    )
    page.goto(f"{lb_server.url}/sign-in")
    page.locator("input[name='Username']").fill(project.username)
    page.locator("input[name='Password']").fill(project.password)
    page.get_by_role("button", name="Sign in").click()

    # The dataset list renders, with the team's progress (the colleague's two answers of three).
    card = page.get_by_role("link").filter(has_text=project.dataset_name)
    expect(card).to_be_visible()
    expect(card.get_by_text("66.67%")).to_be_visible()
    card.click()

    question = page.get_by_label(f"Question: {QUESTION}")
    expect(question).to_be_visible()
    page.get_by_text("Submitted").first.click()  # opens the progress panel
    expect(page.get_by_text("Team progress", exact=False)).to_be_visible()
    expect(page.get_by_text("2 of 3")).to_be_visible()

    # The metadata filter offers what annotators may see, and nothing hidden.
    page.get_by_text("Filters").first.click()
    page.get_by_text("Metadata").first.click()
    expect(page.get_by_text("topic", exact=False).first).to_be_visible()
    expect(page.get_by_text("Source", exact=True)).to_have_count(0)
    page.keyboard.press("Escape")

    question.get_by_role("button", name=ANSWER, exact=True).click()
    submit = page.get_by_role("button", name="Submit")
    expect(submit).to_be_enabled()
    saves_response = re.compile(r"/api/v1/records/[^/]+/responses$")
    with page.expect_response(
        lambda r: r.request.method == "POST" and saves_response.search(r.url) is not None
    ) as posted:
        submit.click()
    assert posted.value.status == 201, posted.value.text()

    html = page.content()
    assert project.colleague not in html and HIDDEN_VALUE not in html
    assert failed == [], f"the UI got refusals: {failed}"
