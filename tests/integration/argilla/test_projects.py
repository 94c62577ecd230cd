"""Projects stay apart and their secrets stay local: a dataset belongs to the notebook that first
published it, `.labelbook/` never reaches git, one publish of a project at a time, only an owner's
or admin's key publishes, the local key never leaves for another server, a publish killed while
creating the dataset recovers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

import labelbook as lb
from labelbook.argilla import Connection, connect
from labelbook.argilla.ownership import MARKER, ProjectConflict
from labelbook.argilla.state import PublishLocked, read_credentials, read_gold
from labelbook.cli import main
from labelbook.errors import BackendError

EXAMPLE = Path(__file__).parents[3] / "examples" / "trajectory-rating"
GOLD_SECRET = "GOLD-ONLY rationale 51c2"


def released(folder: Path, banner: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    notebook = folder / "guide.py"
    text = (EXAMPLE / "guide.py").read_text()
    if banner:
        text = text.replace("Read the whole trajectory once", f"Read the whole trajectory once ({banner})")
    notebook.write_text(text)
    lb.release(notebook, "first")
    return notebook


def owner_of(server: Any) -> dict[str, Any]:
    return {"api_url": server.url, "api_key": server.api_key, "progress": False}


def api(server: Any, method: str, path: str, key: str | None = None, **kwargs: Any) -> Any:
    headers = {"X-Argilla-Api-Key": key or server.api_key}
    reply = httpx.request(method, f"{server.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)
    reply.raise_for_status()
    return reply.json() if reply.content else None


def workspace_members(server: Any, name: str) -> set[str]:
    workspace = next(w for w in api(server, "GET", "/me/workspaces")["items"] if w["name"] == name)
    return {u["username"] for u in api(server, "GET", f"/workspaces/{workspace['id']}/users")["items"]}


def datasets_named(server: Any, workspace: str, name: str) -> list[dict[str, Any]]:
    workspaces = {w["id"]: w["name"] for w in api(server, "GET", "/me/workspaces")["items"]}
    return [
        d
        for d in api(server, "GET", "/me/datasets")["items"]
        if d["name"] == name and workspaces.get(d["workspace_id"]) == workspace
    ]


def make_user(server: Any, username: str, role: str) -> str:
    """A user with that role; their API key."""
    made = api(
        server,
        "POST",
        "/users",
        json={"username": username, "first_name": username, "password": "a-password-1", "role": role},
    )
    return str(made["api_key"])


def test_a_copied_notebook_is_refused_the_original_dataset_naming_both_and_may_adopt_it(
    tmp_path: Path, lb_server: Any
) -> None:
    original = released(tmp_path / "original")
    copy = released(tmp_path / "copy", banner="the copy's own wording")
    owner = owner_of(lb_server)
    first = lb.publish(
        original,
        records=EXAMPLE / "records.jsonl",
        workspace="own-copy",
        annotators=pd.DataFrame({"username": ["own-copy-ann"], "vendor": ["acme"]}),
        **owner,
    ).last_publish
    guidelines = api(lb_server, "GET", f"/datasets/{first.dataset_id}")["guidelines"]
    here, there = str(tmp_path / "original" / "guide.releases"), str(tmp_path / "copy" / "guide.releases")

    with pytest.raises(ProjectConflict) as refused:
        lb.publish(
            copy,
            records=EXAMPLE / "records.jsonl",
            workspace="own-copy",
            annotators=pd.DataFrame({"username": ["own-copy-other"], "vendor": ["acme"]}),
            **owner,
        )
    message = str(refused.value)
    assert here in message and there in message and "--adopt" in message and "--dataset" in message
    # Nothing changed: the live guidelines, the roster, the deployment logs.
    assert api(lb_server, "GET", f"/datasets/{first.dataset_id}")["guidelines"] == guidelines
    assert "the copy's own wording" not in guidelines
    assert workspace_members(lb_server, "own-copy") >= {"own-copy-ann"}
    assert "own-copy-other" not in {u["username"] for u in api(lb_server, "GET", "/users")["items"]}
    assert lb.releases.deployments(copy) == []

    env = {"ARGILLA_API_URL": lb_server.url, "ARGILLA_API_KEY": lb_server.api_key}
    cli = CliRunner().invoke(main, ["publish", str(copy), "--workspace", "own-copy"], env=env)
    assert cli.exit_code == 1 and here in cli.output and there in cli.output and "Traceback" not in cli.output

    adopted = lb.publish(
        copy, records=EXAMPLE / "records.jsonl", workspace="own-copy", adopt=True, **owner
    ).last_publish
    assert adopted.dataset_id == first.dataset_id and not adopted.created and adopted.records_added == 0
    assert any(here in n and "adopted" in n for n in adopted.notices)
    assert "the copy's own wording" in api(lb_server, "GET", f"/datasets/{first.dataset_id}")["guidelines"]
    # Now the original is the stranger.
    with pytest.raises(ProjectConflict, match="belongs to another labelbook project"):
        lb.publish(original, records=EXAMPLE / "records.jsonl", **owner)

    # The mark is for owners and admins: an annotator lists no such property and reads no project id.
    project_id = (tmp_path / "copy" / "guide.labelbook" / "project-id").read_text().strip()
    assert project_id in json.dumps(
        api(lb_server, "GET", f"/me/datasets/{first.dataset_id}/metadata-properties")
    )
    annotator = next(u for u in api(lb_server, "GET", "/users")["items"] if u["username"] == "own-copy-ann")
    seen = [
        api(
            lb_server, "GET", f"/me/datasets/{first.dataset_id}/metadata-properties", key=annotator["api_key"]
        ),
        api(lb_server, "GET", f"/datasets/{first.dataset_id}", key=annotator["api_key"]),
        api(
            lb_server,
            "POST",
            f"/me/datasets/{first.dataset_id}/records/search",
            key=annotator["api_key"],
            json={},
            params={"limit": 50},
        ),
    ]
    text = json.dumps(seen)
    assert project_id not in text and MARKER not in text and there not in text


def test_datasets_published_before_the_mark_are_adopted_only_by_the_project_that_points_at_them(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path / "old")
    owner = owner_of(lb_server)
    first = lb.publish(
        notebook, records=EXAMPLE / "records.jsonl", workspace="own-legacy", **owner
    ).last_publish
    # As published by an earlier labelbook: no mark on the dataset.
    marks = [
        p
        for p in api(lb_server, "GET", f"/me/datasets/{first.dataset_id}/metadata-properties")["items"]
        if p["name"] == MARKER
    ]
    assert len(marks) == 1
    api(lb_server, "DELETE", f"/metadata-properties/{marks[0]['id']}")

    stranger = released(tmp_path / "stranger")
    with pytest.raises(ProjectConflict, match="carries no labelbook project mark"):
        lb.publish(stranger, records=EXAMPLE / "records.jsonl", workspace="own-legacy", **owner)
    again = lb.publish(notebook, records=EXAMPLE / "records.jsonl", **owner).last_publish
    assert again.dataset_id == first.dataset_id
    assert any("published before labelbook marked datasets" in n for n in again.notices)
    with pytest.raises(ProjectConflict, match="belongs to another labelbook project"):
        lb.publish(stranger, records=EXAMPLE / "records.jsonl", workspace="own-legacy", **owner)


def test_git_add_in_the_project_folder_stages_no_gold_rate_or_credential(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path)
    # A project folder made by an earlier labelbook, whose .gitignore listed credentials.csv only.
    (tmp_path / "guide.labelbook").mkdir()
    (tmp_path / "guide.labelbook" / ".gitignore").write_text("credentials.csv\n")
    roster = pd.DataFrame({"username": ["own-git-ann"], "vendor": ["acme"], "rate": [31.75]})
    gold = pd.DataFrame({"id": ["traj-003"], "outcome": ["success"], "rationale": [GOLD_SECRET]})
    result = lb.publish(
        notebook,
        records=EXAMPLE / "records.jsonl",
        workspace="own-git",
        annotators=roster,
        gold=gold,
        **owner_of(lb_server),
    ).last_publish
    password = next(iter(result.roster.new_passwords.values())) if result.roster else ""
    assert password
    folder = tmp_path / "guide.labelbook"
    assert {"project.json", "gold.jsonl", "credentials.csv", "project-id"} <= {
        p.name for p in folder.iterdir()
    }

    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout

    git("init", "-q")
    git("add", "-A")
    staged = git("diff", "--cached", "--name-only").split()
    assert "guide.py" in staged and "guide.releases/1.0.0/task.json" in staged  # the releases are shared
    assert not [path for path in staged if path.startswith("guide.labelbook")]
    text = "".join((tmp_path / path).read_text(errors="replace") for path in staged)
    for secret in (GOLD_SECRET, "31.75", password, lb_server.api_key):
        assert secret not in text


def test_two_publishes_of_one_project_at_once_one_is_refused_and_nothing_is_lost(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path)
    paused, go = tmp_path / "paused", tmp_path / "go"
    # The first publish really runs in its own process; it stops before uploading until told to go on.
    script = textwrap.dedent(
        f"""
        import importlib, time, pathlib, pandas as pd, labelbook as lb
        publish = importlib.import_module("labelbook.argilla.upload")
        real = publish.upload
        def upload(*args, **kwargs):
            pathlib.Path({str(paused)!r}).touch()
            deadline = time.monotonic() + 120
            while not pathlib.Path({str(go)!r}).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            return real(*args, **kwargs)
        publish.upload = upload
        lb.publish(
            {str(notebook)!r},
            records={str(EXAMPLE / "records.jsonl")!r},
            workspace="own-lock",
            annotators=pd.DataFrame({{"username": ["own-lock-a"], "vendor": ["acme"]}}),
            gold=pd.DataFrame({{"id": ["traj-003"], "outcome": ["success"]}}),
            api_url={lb_server.url!r},
            api_key={lb_server.api_key!r},
            progress=False,
        )
        """
    )
    first = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not paused.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert paused.exists(), first.stderr.read() if first.stderr else ""
        second = {
            "records": EXAMPLE / "records.jsonl",
            "annotators": pd.DataFrame(
                {"username": ["own-lock-a", "own-lock-b"], "vendor": ["acme", "acme"]}
            ),
            "gold": pd.DataFrame({"id": ["traj-008"], "outcome": ["failure"]}),
            **owner_of(lb_server),
        }
        with pytest.raises(PublishLocked, match=r"another publish of this project is running \(pid \d+"):
            lb.publish(notebook, **second)
        env = {"ARGILLA_API_URL": lb_server.url, "ARGILLA_API_KEY": lb_server.api_key}
        cli = CliRunner().invoke(main, ["publish", str(notebook)], env=env)
        assert cli.exit_code == 1 and "another publish of this project is running" in cli.output
        go.touch()
        _, errors = first.communicate(timeout=120)
        assert first.returncode == 0, errors
    finally:
        go.touch()
        if first.poll() is None:
            first.kill()
            first.wait()
    done = lb.publish(notebook, **second).last_publish
    assert done.records_added == 0 and done.roster and done.roster.created == ["own-lock-b"]
    folder = tmp_path / "guide.labelbook"
    assert set(read_gold(folder)) == {"traj-003", "traj-008"}
    assert set(read_credentials(folder)) == {"own-lock-a", "own-lock-b"}


def test_a_key_without_the_owner_or_admin_role_is_refused_before_anything_changes(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path)
    annotator_key = make_user(lb_server, "own-role-annotator", "annotator")
    with pytest.raises(BackendError, match=r"role 'annotator': publishing takes an owner's key"):
        lb.publish(
            notebook,
            records=EXAMPLE / "records.jsonl",
            workspace="own-role",
            annotators=pd.DataFrame({"username": ["own-role-x"], "vendor": ["acme"]}),
            api_url=lb_server.url,
            api_key=annotator_key,
            progress=False,
        )
    assert "own-role" not in {w["name"] for w in api(lb_server, "GET", "/me/workspaces")["items"]}
    assert "own-role-x" not in {u["username"] for u in api(lb_server, "GET", "/users")["items"]}
    assert not (tmp_path / "guide.labelbook").exists() and lb.releases.deployments(notebook) == []

    # An admin publishes into a workspace they belong to, but creates no workspace and no account.
    admin_key = make_user(lb_server, "own-role-admin", "admin")
    admin = {"api_url": lb_server.url, "api_key": admin_key, "progress": False}
    with pytest.raises(BackendError, match="an admin's API key cannot create workspace 'own-role'"):
        lb.publish(notebook, records=EXAMPLE / "records.jsonl", workspace="own-role", **admin)
    workspace = api(lb_server, "POST", "/workspaces", json={"name": "own-role"})
    admin_id = next(
        u["id"] for u in api(lb_server, "GET", "/users")["items"] if u["username"] == "own-role-admin"
    )
    api(lb_server, "POST", f"/workspaces/{workspace['id']}/users", json={"user_id": admin_id})
    with pytest.raises(BackendError, match="cannot create or enrol annotators"):
        lb.publish(
            notebook,
            records=EXAMPLE / "records.jsonl",
            workspace="own-role",
            annotators=pd.DataFrame({"username": ["own-role-x"], "vendor": ["acme"]}),
            **admin,
        )
    assert datasets_named(lb_server, "own-role", "trajectory-rating") == []
    published = lb.publish(
        notebook, records=EXAMPLE / "records.jsonl", workspace="own-role", **admin
    ).last_publish
    assert published.created and published.records_added == 30
    again = lb.publish(
        notebook, records=EXAMPLE / "records.jsonl", **admin
    ).last_publish  # the admin reads the mark
    assert again.dataset_id == published.dataset_id and again.records_skipped == 30


def test_the_local_servers_key_is_never_sent_to_another_server(
    tmp_path: Path, lb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[bytes] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                try:
                    peer, _ = listener.accept()
                except TimeoutError:
                    continue
                with peer:
                    received.append(peer.recv(65536))

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        remote = f"http://127.0.0.1:{listener.getsockname()[1]}"
        monkeypatch.setenv("ARGILLA_API_URL", remote)
        monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
        try:
            with pytest.raises(
                BackendError,
                match=rf"no API key for the Argilla server at {remote} \(ARGILLA_API_URL\)",
            ):
                connect(data_dir=lb_server.data_dir)
            notebook = released(tmp_path)
            cli = CliRunner().invoke(
                main,
                ["publish", str(notebook), "--data-dir", str(lb_server.data_dir)],
                env={"ARGILLA_API_URL": remote},
            )
            assert cli.exit_code == 1 and "ARGILLA_API_KEY is not set" in cli.output
        finally:
            stop.set()
            thread.join()
    assert received == []  # not even a connection
    # The local server under another spelling is the same server: its key is used.
    monkeypatch.setenv("ARGILLA_API_URL", lb_server.url.replace("127.0.0.1", "localhost"))
    with connect(data_dir=lb_server.data_dir) as conn:
        assert conn.api_key == lb_server.api_key


def killed_publish(notebook: Path, server: Any, path_fragment: str, workspace: str) -> None:
    """Publish in another process that is killed (SIGKILL) right after the request to `path_fragment`."""
    script = textwrap.dedent(
        f"""
        import os, signal, httpx, labelbook as lb
        real = httpx.Client.send
        def send(self, request, *args, **kwargs):  # every request, the argilla SDK's and labelbook's own
            reply = real(self, request, *args, **kwargs)
            if request.method == "POST" and request.url.path.endswith({path_fragment!r}):
                os.kill(os.getpid(), signal.SIGKILL)
            return reply
        httpx.Client.send = send
        lb.publish({str(notebook)!r}, records={str(EXAMPLE / "records.jsonl")!r}, workspace={workspace!r},
                   api_url={server.url!r}, api_key={server.api_key!r}, progress=False)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr


