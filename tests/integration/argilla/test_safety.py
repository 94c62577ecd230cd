"""What a contractor can reach, checked through the API with their own key: no gold answer, no
gold flag, no other annotator's identity, no dataset of another workspace; no secret in reprs,
logs or the release store."""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import labelbook as lb
from labelbook.argilla import connect

EXAMPLE = Path(__file__).parents[3] / "examples" / "trajectory-rating"
GOLD_SECRET = "GOLD-ONLY rationale 7f3a"


def released(tmp_path: Path) -> Path:
    notebook = tmp_path / "guide.py"
    shutil.copy(EXAMPLE / "guide.py", notebook)
    lb.release(notebook, "first")
    return notebook


def test_an_annotator_reaches_nothing_they_should_not(
    tmp_path: Path, lb_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    notebook = released(tmp_path)
    roster = pd.DataFrame({"username": ["safe-ann-1", "safe-ann-2"], "vendor": ["acme", "bright"]})
    gold = pd.DataFrame(
        {"id": ["traj-003", "traj-008"], "outcome": ["success", "failure"], "rationale": [GOLD_SECRET] * 2}
    )
    owner = {"api_url": lb_server.url, "api_key": lb_server.api_key, "progress": False}
    with caplog.at_level(logging.DEBUG):  # everything the argilla SDK and httpx log while accounts are made
        result = lb.publish(
            notebook,
            records=EXAMPLE / "records.jsonl",
            workspace="safe-main",
            annotators=roster,
            gold=gold,
            gold_rate=0.1,
            **owner,
        ).last_publish
    assert result.gold_published == 2
    secret_passwords = dict(result.roster.new_passwords) if result.roster else {}
    assert len(secret_passwords) == 2
    # Another workspace with its own dataset: the annotators are not members.
    other = tmp_path / "other"
    other.mkdir()
    elsewhere = lb.publish(
        released(other), records=EXAMPLE / "records.jsonl", workspace="safe-other", **owner
    ).last_publish

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
    assert "Created user safe-ann-1" in caplog.text  # the SDK's log was captured: no password in it
    shown = repr(result) + repr(result.roster) + str(result) + caplog.text
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
    ).last_publish
    assert first.roster and sorted(first.roster.created) == ["drop-1", "keep-1"]
    second = lb.publish(
        notebook, annotators=pd.DataFrame({"username": ["keep-1"], "group": ["a"]}), **owner
    ).last_publish
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


# --- the embedded server's privacy filter, route by route and id spelling by id spelling -------------

HIDDEN_SECRET = "HIDDEN-SOURCE-9c1e"
PROJECT_SECRET = "PROJECT-MARKER-4b2d"


def id_spellings(value: str) -> dict[str, str]:
    """Every spelling of a UUID that FastAPI/pydantic turn into the same id."""
    plain = value.replace("-", "")
    return {
        "hyphenated": value,
        "bare hex": plain,
        "braces": "{" + value + "}",
        "urn": "urn:uuid:" + value,
        "upper case": value.upper(),
        "percent-encoded": value.replace("-", "%2D"),
    }


@dataclass
class PrivacyWorld:
    base: str
    owner_key: str
    dataset_id: str
    workspace_id: str
    record_ids: list[str]
    me: tuple[str, str, str]  # id, username, api key
    other: tuple[str, str, str]
    visible_property_id: str
    hidden_property_id: str


