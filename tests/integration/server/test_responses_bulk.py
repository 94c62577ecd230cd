"""A bulk of answers is written in one transaction and replies, settles and notifies as argilla-server 2.8.

labelbook replaces argilla-server's item-by-item bulk use case (`labelbook/server/_responses.py`);
these tests hold it to what the item-by-item one gives: each item's reply or error, the records'
statuses under the task distribution, and the webhook events per answer.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import argilla as rg
import httpx
import pytest

WAIT = 300.0  # a delivery may queue behind another test's long job on the shared server
EVENTS = ["record.updated", "record.completed", "response.created", "response.updated"]


@dataclass
class Project:
    owner: httpx.Client
    dataset: rg.Dataset
    records: list[str]  # record ids in logging order
    keys: list[str]  # API keys of two annotators, members of the dataset's workspace


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-Argilla-Api-Key": key}, timeout=60, trust_env=False)


def _project(
    lb_server: Any, argilla_client: rg.Argilla, owner: httpx.Client, size: int, make_team: Any
) -> Project:
    team = make_team("bulk", 2)
    tag, workspace = team.tag, team.workspace
    keys = [owner.get(f"/api/v1/users/{user.id}").json()["api_key"] for user in team.annotators]
    dataset = rg.Dataset(
        name=f"bulk-{tag}",
        workspace=workspace,
        settings=rg.Settings(
            fields=[rg.TextField("text")],
            questions=[
                rg.LabelQuestion("label", labels=["a", "b"]),
                rg.TextQuestion("note", required=False),
            ],
            distribution=rg.TaskDistribution(min_submitted=2),
        ),
        client=argilla_client,
    ).create()
    dataset.records.log([{"text": f"item {n}"} for n in range(size)])
    listed = owner.get(f"/api/v1/datasets/{dataset.id}/records", params={"limit": size})
    listed.raise_for_status()
    return Project(owner, dataset, [item["id"] for item in listed.json()["items"]], keys)


def _statuses(project: Project) -> list[str]:
    listed = project.owner.get(
        f"/api/v1/datasets/{project.dataset.id}/records", params={"limit": len(project.records)}
    )
    listed.raise_for_status()
    by_id = {item["id"]: item["status"] for item in listed.json()["items"]}
    return [by_id[record_id] for record_id in project.records]


@pytest.fixture
def owner(lb_server: Any) -> Iterator[httpx.Client]:
    with _client(lb_server.url, lb_server.api_key) as client:
        yield client


def _submitted(value: str, record_id: str) -> dict[str, Any]:
    return {"values": {"label": {"value": value}}, "status": "submitted", "record_id": record_id}


def test_a_bulk_replies_settles_and_notifies_per_item_as_argilla_does(
    lb_server: Any, argilla_client: rg.Argilla, owner: httpx.Client, webhook_log: Any, make_team: Any
) -> None:
    project = _project(lb_server, argilla_client, owner, size=6, make_team=make_team)
    elsewhere = _project(
        lb_server, argilla_client, owner, size=1, make_team=make_team
    )  # a workspace the annotators are not in
    r = project.records
    with _client(lb_server.url, project.keys[1]) as other, _client(lb_server.url, project.keys[0]) as me:
        # Before the bulk: the other annotator submitted r0 and r1; this one has a draft on r3.
        for record_id in r[:2]:
            reply = other.post(
                f"/api/v1/records/{record_id}/responses",
                json={"values": {"label": {"value": "a"}}, "status": "submitted"},
            )
            assert reply.status_code == 201, reply.text
        draft = me.post(
            f"/api/v1/records/{r[3]}/responses",
            json={"values": {"label": {"value": "b"}}, "status": "draft"},
        )
        assert draft.status_code == 201, draft.text
        assert _statuses(project) == ["pending"] * 6
        hook = owner.post("/api/v1/webhooks", json={"url": webhook_log.url, "events": EVENTS})
        assert hook.status_code == 201, hook.text
        try:
            missing = str(uuid.uuid4())
            bulk = me.post(
                "/api/v1/me/responses/bulk",
                json={
                    "items": [
                        _submitted("a", r[0]),  # completes r0 (second submitted answer)
                        _submitted("zzz", r[1]),  # an invalid label
                        {"status": "discarded", "record_id": r[2]},  # discarded, no values
                        _submitted("b", r[3]),  # over this annotator's own draft
                        _submitted("a", elsewhere.records[0]),  # a record of another workspace's dataset
                        {"values": {"note": {"value": "x"}}, "status": "submitted", "record_id": r[4]},
                        _submitted("a", missing),
                        {
                            "values": {"label": {"value": "a"}, "extra": {"value": "x"}},
                            "status": "draft",
                            "record_id": r[5],
                        },
                    ]
                },
            )
            assert bulk.status_code == 200, bulk.text
            items = bulk.json()["items"]
            errors = [item["error"] and item["error"]["detail"] for item in items]
            assert errors == [
                None,
                "'zzz' is not a valid label for label selection question.\nValid labels are: ['a', 'b']",
                None,
                None,
                "argilla.api.errors::ForbiddenOperationError(detail=Operation not allowed)",
                "missing response value for required question with name='label'",
                f"Record with id `{missing}` not found",
                "found response value for non configured question with name='extra'",
            ]
            written = [item["item"] for item in items]
            assert [(w["record_id"], w["status"]) for w in written if w] == [
                (r[0], "submitted"),
                (r[2], "discarded"),
                (r[3], "submitted"),
            ]
            assert written[2]["values"] is None
            assert written[3]["id"] == draft.json()["id"]  # the draft was updated, not duplicated
            assert _statuses(project) == ["completed", "pending", "pending", "pending", "pending", "pending"]
            assert _statuses(elsewhere) == ["pending"]
            assert owner.get(f"/api/v1/records/{elsewhere.records[0]}").json()["responses"] == []
            # Per written answer: record.updated, record.completed when completed, then the response's event.
            expected = [
                ("record.updated", r[0], "completed"),
                ("record.completed", r[0], "completed"),
                ("response.created", written[0]["id"], "submitted"),
                ("record.updated", r[2], "pending"),
                ("response.created", written[2]["id"], "discarded"),
                ("record.updated", r[3], "pending"),
                ("response.updated", written[3]["id"], "submitted"),
            ]
            assert webhook_log.wait_for(
                lambda: len(webhook_log.events) >= len(expected), stalled_after=60, limit=WAIT
            )
        finally:
            owner.delete(f"/api/v1/webhooks/{hook.json()['id']}")
    assert Counter(webhook_log.events) == Counter(expected)


def test_two_answers_to_one_record_in_a_bulk_keep_the_last(
    lb_server: Any, argilla_client: rg.Argilla, owner: httpx.Client, make_team: Any
) -> None:
    project = _project(lb_server, argilla_client, owner, size=2, make_team=make_team)
    with _client(lb_server.url, project.keys[0]) as me:
        bulk = me.post(
            "/api/v1/me/responses/bulk",
            json={"items": [_submitted("a", project.records[0]), _submitted("b", project.records[0])]},
        )
    assert bulk.status_code == 200, bulk.text
    first, second = (item["item"] for item in bulk.json()["items"])
    assert first["id"] == second["id"]
    responses = owner.get(f"/api/v1/records/{project.records[0]}").json()["responses"]
    assert [response["values"] for response in responses] == [{"label": {"value": "b"}}]


def test_single_answers_settle_a_record_once_enough_are_submitted(
    lb_server: Any, argilla_client: rg.Argilla, owner: httpx.Client, webhook_log: Any, make_team: Any
) -> None:
    project = _project(lb_server, argilla_client, owner, size=1, make_team=make_team)
    record_id = project.records[0]
    hook = owner.post("/api/v1/webhooks", json={"url": webhook_log.url, "events": EVENTS})
    assert hook.status_code == 201, hook.text
    ids = []
    try:
        for key in project.keys:
            with _client(lb_server.url, key) as annotator:
                reply = annotator.post(
                    f"/api/v1/records/{record_id}/responses",
                    json={"values": {"label": {"value": "a"}}, "status": "submitted"},
                )
                assert reply.status_code == 201, reply.text
                ids.append(reply.json()["id"])
                again = annotator.post(
                    f"/api/v1/records/{record_id}/responses",
                    json={"values": {"label": {"value": "b"}}, "status": "submitted"},
                )
                assert again.status_code == 409, again.text
            assert _statuses(project) == ["pending" if len(ids) == 1 else "completed"]
        expected = [
            ("record.updated", record_id, "pending"),
            ("response.created", ids[0], "submitted"),
            ("record.updated", record_id, "completed"),
            ("record.completed", record_id, "completed"),
            ("response.created", ids[1], "submitted"),
        ]
        assert webhook_log.wait_for(
            lambda: len(webhook_log.events) >= len(expected), stalled_after=60, limit=WAIT
        )
    finally:
        owner.delete(f"/api/v1/webhooks/{hook.json()['id']}")
    assert Counter(webhook_log.events) == Counter(expected)
