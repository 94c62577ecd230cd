"""Wake-ups from Argilla's webhooks: a listener on 127.0.0.1 that the server calls when a record is
completed, so a watching loop (`labelbook pipeline run --watch`) reacts at once instead of at its
next poll.

Only for a server on this machine (the embedded one, or any Argilla on localhost): a server
elsewhere cannot reach 127.0.0.1, and the listener is never opened to the network. The webhook is
the SDK's `rg.Webhook`; deliveries are checked with its secret (Standard Webhooks signatures, the
`standardwebhooks` package the SDK itself depends on), so no other local process can wake the loop.
Each listener's webhook names its process; one left behind by a killed process is deleted by the
next listener, so the server's worker does not keep retrying deliveries nobody receives.
"""

from __future__ import annotations

import http.server
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from labelbook.argilla._client import Connection
from labelbook.errors import BackendError

EVENTS = ("record.completed",)
"""What wakes the loop: a record has all the answers its task distribution asks for."""

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
_MARK = re.compile(r"^labelbook watch: (?P<label>.*) \(pid (?P<pid>\d+)\)$")


def is_local(url: str) -> bool:
    """Whether the server at `url` runs on this machine (and so can call a listener on 127.0.0.1)."""
    return (urlsplit(url).hostname or "") in _LOCAL_HOSTS


@dataclass
class Wakeups:
    """A webhook subscription and its listener. `wait(timeout)` returns True when an event of a
    wanted dataset arrived since the last wait (False after `timeout` seconds without one)."""

    connection: Connection
    wanted: Callable[[str], bool] | None = None
    """Which datasets' events wake (by id); all when None."""
    webhook_id: str = ""
    url: str = ""
    """Where the server delivers (http://127.0.0.1:PORT/events)."""
    received: int = 0
    """Deliveries accepted so far (signature checked, a wanted dataset)."""
    _secret: str = field(default="", repr=False)
    _event: threading.Event = field(default_factory=threading.Event, repr=False)
    _server: http.server.ThreadingHTTPServer | None = field(default=None, repr=False)

    def wait(self, timeout: float) -> bool:
        woke = self._event.wait(timeout)
        self._event.clear()
        return woke

    def deliver(self, body: bytes, headers: dict[str, str]) -> int:
        """Take one delivery: 204 when its signature holds (waking the loop for a wanted dataset),
        401 when it does not (or before the webhook exists)."""
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        if not self._secret:
            return 401
        try:
            payload = Webhook(self._secret).verify(body, headers)
        except WebhookVerificationError:
            return 401
        if self.wanted is None or self.wanted(_dataset_id(payload)):
            self.received += 1
            self._event.set()
        return 204

    def close(self) -> None:
        """Delete the webhook and stop listening (a webhook that cannot be deleted now is deleted
        by the next listener of the same label)."""
        try:
            if self.webhook_id:
                with self.connection.errors("deleting the watch's webhook"):
                    self.connection.client.api.webhooks.delete(self.webhook_id)
        except BackendError:
            pass
        finally:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None

    def __enter__(self) -> Wakeups:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def listen(connection: Connection, label: str, wanted: Callable[[str], bool] | None = None) -> Wakeups:
    """Subscribe a listener on 127.0.0.1 to `EVENTS`; `wanted(dataset_id)` says which datasets'
    events wake (all when None). BackendError when the server is not on this machine or the key
    may not manage webhooks (an owner's key may): the caller polls instead."""
    from argilla._models import WebhookModel

    if not is_local(connection.url):
        raise BackendError(f"{connection.url} is not on this machine, so it cannot call a listener here.")
    _forget_dead(connection, label)
    wakeups = Wakeups(connection, wanted)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(wakeups.deliver(body, dict(self.headers.items())))
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # nothing on the researcher's terminal for each delivery

    wakeups._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=wakeups._server.serve_forever, name="labelbook-webhooks", daemon=True).start()
    wakeups.url = f"http://127.0.0.1:{wakeups._server.server_address[1]}/events"
    try:
        with connection.errors("subscribing to the server's webhooks"):
            made = connection.client.api.webhooks.create(
                WebhookModel(
                    url=wakeups.url, events=list(EVENTS), description=_description(label, os.getpid())
                )
            )
    except BackendError:
        wakeups.close()
        raise
    wakeups.webhook_id, wakeups._secret = str(made.id), made.secret or ""
    return wakeups


def _description(label: str, pid: int) -> str:
    return f"labelbook watch: {label} (pid {pid})"


def _dataset_id(payload: Any) -> str:
    data = payload.get("data") if isinstance(payload, dict) else None
    dataset = data.get("dataset") if isinstance(data, dict) else None
    return str(dataset.get("id", "")) if isinstance(dataset, dict) else ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead(connection: Connection, label: str) -> None:
    """Delete the webhooks of watches of `label` whose process is gone (killed, crashed)."""
    with connection.errors("listing webhooks"):
        listed = connection.client.api.webhooks.list()
    for webhook in listed:
        found = _MARK.match(webhook.description or "")
        if found and found["label"] == label and not _alive(int(found["pid"])):
            with connection.errors("deleting a webhook left by a stopped watch"):
                connection.client.api.webhooks.delete(str(webhook.id))
