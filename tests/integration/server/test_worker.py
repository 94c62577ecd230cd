"""The worker delivers webhook events and retries a failed delivery, as argilla-server schedules it."""

from __future__ import annotations

import uuid

import argilla as rg
import httpx


def test_a_failed_webhook_delivery_is_retried(lb_server, argilla_client: rg.Argilla, webhook_log) -> None:
    # argilla-server retries after 10 s; only a running scheduler puts the retry back on the queue.
    webhook_log.failures = 1
    tag = uuid.uuid4().hex[:8]
    workspace = rg.Workspace(name=f"retry-{tag}", client=argilla_client).create()
    dataset = rg.Dataset(
        name=f"retry-{tag}",
        workspace=workspace,
        settings=rg.Settings(
            fields=[rg.TextField("text")], questions=[rg.LabelQuestion("label", labels=["a", "b"])]
        ),
        client=argilla_client,
    ).create()
    with httpx.Client(
        base_url=lb_server.url, headers={"X-Argilla-Api-Key": lb_server.api_key}, trust_env=False
    ) as owner:
        webhook = owner.post("/api/v1/webhooks", json={"url": webhook_log.url, "events": ["record.created"]})
        webhook.raise_for_status()
        try:
            dataset.records.log([{"text": "announce me"}])
            listed = owner.get(f"/api/v1/datasets/{dataset.id}/records")
            listed.raise_for_status()
            (record_id,) = [item["id"] for item in listed.json()["items"]]

            webhook_log.wait_for(lambda: record_id in webhook_log.delivered, stalled_after=40, limit=40)

            assert webhook_log.attempts[record_id] == 2, webhook_log.attempts
            assert webhook_log.delivered == {record_id}
        finally:
            owner.delete(f"/api/v1/webhooks/{webhook.json()['id']}")
