"""Logging records and submitting answers leave api.log clean, and an annotator's search page
answers with the metadata they may see.

argilla-server 2.8 attached a throwaway Record to the dataset while validating each new record,
which made SQLAlchemy warn `Object of type <Record> not in session` on every bulk log;
labelbook's bootstrap validates it apart from the session (see `_bootstrap.py`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import argilla as rg
import httpx


def _log_lines(data_dir: Path) -> list[str]:
    return (data_dir / "logs" / "api.log").read_text(errors="replace").splitlines()


def test_logging_records_and_submitting_answers_raise_no_sqlalchemy_warning(
    lb_server, argilla_client: rg.Argilla, make_team: Any
) -> None:
    before = len(_log_lines(lb_server.data_dir))
    team = make_team("submit", 1)
    tag, workspace, annotator = team.tag, team.workspace, team.annotators[0]
    dataset = rg.Dataset(
        name=f"submit-{tag}",
        workspace=workspace,
        settings=rg.Settings(
            fields=[rg.TextField("text")],
            questions=[rg.LabelQuestion("label", labels=["a", "b"])],
            metadata=[
                rg.TermsMetadataProperty("lang"),
                rg.IntegerMetadataProperty("n", visible_for_annotators=False),
            ],
            distribution=rg.TaskDistribution(min_submitted=1),
        ),
        client=argilla_client,
    ).create()
    # More than one SDK batch, with suggestions and responses: every validation path of a new record.
    owner_id = argilla_client.me.id
    dataset.records.log(
        [
            rg.Record(
                fields={"text": f"item {n}"},
                metadata={"lang": "en", "n": n},
                suggestions=[rg.Suggestion("label", "a")],
                responses=[rg.Response("label", "b", user_id=owner_id)] if n % 7 == 0 else [],
            )
            for n in range(300)
        ]
    )
    owner = httpx.Client(
        base_url=lb_server.url, headers={"X-Argilla-Api-Key": lb_server.api_key}, timeout=60, trust_env=False
    )
    key = owner.get(f"/api/v1/users/{annotator.id}").json()["api_key"]
    owner.close()
    with httpx.Client(
        base_url=lb_server.url, headers={"X-Argilla-Api-Key": key}, timeout=60, trust_env=False
    ) as client:
        page = client.post(
            f"/api/v1/me/datasets/{dataset.id}/records/search",
            json={
                "filters": {
                    "and": [
                        {
                            "type": "terms",
                            "scope": {"entity": "response", "property": "status"},
                            "values": ["pending"],
                        }
                    ]
                }
            },
            params={"limit": 60},
        )
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert len(items) == 60
        # Visible metadata stays, the property hidden from annotators is withheld, on every record.
        assert all(item["record"]["metadata"] == {"lang": "en"} for item in items)
        ids = [item["record"]["id"] for item in items]
        single = client.post(
            f"/api/v1/records/{ids[0]}/responses",
            json={"values": {"label": {"value": "a"}}, "status": "submitted"},
        )
        assert single.status_code == 201, single.text
        bulk = client.post(
            "/api/v1/me/responses/bulk",
            json={
                "items": [
                    {"values": {"label": {"value": "b"}}, "status": "submitted", "record_id": record_id}
                    for record_id in ids[1:]
                ]
            },
        )
        assert bulk.status_code == 200, bulk.text
        assert [item["error"] for item in bulk.json()["items"]] == [None] * 59

    new = _log_lines(lb_server.data_dir)[before:]
    assert [line for line in new if "Warning" in line or "Traceback" in line] == []


def test_a_webhook_made_after_answers_were_submitted_receives_the_next_ones(
    lb_server, argilla_client: rg.Argilla, webhook_log
) -> None:
    """The API remembers which events webhooks subscribe to; making one must end that memory."""
    tag = uuid.uuid4().hex[:8]
    workspace = rg.Workspace(name=f"hook-{tag}", client=argilla_client).create()
    dataset = rg.Dataset(
        name=f"hook-{tag}",
        workspace=workspace,
        settings=rg.Settings(
            fields=[rg.TextField("text")], questions=[rg.LabelQuestion("label", labels=["a", "b"])]
        ),
        client=argilla_client,
    ).create()
    dataset.records.log([{"text": f"item {n}"} for n in range(3)])
    ids = [str(record._server_id) for record in dataset.records]
    with httpx.Client(
        base_url=lb_server.url, headers={"X-Argilla-Api-Key": lb_server.api_key}, timeout=60, trust_env=False
    ) as owner:

        def answer(record_id: str) -> None:
            reply = owner.post(
                f"/api/v1/records/{record_id}/responses",
                json={"values": {"label": {"value": "a"}}, "status": "submitted"},
            )
            assert reply.status_code == 201, reply.text

        answer(ids[0])  # no webhook yet: the API now remembers that nobody listens
        hook = owner.post("/api/v1/webhooks", json={"url": webhook_log.url, "events": ["response.created"]})
        assert hook.status_code == 201, hook.text
        try:
            answer(ids[1])
            assert webhook_log.wait_for(lambda: len(webhook_log.events) >= 1, stalled_after=30, limit=60)
            disabled = owner.patch(f"/api/v1/webhooks/{hook.json()['id']}", json={"enabled": False})
            assert disabled.status_code == 200, disabled.text
            answer(ids[2])
        finally:
            owner.delete(f"/api/v1/webhooks/{hook.json()['id']}")
    assert [event[0] for event in webhook_log.events] == ["response.created"]
