"""What a contractor can reach, checked through the API with their own key: no gold answer, no
gold flag, no other annotator's identity, no dataset of another workspace; no secret in reprs,
logs or the release store."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

import labelbook as lb
from labelbook.argilla import connect

EXAMPLE = Path(__file__).parents[3] / "examples" / "trajectory-rating"
GOLD_SECRET = "GOLD-ONLY rationale 7f3a"


def released(tmp_path: Path) -> Path:
    notebook = tmp_path / "guide.py"
    shutil.copy(EXAMPLE / "guide.py", notebook)
    lb.release(notebook, "first")
    return notebook


def test_an_annotator_reaches_nothing_they_should_not(tmp_path: Path, lb_server: Any) -> None:
    notebook = released(tmp_path)
    roster = pd.DataFrame({"username": ["safe-ann-1", "safe-ann-2"], "vendor": ["acme", "bright"]})
    gold = pd.DataFrame(
        {"id": ["traj-003", "traj-008"], "outcome": ["success", "failure"], "rationale": [GOLD_SECRET] * 2}
    )
    owner = {"api_url": lb_server.url, "api_key": lb_server.api_key, "progress": False}
    result = lb.publish(
        notebook,
        records=EXAMPLE / "records.jsonl",
        workspace="safe-main",
        annotators=roster,
        gold=gold,
        gold_rate=0.1,
        **owner,
    )
    assert result.gold_published == 2
    secret_passwords = dict(result.roster.new_passwords) if result.roster else {}
    assert len(secret_passwords) == 2
    # Another workspace with its own dataset: the annotators are not members.
    other = tmp_path / "other"
    other.mkdir()
    elsewhere = lb.publish(
        released(other), records=EXAMPLE / "records.jsonl", workspace="safe-other", **owner
    )

    with connect(lb_server.url, lb_server.api_key) as conn:
        keys = {u["username"]: (u["id"], u["api_key"]) for u in conn.request("GET", "/api/v1/users")["items"]}
    ann1_id, ann1_key = keys["safe-ann-1"]
    ann2_id, ann2_key = keys["safe-ann-2"]
    base = f"{lb_server.url}/api/v1"

    def as_annotator(key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(headers={"X-Argilla-Api-Key": key}, timeout=30) as client:
            return client.request(method, f"{base}{path}", **kwargs)

    # The second annotator answers everything, so there is another identity to leak.
    records = as_annotator(
        ann2_key,
        "POST",
        f"/me/datasets/{result.dataset_id}/records/search",
        params={"include": ["responses", "suggestions"], "limit": 100},
        json={},
    )
    assert records.status_code == 200, records.text
    items = [hit["record"] for hit in records.json()["items"]]
    answers = [
        {
            "record_id": r["id"],
            "values": {"outcome": {"value": "partial"}, "rationale": {"value": "mine"}},
            "status": "submitted",
        }
        for r in items
    ]
    done = as_annotator(ann2_key, "POST", "/me/responses/bulk", json={"items": answers})
    assert done.status_code == 200 and not any(i.get("error") for i in done.json()["items"])

    seen: list[str] = []
    listing = as_annotator(
        ann1_key,
        "POST",
        f"/me/datasets/{result.dataset_id}/records/search",
        params={"include": ["responses", "suggestions"], "limit": 100},
        json={},
    )
    assert listing.status_code == 200
    seen.append(listing.text)
    for record in listing.json()["items"][:5]:
        seen.append(as_annotator(ann1_key, "GET", f"/records/{record['record']['id']}/suggestions").text)
    seen.append(as_annotator(ann1_key, "GET", f"/datasets/{result.dataset_id}").text)
    seen.append(as_annotator(ann1_key, "GET", f"/me/datasets/{result.dataset_id}/metadata-properties").text)
    text = "\n".join(seen)
    assert GOLD_SECRET not in text  # no gold answer
    assert "gold" not in text.lower()  # no gold flag or metadata
    assert ann2_id not in text and "safe-ann-2" not in text and "bright" not in text  # no other identity
    assert all(not r.get("suggestions") for r in (i["record"] for i in listing.json()["items"]))

    # Their datasets: only the one of their workspace; the other is out of reach.
    mine = as_annotator(ann1_key, "GET", "/me/datasets").json()["items"]
    assert [d["id"] for d in mine] == [result.dataset_id]
    assert as_annotator(ann1_key, "GET", f"/datasets/{elsewhere.dataset_id}").status_code == 403
    assert as_annotator(ann1_key, "GET", "/users").status_code == 403
    workspace = mine[0]["workspace_id"]
    assert as_annotator(ann1_key, "GET", f"/workspaces/{workspace}/users").status_code == 403

    # Secrets: passwords only in the 0600 credentials file, never in reprs or the release store.
    credentials = tmp_path / "guide.labelbook" / "credentials.csv"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert all(p in credentials.read_text() for p in secret_passwords.values())
    assert stat.S_IMODE((tmp_path / "guide.labelbook" / "gold.jsonl").stat().st_mode) == 0o600
    shown = repr(result) + repr(result.roster) + str(result)
    store = "".join(p.read_text() for p in (tmp_path / "guide.releases").rglob("*") if p.is_file())
    project = lb.Project.open(notebook, api_url=lb_server.url, api_key=lb_server.api_key)
    try:
        shown += repr(project) + repr(project.connection)
    finally:
        project.close()
    state = (tmp_path / "guide.labelbook" / "project.json").read_text()
    for secret in [*secret_passwords.values(), lb_server.api_key, ann1_key]:
        assert secret not in shown and secret not in store and secret not in state
    assert json.loads(state)["roster"][0] == {"username": "safe-ann-1", "vendor": "acme", "rate": None}

    # argilla-server's GET /api/v1/records/{id} returns every response of the record to any member
    # of the workspace; labelbook's API process filters it down to the caller's own (server/_privacy.py).
    record_id = items[0]["id"]
    mine_answer = {"values": {"outcome": {"value": "success"}}, "status": "draft"}
    answered = as_annotator(ann1_key, "POST", f"/records/{record_id}/responses", json=mine_answer)
    assert answered.status_code == 201, answered.text
    seen_by_annotator = as_annotator(ann1_key, "GET", f"/records/{record_id}")
    assert seen_by_annotator.status_code == 200
    own = seen_by_annotator.json()["responses"]
    assert [r["user_id"] for r in own] == [ann1_id]
    leaked = seen_by_annotator.text
    assert GOLD_SECRET not in leaked and "safe-ann-2" not in leaked and ann2_id not in leaked
    # The owner still sees every answer.
    with httpx.Client(headers={"X-Argilla-Api-Key": lb_server.api_key}, timeout=30) as owner_client:
        everyone = owner_client.get(f"{base}/records/{record_id}").json()["responses"]
    assert {r["user_id"] for r in everyone} == {ann1_id, ann2_id}


def test_removed_annotators_leave_the_workspace_and_existing_users_are_reused(
    tmp_path: Path, lb_server: Any
) -> None:
    notebook = released(tmp_path)
    owner = {"api_url": lb_server.url, "api_key": lb_server.api_key, "progress": False}
    first = lb.publish(
        notebook,
        workspace="safe-roster",
        annotators=pd.DataFrame({"username": ["keep-1", "drop-1"], "group": ["a", "b"]}),
        **owner,
    )
    assert first.roster and sorted(first.roster.created) == ["drop-1", "keep-1"]
    second = lb.publish(notebook, annotators=pd.DataFrame({"username": ["keep-1"], "group": ["a"]}), **owner)
    assert second.roster and second.roster.reused == ["keep-1"] and second.roster.removed == ["drop-1"]
    assert not second.roster.new_passwords
    with connect(lb_server.url, lb_server.api_key) as conn:
        workspace = next(
            w for w in conn.request("GET", "/api/v1/me/workspaces")["items"] if w["name"] == "safe-roster"
        )
        members = {
            u["username"] for u in conn.request("GET", f"/api/v1/workspaces/{workspace['id']}/users")["items"]
        }
    assert "keep-1" in members and "drop-1" not in members