def test_a_publish_killed_while_creating_the_dataset_is_finished_by_the_next(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path)
    killed_publish(notebook, lb_server, "/fields", "own-killed")  # after the mark and the first field
    drafts = datasets_named(lb_server, "own-killed", "trajectory-rating")
    assert [d["status"] for d in drafts] == ["draft"]
    assert lb.releases.deployments(notebook) == []

    # Run again, as it was run: the same workspace (project.json is written at the end, so it is not known).
    result = lb.publish(
        notebook, records=EXAMPLE / "records.jsonl", workspace="own-killed", **owner_of(lb_server)
    ).last_publish
    assert result.created and result.records_added == 30
    assert any("was a draft left by a publish that stopped" in n for n in result.notices)
    after = datasets_named(lb_server, "own-killed", "trajectory-rating")
    assert [(d["id"], d["status"]) for d in after] == [(result.dataset_id, "ready")]
    fields = api(lb_server, "GET", f"/datasets/{result.dataset_id}/fields")["items"]
    assert [f["name"] for f in fields] == ["instruction", "trajectory"]
    again = lb.publish(notebook, records=EXAMPLE / "records.jsonl", **owner_of(lb_server)).last_publish
    assert again.dataset_id == result.dataset_id and again.records_skipped == 30 and not again.notices


