"""Webhook deliveries: only a correctly signed one of a wanted dataset wakes a watch."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from standardwebhooks.webhooks import Webhook

from labelbook.argilla import Connection
from labelbook.argilla.webhooks import Wakeups, is_local

SECRET = base64.b64encode(b"s" * 24).decode()


def _signed(dataset_id: str, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"type": "record.completed", "data": {"dataset": {"id": dataset_id}}})
    now = datetime.now(timezone.utc)
    signature = Webhook(secret).sign("msg_1", now, body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


def _wakeups() -> Wakeups:
    wakeups = Wakeups(Connection("http://127.0.0.1:6900", "key"), wanted=lambda dataset: dataset == "mine")
    wakeups._secret = SECRET
    return wakeups


def test_a_signed_delivery_of_a_wanted_dataset_wakes_once() -> None:
    wakeups = _wakeups()
    assert wakeups.deliver(*_signed("mine")) == 204
    assert wakeups.wait(0) and wakeups.received == 1
    assert not wakeups.wait(0)  # woken once per delivery


def test_another_datasets_delivery_is_taken_but_does_not_wake() -> None:
    wakeups = _wakeups()
    assert wakeups.deliver(*_signed("theirs")) == 204
    assert not wakeups.wait(0) and wakeups.received == 0


@pytest.mark.parametrize("secret", [base64.b64encode(b"x" * 24).decode(), ""])
def test_a_delivery_signed_otherwise_or_before_the_webhook_exists_is_refused(secret: str) -> None:
    wakeups = _wakeups()
    wakeups._secret = secret
    assert wakeups.deliver(*_signed("mine")) == 401
    assert not wakeups.wait(0)


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:6900", True),
        ("http://localhost:6900/", True),
        ("http://[::1]:6900", True),
        ("https://argilla.example.org", False),
        ("http://10.0.0.5:6900", False),
    ],
)
def test_only_a_server_on_this_machine_is_sent_webhooks_to_127_0_0_1(url: str, local: bool) -> None:
    assert is_local(url) is local