@pytest.fixture(scope="module")
def privacy_world(lb_server: Any) -> PrivacyWorld:
    """A workspace with two annotators who both answered, and metadata shown and hidden."""
    base = f"{lb_server.url}/api/v1"
    tag = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=base, headers={"X-Argilla-Api-Key": lb_server.api_key}, timeout=30) as owner:

        def call(method: str, path: str, **kwargs: Any) -> Any:
            reply = owner.request(method, path, **kwargs)
            assert reply.status_code < 300, (method, path, reply.text)
            return reply.json() if reply.content else None

        workspace = call("POST", "/workspaces", json={"name": f"privacy-{tag}"})
        users = []
        for name in (f"priv-me-{tag}", f"priv-other-{tag}"):
            user = call(
                "POST",
                "/users",
                json={"username": name, "password": secrets.token_urlsafe(12), "role": "annotator",
                      "first_name": name},
            )  # fmt: skip
            call("POST", f"/workspaces/{workspace['id']}/users", json={"user_id": user["id"]})
            users.append((user["id"], name, user["api_key"]))
        dataset = call("POST", "/datasets", json={"name": f"privacy-{tag}", "workspace_id": workspace["id"]})
        ds = dataset["id"]
        call(
            "POST",
            f"/datasets/{ds}/fields",
            json={"name": "text", "title": "Text", "settings": {"type": "text"}},
        )
        call(
            "POST",
            f"/datasets/{ds}/questions",
            json={"name": "label", "title": "Label",
                "required": True, "settings": {"type": "label_selection",
                  "options": [{"value": v, "text": v} for v in ("yes", "no")]}},
        )  # fmt: skip
        visible = call(
            "POST",
            f"/datasets/{ds}/metadata-properties",
            json={
                "name": "topic",
                "title": "Topic",
                "settings": {"type": "terms"},
                "visible_for_annotators": True,
            },
        )
        hidden = call(
            "POST",
            f"/datasets/{ds}/metadata-properties",
            json={"name": "source", "title": "Source", "settings": {"type": "terms"},
                  "visible_for_annotators": False},
        )  # fmt: skip
        call(
            "POST",
            f"/datasets/{ds}/metadata-properties",
            json={
                "name": "batch",
                "title": "Batch",
                "settings": {"type": "integer"},
                "visible_for_annotators": False,
            },
        )
        call("PUT", f"/datasets/{ds}/publish")
        call("PATCH", f"/datasets/{ds}", json={"metadata": {"labelbook": PROJECT_SECRET}})
        items = [
            {
                "external_id": f"r{i}",
                "fields": {"text": f"record {i}"},
                "metadata": {"topic": "t", "source": HIDDEN_SECRET, "batch": i, "unlisted": HIDDEN_SECRET},
            }
            for i in range(3)
        ]
        call("POST", f"/datasets/{ds}/records/bulk", json={"items": items})
        records = call("GET", f"/datasets/{ds}/records")["items"]
        record_ids = [r["id"] for r in sorted(records, key=lambda r: r["external_id"])]
    for _, _, key in users:
        with httpx.Client(base_url=base, headers={"X-Argilla-Api-Key": key}, timeout=30) as annotator:
            answers = [
                {"record_id": rid, "values": {"label": {"value": "yes"}}, "status": "submitted"}
                for rid in record_ids
            ]
            done = annotator.post("/me/responses/bulk", json={"items": answers})
            assert done.status_code == 200 and not any(i.get("error") for i in done.json()["items"]), (
                done.text
            )
    return PrivacyWorld(
        base=base,
        owner_key=lb_server.api_key,
        dataset_id=ds,
        workspace_id=workspace["id"],
        record_ids=record_ids,
        me=users[0],
        other=users[1],
        visible_property_id=visible["id"],
        hidden_property_id=hidden["id"],
    )