def test_a_publish_killed_before_marking_its_draft_says_what_to_do(tmp_path: Path, lb_server: Any) -> None:
    notebook = released(tmp_path)
    killed_publish(notebook, lb_server, "/api/v1/datasets", "own-unmarked")  # the draft, no mark yet
    with pytest.raises(ProjectConflict, match=r"is a draft .* no labelbook project mark.*--adopt"):
        lb.publish(
            notebook, records=EXAMPLE / "records.jsonl", workspace="own-unmarked", **owner_of(lb_server)
        )
    result = lb.publish(
        notebook,
        records=EXAMPLE / "records.jsonl",
        workspace="own-unmarked",
        adopt=True,
        **owner_of(lb_server),
    ).last_publish
    assert result.created and result.records_added == 30
    assert [d["id"] for d in datasets_named(lb_server, "own-unmarked", "trajectory-rating")] == [
        result.dataset_id
    ]


def test_a_new_accounts_password_is_kept_only_when_the_account_exists(tmp_path: Path, lb_server: Any) -> None:
    notebook = released(tmp_path)
    folder = tmp_path / "guide.labelbook"

    def another_project_enrols_first(request: httpx.Request) -> None:
        """Between listing the users and creating one, another project creates the same account."""
        creating = request.method == "POST" and request.url.path == "/api/v1/users"
        if creating and json.loads(request.content)["username"] == "own-pw-race":
            assert "own-pw-race" in read_credentials(folder)  # saved before the account exists
            make_user(lb_server, "own-pw-race", "annotator")

    roster = pd.DataFrame({"username": ["own-pw-fine", "own-pw-race"], "vendor": ["acme", "acme"]})
    with Connection(lb_server.url, lb_server.api_key) as conn, pytest.raises(BackendError, match="409"):
        conn.client.http_client.event_hooks = {"request": [another_project_enrols_first], "response": []}
        lb.publish(notebook, workspace="own-pw", annotators=roster, connection=conn, progress=False)
    kept = read_credentials(folder)
    assert set(kept) == {"own-pw-fine"}  # the refused account's password is rolled back
    token = httpx.post(
        f"{lb_server.url}/api/v1/token", data={"username": "own-pw-fine", "password": kept["own-pw-fine"]}
    )
    assert token.status_code == 201


def test_publish_cli_adopt_flag_and_shared_folder_copy(tmp_path: Path, lb_server: Any) -> None:
    """Copying a whole project folder (notebook and .labelbook) keeps the project: same id, same dataset."""
    notebook = released(tmp_path / "a")
    first = lb.publish(
        notebook, records=EXAMPLE / "records.jsonl", workspace="own-cli", **owner_of(lb_server)
    ).last_publish
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    moved = lb.publish(
        tmp_path / "b" / "guide.py", records=EXAMPLE / "records.jsonl", **owner_of(lb_server)
    ).last_publish
    assert moved.dataset_id == first.dataset_id  # the mark now names the new place
    stranger = released(tmp_path / "c")
    env = {"ARGILLA_API_URL": lb_server.url, "ARGILLA_API_KEY": lb_server.api_key}
    refused = CliRunner().invoke(main, ["publish", str(stranger), "--workspace", "own-cli"], env=env)
    assert refused.exit_code == 1 and str(tmp_path / "b" / "guide.releases") in refused.output
    adopted = CliRunner().invoke(
        main, ["publish", str(stranger), "--workspace", "own-cli", "--adopt"], env=env
    )
    assert adopted.exit_code == 0, adopted.output
    assert "adopted from the project of" in adopted.output
