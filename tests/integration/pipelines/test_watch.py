"""`pipe.watch()` / `labelbook pipeline run --watch`: a pass on the server's webhook, not only on its
interval; the webhook is the watch's own and goes when it stops (or with the next watch when killed)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from book_qa_pipeline import PASSAGES, build
from pipeline_workers import answer, keys, watch_webhooks

from labelbook.argilla import connect
from labelbook.argilla.webhooks import listen
from labelbook.errors import BackendError
from labelbook.pipelines import RunResult

WAIT = 240.0  # a delivery may queue behind another test's long job in the shared server's worker


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_completed_record_moves_on_the_webhook_long_before_the_interval(
    tmp_path: Path, lb_server: Any
) -> None:
    prefix = f"t{secrets.token_hex(3)}"
    pipe = build(tmp_path, prefix, lb_server.url, lb_server.api_key)
    pipe.run()
    # A watch of this pipeline killed earlier left its webhook behind.
    left = httpx.post(
        f"{lb_server.url}/api/v1/webhooks",
        headers={"X-Argilla-Api-Key": lb_server.api_key},
        json={
            "url": "http://127.0.0.1:9/events",
            "events": ["record.completed"],
            "description": f"labelbook watch: {prefix} (pid {_dead_pid()})",
        },
        trust_env=False,
    )
    left.raise_for_status()

    passes: list[RunResult] = []
    how: list[str] = []
    stop = threading.Event()
    watching = threading.Thread(
        target=pipe.watch,
        args=(3600.0,),
        kwargs={"on_pass": passes.append, "on_start": how.append, "stop": stop},
    )
    watching.start()
    try:
        deadline = time.monotonic() + 60
        while not passes:
            assert watching.is_alive() and time.monotonic() < deadline
            time.sleep(0.1)
        assert "webhook" in how[0], how
        mine = watch_webhooks(lb_server.url, lb_server.api_key, prefix)
        assert [w["id"] for w in mine] != [left.json()["id"]] and len(mine) == 1, mine  # the dead one went
        assert mine[0]["url"].startswith("http://127.0.0.1:") and mine[0]["events"] == ["record.completed"]

        found = keys(lb_server.url, lb_server.api_key)
        dataset = pipe.project("answer").state.dataset_id
        for n in (1, 2, 3):
            answer(
                lb_server.url,
                found[f"{prefix}-w{n}"],
                dataset,
                lambda r: {"answerable": "yes", "answer": "x"},
            )
        deadline = time.monotonic() + WAIT
        while sum(p.published.get("review", 0) for p in passes) < len(PASSAGES):
            assert watching.is_alive() and time.monotonic() < deadline, passes
            time.sleep(0.2)
    finally:
        stop.set()
        watching.join(timeout=60)
    assert not watching.is_alive()
    assert len(passes) >= 2  # woken by the server: the interval (an hour) never ran out
    assert watch_webhooks(lb_server.url, lb_server.api_key, prefix) == []
    pipe.close()


def test_a_forged_delivery_does_not_wake_the_watch(lb_server: Any) -> None:
    with connect(lb_server.url, lb_server.api_key) as connection, listen(connection, "forged") as wakeups:
        body = b'{"type": "record.completed", "data": {"dataset": {"id": "x"}}}'
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,AAAA",
        }
        reply = httpx.post(wakeups.url, content=body, headers=headers, trust_env=False)
        assert reply.status_code == 401
        assert not wakeups.wait(0.2) and wakeups.received == 0


def test_a_server_elsewhere_is_polled(lb_server: Any) -> None:
    with connect(lb_server.url, lb_server.api_key) as connection:
        connection.url = "http://argilla.example.org:6900"  # as a remote deployment's URL reads
        with pytest.raises(BackendError, match="not on this machine"):
            listen(connection, "remote")
