"""70 annotators submitting at once, while records are logged and the worker runs jobs, lose nothing.

The shape of the workload is the one labelbook exists for (~70 contractors on one task): every
annotator logs in with their own API key and submits 25 responses through the REST API, as the
web UI does, while a lead keeps logging records in batches, a webhook makes the rq worker read
the database for every new record, and a change of the task distribution makes the worker
rewrite every answered record's status (a serializable write transaction) in the middle of it.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argilla as rg
import httpx
import pytest

pytestmark = pytest.mark.load

ANNOTATORS = 70
RESPONSES_EACH = 25
BATCHES = 5
BATCH_SIZE = 50
RECORDS = BATCHES * BATCH_SIZE
# Annotators sharing `index % STRIDE` answer the same 25 records, so each record gets
# ANNOTATORS / STRIDE = 7 responses and every annotator's k-th record is in batch k // 5.
STRIDE = RECORDS // RESPONSES_EACH
REQUEST_TIMEOUT = httpx.Timeout(30.0)
WAIT_FOR_RECORD = 60.0


class _Records:
    """Record ids in the order they were acknowledged, shared by the logger and the annotators."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.done = False
        self.cond = threading.Condition()

    def add(self, ids: list[str]) -> None:
        with self.cond:
            self.ids.extend(ids)
            self.cond.notify_all()

    def finish(self) -> None:
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def get(self, index: int) -> str:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.ids) > index or self.done, timeout=WAIT_FOR_RECORD):
                raise TimeoutError(f"record {index} was not logged within {WAIT_FOR_RECORD:.0f} s")
            if len(self.ids) <= index:
                raise RuntimeError(f"record {index} was never logged")
            return self.ids[index]


