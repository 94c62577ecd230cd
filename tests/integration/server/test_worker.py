"""The worker's jobs: webhook deliveries and their retries, record statuses after a distribution change."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import argilla as rg
import httpx
import pytest

WAIT = 300.0  # a job may queue behind another test's long job on the shared server


@pytest.fixture
def owner(lb_server) -> Iterator[httpx.Client]:
    headers = {"X-Argilla-Api-Key": lb_server.api_key}
    with httpx.Client(base_url=lb_server.url, headers=headers, trust_env=False, timeout=30) as client:
        yield client


def _dataset(argilla_client: rg.Argilla, min_submitted: int = 1) -> rg.Dataset:
    tag = uuid.uuid4().hex[:8]
    workspace = rg.Workspace(name=f"jobs-{tag}", client=argilla_client).create()
    return rg.Dataset(
        name=f"jobs-{tag}",
        workspace=workspace,
        settings=rg.Settings(
            fields=[rg.TextField("text")],
            questions=[rg.LabelQuestion("label", labels=["a", "b"])],
            distribution=rg.TaskDistribution(min_submitted=min_submitted),
        ),
        client=argilla_client,
    ).create()


def _subscribe(owner: httpx.Client, url: str, events: list[str]) -> str:
    webhook = owner.post("/api/v1/webhooks", json={"url": url, "events": events})
    webhook.raise_for_status()
    return str(webhook.json()["id"])


def _record_ids(owner: httpx.Client, dataset: rg.Dataset) -> list[str]:
    listed = owner.get(f"/api/v1/datasets/{dataset.id}/records")
    listed.raise_for_status()
    return [item["id"] for item in listed.json()["items"]]


def test_a_failed_webhook_delivery_is_retried(
    argilla_client: rg.Argilla, owner: httpx.Client, webhook_log
) -> None:
    # argilla-server retries after 10 s; only a running scheduler puts the retry back on the queue.
    webhook_log.failures = 1
    dataset = _dataset(argilla_client)
    webhook_id = _subscribe(owner, webhook_log.url, ["record.created"])
    try:
        dataset.records.log([{"text": "announce me"}])
        (record_id,) = _record_ids(owner, dataset)

        webhook_log.wait_for(lambda: webhook_log.attempts[record_id] >= 1, stalled_after=WAIT, limit=WAIT)
        webhook_log.wait_for(lambda: record_id in webhook_log.delivered, stalled_after=40, limit=40)

        assert webhook_log.attempts[record_id] == 2, webhook_log.attempts
        assert webhook_log.delivered == {record_id}
    finally:
        owner.delete(f"/api/v1/webhooks/{webhook_id}")


def _status_jobs(lb_server, dataset: rg.Dataset) -> tuple[int, int]:
    """(queued or running, finished) status jobs for `dataset`, read from rq's own registries."""
    import redis
    from rq import Queue
    from rq.job import Job
    from rq.registry import FinishedJobRegistry, StartedJobRegistry

    from labelbook.server.launcher import ServerPaths

    connection = redis.Redis(unix_socket_path=str(ServerPaths(lb_server.data_dir).redis_socket))
    try:
        queue = Queue("default", connection=connection)
        waiting = queue.job_ids + StartedJobRegistry(queue=queue).get_job_ids()
        finished = FinishedJobRegistry(queue=queue).get_job_ids()

        def mine(job_ids: list[str]) -> int:
            jobs = [job for job in Job.fetch_many(job_ids, connection=connection) if job is not None]
            return sum(
                1
                for job in jobs
                if job.func_name.endswith("update_dataset_records_status_job") and job.args == (dataset.id,)
            )

        return mine(waiting), mine(finished)
    finally:
        connection.close()


def test_record_statuses_follow_a_distribution_change_once_per_record(
    argilla_client: rg.Argilla, owner: httpx.Client, lb_server, webhook_log
) -> None:
    dataset = _dataset(argilla_client, min_submitted=1)
    dataset.records.log([{"text": "twice answered"}, {"text": "once answered"}, {"text": "not answered"}])
    twice, once, untouched = _record_ids(owner, dataset)
    annotator = rg.User(
        username=f"ann-{uuid.uuid4().hex[:8]}",
        password="annotator-pw-1",
        role="annotator",
        client=argilla_client,
    ).create()
    annotator.add_to_workspace(dataset.workspace)
    keys = {user["username"]: user["api_key"] for user in owner.get("/api/v1/users").json()["items"]}
    answer = {"values": {"label": {"value": "a"}}, "status": "submitted"}
    for record_id in (twice, once):
        assert owner.post(f"/api/v1/records/{record_id}/responses", json=answer).status_code == 201
    reply = owner.post(
        f"/api/v1/records/{twice}/responses",
        json=answer,
        headers={"X-Argilla-Api-Key": keys[annotator.username]},
    )
    assert reply.status_code == 201, reply.text

    def statuses() -> dict[str, str]:
        items = owner.get(f"/api/v1/datasets/{dataset.id}/records").json()["items"]
        return {item["id"]: item["status"] for item in items}

    assert statuses() == {twice: "completed", once: "completed", untouched: "pending"}
    assert _status_jobs(lb_server, dataset) == (0, 0)  # creating a dataset queues none either
    webhook_id = _subscribe(owner, webhook_log.url, ["record.updated"])
    try:
        # New guidelines cannot change a status: no job.
        owner.patch(f"/api/v1/datasets/{dataset.id}", json={"guidelines": "New words."}).raise_for_status()
        assert _status_jobs(lb_server, dataset) == (0, 0)
        distribution = {"strategy": "overlap", "min_submitted": 2}
        owner.patch(f"/api/v1/datasets/{dataset.id}", json={"distribution": distribution}).raise_for_status()

        # The job visits records oldest first and the worker delivers in order: once `once` is
        # announced as pending, everything the job announced before it has arrived too.
        announced = ("record.updated", once, "pending")
        webhook_log.wait_for(lambda: announced in webhook_log.events, stalled_after=WAIT, limit=WAIT)
        assert statuses() == {twice: "completed", once: "pending", untouched: "pending"}
        assert _status_jobs(lb_server, dataset) == (0, 1)

        # One visit per answered record (argilla-server 2.8 visited `twice` once per response).
        visits = Counter(record for _, record, _ in webhook_log.events if record in (twice, once, untouched))
        assert visits == {twice: 1, once: 1}, webhook_log.events
    finally:
        owner.delete(f"/api/v1/webhooks/{webhook_id}")