def request_as(world: PrivacyWorld, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(headers={"X-Argilla-Api-Key": key}, timeout=30) as client:
        return client.request(method, httpx.URL(world.base + path), **kwargs)


def assert_nothing_of_others(world: PrivacyWorld, reply: httpx.Response) -> None:
    other_id, other_name, other_key = world.other
    for secret in (other_id, other_id.replace("-", ""), other_name, other_key, HIDDEN_SECRET, PROJECT_SECRET):
        assert secret not in reply.text, f"{reply.request.method} {reply.request.url} shows {secret!r}"


def test_an_annotator_reads_only_their_own_answers_on_every_record_route_and_id_spelling(
    privacy_world: PrivacyWorld,
) -> None:
    world = privacy_world
    me_id, _, me_key = world.me
    record = world.record_ids[0]
    for spelling, form in id_spellings(record).items():
        got = request_as(world, me_key, "GET", f"/records/{form}", params={"include": "responses"})
        assert got.status_code == 200, (spelling, got.text)
        assert [r["user_id"] for r in got.json()["responses"]] == [me_id], spelling
        assert got.json()["metadata"] == {"topic": "t"}, spelling
        assert_nothing_of_others(world, got)
        suggestions = request_as(world, me_key, "GET", f"/records/{form}/suggestions")
        assert suggestions.status_code == 200, (spelling, suggestions.text)
        assert_nothing_of_others(world, suggestions)
    # The owner still sees every answer and every metadata value.
    everything = request_as(world, world.owner_key, "GET", f"/records/{record}").json()
    assert {r["user_id"] for r in everything["responses"]} == {me_id, world.other[0]}
    assert everything["metadata"]["source"] == HIDDEN_SECRET


def test_an_annotator_sees_only_their_own_name_in_both_progress_endpoints(
    privacy_world: PrivacyWorld,
) -> None:
    world = privacy_world
    _, me_name, me_key = world.me
    for spelling, form in id_spellings(world.dataset_id).items():
        progress = request_as(world, me_key, "GET", f"/datasets/{form}/progress")
        assert progress.status_code == 200, (spelling, progress.text)
        body = progress.json()
        assert (body["total"], body["completed"], body["pending"]) == (3, 3, 0), spelling  # totals stay
        assert [u["username"] for u in body["users"]] == [me_name], spelling
        assert_nothing_of_others(world, progress)
        per_user = request_as(world, me_key, "GET", f"/datasets/{form}/users/progress")
        assert per_user.status_code == 200, (spelling, per_user.text)
        assert [u["username"] for u in per_user.json()["users"]] == [me_name], spelling
        assert per_user.json()["users"][0]["completed"]["submitted"] == 3
        assert_nothing_of_others(world, per_user)
        metrics = request_as(world, me_key, "GET", f"/me/datasets/{form}/metrics")
        assert metrics.status_code == 200, (spelling, metrics.text)
        assert metrics.json()["responses"]["submitted"] == 3
        assert_nothing_of_others(world, metrics)
    owner_view = request_as(
        world, world.owner_key, "GET", f"/datasets/{world.dataset_id}/users/progress"
    ).json()
    assert {u["username"] for u in owner_view["users"]} == {me_name, world.other[1]}
    owner_progress = request_as(
        world, world.owner_key, "GET", f"/datasets/{world.dataset_id}/progress"
    ).json()
    assert {u["username"] for u in owner_progress["users"]} == {me_name, world.other[1]}


def test_an_annotator_search_carries_no_other_answer_and_no_hidden_metadata(
    privacy_world: PrivacyWorld,
) -> None:
    world = privacy_world
    me_id, _, me_key = world.me
    include = {"include": ["responses", "suggestions", "vectors"]}
    for spelling, form in id_spellings(world.dataset_id).items():
        found = request_as(
            world, me_key, "POST", f"/me/datasets/{form}/records/search", params=include, json={}
        )
        assert found.status_code == 200, (spelling, found.text)
        records = [item["record"] for item in found.json()["items"]]
        assert len(records) == 3
        assert all([r["user_id"] for r in rec["responses"]] == [me_id] for rec in records)
        assert all(rec["metadata"] == {"topic": "t"} for rec in records)
        assert_nothing_of_others(world, found)
        # The search over every user's answers, the record listing, users: leads only.
        for method, path in (
            ("POST", f"/datasets/{form}/records/search"),
            ("GET", f"/datasets/{form}/records"),
            ("GET", f"/me/datasets/{form}/records"),
        ):
            refused = request_as(world, me_key, method, path, json={} if method == "POST" else None)
            assert refused.status_code in (403, 404, 405), (method, path, refused.status_code)
            assert_nothing_of_others(world, refused)
        listing = request_as(world, me_key, "GET", f"/me/datasets/{form}/metadata-properties")
        assert [p["name"] for p in listing.json()["items"]] == ["topic"], spelling
        dataset = request_as(world, me_key, "GET", f"/datasets/{form}")
        assert dataset.status_code == 200 and not dataset.json()["metadata"], spelling
        assert_nothing_of_others(world, dataset)
    mine = request_as(world, me_key, "GET", "/me/datasets")
    assert mine.status_code == 200 and world.dataset_id in mine.text
    assert_nothing_of_others(world, mine)
    for path in (
        "/users",
        f"/users/{world.other[0]}",
        f"/users/{world.other[0]}/workspaces",
        f"/workspaces/{world.workspace_id}/users",
        "/webhooks",
    ):
        refused = request_as(world, me_key, "GET", path)
        assert refused.status_code == 403, (path, refused.text)
    assert (
        request_as(
            world, me_key, "GET", f"/metadata-properties/{world.hidden_property_id}/metrics"
        ).status_code
        == 403
    )
    shown = request_as(world, me_key, "GET", f"/metadata-properties/{world.visible_property_id}/metrics")
    assert shown.status_code == 200, shown.text
    # The owner still sees the project's own marks.
    assert request_as(world, world.owner_key, "GET", f"/datasets/{world.dataset_id}").json()["metadata"]


def on_metadata(name: str) -> dict[str, str]:
    return {"entity": "metadata", "metadata_property": name}


@pytest.mark.parametrize(
    "query",
    [
        {"filters": {"and": [{"type": "terms", "scope": on_metadata("source"), "values": [HIDDEN_SECRET]}]}},
        {"filters": {"and": [{"type": "range", "scope": on_metadata("batch"), "ge": 1}]}},
        {"sort": [{"scope": on_metadata("batch"), "order": "desc"}]},
        {
            "filters": {
                "and": [{"type": "terms", "scope": on_metadata("unlisted"), "values": [HIDDEN_SECRET]}]
            }
        },
    ],
    ids=["terms filter", "range filter", "sort", "undeclared key"],
)
def test_an_annotator_cannot_filter_or_sort_on_hidden_metadata(
    privacy_world: PrivacyWorld, query: dict[str, Any]
) -> None:
    world = privacy_world
    for form in (world.dataset_id, world.dataset_id.replace("-", "")):
        refused = request_as(world, world.me[2], "POST", f"/me/datasets/{form}/records/search", json=query)
        assert refused.status_code == 422, refused.text
        assert "not available to annotators" in refused.json()["detail"]
        assert HIDDEN_SECRET not in refused.text and "r1" not in refused.text
    # The owner may (argilla itself refuses a key no property declares); a visible property stays usable.
    search = f"/me/datasets/{world.dataset_id}/records/search"
    by_owner = request_as(world, world.owner_key, "POST", search, json=query)
    assert by_owner.status_code == (422 if "unlisted" in json.dumps(query) else 200), by_owner.text
    visible = {"filters": {"and": [{"type": "terms", "scope": on_metadata("topic"), "values": ["t"]}]}}
    allowed = request_as(
        world, world.me[2], "POST", f"/me/datasets/{world.dataset_id}/records/search", json=visible
    )
    assert allowed.status_code == 200 and allowed.json()["total"] == 3, allowed.text