def _server_log_lines(data_dir: Path, needle: str) -> list[str]:
    return [
        f"{log.name}: {line}"
        for log in sorted((data_dir / "logs").glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if needle in line
    ]


def test_70_annotators_submit_while_records_are_logged_and_the_worker_runs(
    lb_server, argilla_client: rg.Argilla, webhook_log
) -> None:
    tag = uuid.uuid4().hex[:8]
    owner_headers = {"X-Argilla-Api-Key": lb_server.api_key}
    locked_before = len(_server_log_lines(lb_server.data_dir, "database is locked"))
    tracebacks_before = len(_server_log_lines(lb_server.data_dir, "Traceback"))

    workspace = rg.Workspace(name=f"load-{tag}", client=argilla_client).create()
    dataset = rg.Dataset(
        name=f"load-{tag}",
        workspace=workspace,
        settings=rg.Settings(
            fields=[rg.TextField("text")],
            questions=[rg.LabelQuestion("label", labels=["a", "b"])],
            distribution=rg.TaskDistribution(min_submitted=2),
        ),
        client=argilla_client,
    ).create()

    def make_annotator(number: int) -> str:
        user = rg.User(
            username=f"ann-{tag}-{number:02d}", password=f"pw-{tag}-{number:02d}", role="annotator",
            client=argilla_client,
        ).create()  # fmt: skip
        user.add_to_workspace(workspace)
        return user.username

    setup_started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        usernames = list(pool.map(make_annotator, range(ANNOTATORS)))
    print(f"\n{ANNOTATORS} annotators created in {time.monotonic() - setup_started:.1f} s")

    with httpx.Client(
        base_url=lb_server.url, headers=owner_headers, timeout=REQUEST_TIMEOUT, trust_env=False
    ) as owner:
        # The SDK does not expose API keys; the owner may read them, as an admin handing them out would.
        users = owner.get("/api/v1/users")
        users.raise_for_status()
        api_keys = {user["username"]: user["api_key"] for user in users.json()["items"]}
        webhook = owner.post("/api/v1/webhooks", json={"url": webhook_log.url, "events": ["record.created"]})
        webhook.raise_for_status()
        webhook_id = webhook.json()["id"]
        try:
            records = _Records()
            errors: list[str] = []
            errors_lock = threading.Lock()

            def fail(message: str) -> None:
                with errors_lock:
                    errors.append(message)

            def log_records() -> None:
                try:
                    for batch in range(BATCHES):
                        items = [
                            {
                                "external_id": f"{tag}-{batch * BATCH_SIZE + n}",
                                "fields": {"text": f"item {n}"},
                            }
                            for n in range(BATCH_SIZE)
                        ]
                        reply = owner.post(
                            f"/api/v1/datasets/{dataset.id}/records/bulk", json={"items": items}
                        )
                        if reply.status_code != 201:
                            fail(f"bulk log {batch}: {reply.status_code} {reply.text[:300]}")
                            return
                        records.add([item["id"] for item in reply.json()["items"]])
                        if batch == BATCHES // 2:
                            # Makes the worker rewrite every answered record's status while annotators write.
                            reply = owner.patch(
                                f"/api/v1/datasets/{dataset.id}",
                                json={"distribution": {"strategy": "overlap", "min_submitted": 3}},
                            )
                            if reply.status_code != 200:
                                fail(f"distribution update: {reply.status_code} {reply.text[:300]}")
                except Exception as err:
                    fail(f"logger: {err!r}")
                finally:
                    records.finish()

            def annotate(number: int) -> int:
                headers = {"X-Argilla-Api-Key": api_keys[usernames[number]]}
                submitted = 0
                with httpx.Client(
                    base_url=lb_server.url, headers=headers, timeout=REQUEST_TIMEOUT, trust_env=False
                ) as client:
                    try:
                        me = client.get("/api/v1/me")
                        if me.status_code != 200 or me.json()["username"] != usernames[number]:
                            fail(f"{usernames[number]} login: {me.status_code} {me.text[:300]}")
                            return 0
                        for k in range(RESPONSES_EACH):
                            record_id = records.get(k * STRIDE + number % STRIDE)
                            reply = client.post(
                                f"/api/v1/records/{record_id}/responses",
                                json={"values": {"label": {"value": "ab"[k % 2]}}, "status": "submitted"},
                            )
                            if reply.status_code != 201:
                                fail(f"{usernames[number]} #{k}: {reply.status_code} {reply.text[:300]}")
                            else:
                                submitted += 1
                    except Exception as err:
                        fail(f"{usernames[number]}: {err!r}")
                return submitted

            started = time.monotonic()
            logger = threading.Thread(target=log_records, name="record-logger")
            with ThreadPoolExecutor(ANNOTATORS, thread_name_prefix="annotator") as pool:
                logger.start()
                submitted = sum(pool.map(annotate, range(ANNOTATORS)))
            logger.join(timeout=WAIT_FOR_RECORD)
            elapsed = time.monotonic() - started
            print(f"\n{submitted} responses from {ANNOTATORS} annotators in {elapsed:.1f} s "
                  f"({submitted / elapsed:.0f}/s) while {len(records.ids)} records were logged")  # fmt: skip

            assert errors == [], f"{len(errors)} failed requests, first ones: {errors[:5]}"
            assert submitted == ANNOTATORS * RESPONSES_EACH

            # Counted by the server, from its tables: responses per annotator, record status, response status.
            progress = owner.get(f"/api/v1/datasets/{dataset.id}/users/progress")
            progress.raise_for_status()
            per_user = {
                row["username"]: sum(
                    count for key, value in row.items() if key != "username" for count in value.values()
                )
                for row in progress.json()["users"]
            }
            assert sum(per_user.values()) == ANNOTATORS * RESPONSES_EACH
            assert per_user == dict.fromkeys(usernames, RESPONSES_EACH)
            # 7 submitted responses per record >= min_submitted 3: worker and API agree on "completed".
            for row in progress.json()["users"]:
                assert row["completed"]["submitted"] == RESPONSES_EACH, row
                assert sum(row["pending"].values()) == 0, row

            # The worker delivered one record.created event per logged record (it runs behind the API,
            # and retries a failed delivery after 10 s and 60 s): wait while deliveries keep coming.
            expected = set(records.ids)
            webhook_log.wait_for(lambda: webhook_log.delivered >= expected, stalled_after=75, limit=300)
            retried = sum(1 for count in webhook_log.attempts.values() if count > 1)
            print(f"{len(webhook_log.delivered)} record.created events delivered, {retried} after a retry")
            assert webhook_log.delivered == expected, (
                f"{len(expected - webhook_log.delivered)} of {len(expected)} records never announced; "
                f"worker log: {_server_log_lines(lb_server.data_dir, 'rror')[-5:]}"
            )
        finally:
            owner.delete(f"/api/v1/webhooks/{webhook_id}")

    locked = _server_log_lines(lb_server.data_dir, "database is locked")[locked_before:]
    assert locked == [], "\n".join(locked[:10])
    tracebacks = _server_log_lines(lb_server.data_dir, "Traceback")[tracebacks_before:]
    assert tracebacks == [], f"{len(tracebacks)} tracebacks in {lb_server.data_dir / 'logs'}"
