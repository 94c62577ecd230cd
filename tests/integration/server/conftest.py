"""A webhook subscriber on 127.0.0.1 that records what the server's rq worker delivers to it; a workspace
with annotator accounts (`make_team`); a dataset of
records with random vectors (`make_vector_dataset`)."""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class WebhookLog:
    """Deliveries by record id; `failures` first attempts per record are answered 503."""

    url: str = ""
    failures: int = 0
    attempts: Counter[str] = field(default_factory=Counter)
    delivered: set[str] = field(default_factory=set)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, record id, status) delivered
    cond: threading.Condition = field(default_factory=threading.Condition)

    def receive(self, payload: dict[str, Any]) -> int:
        record_id = str(payload["data"]["id"])
        with self.cond:
            self.attempts[record_id] += 1
            if self.attempts[record_id] <= self.failures:
                return 503
            self.delivered.add(record_id)
            self.events.append((payload["type"], record_id, str(payload["data"].get("status"))))
            self.cond.notify_all()
            return 204

    def wait_for(self, predicate: Callable[[], bool], stalled_after: float, limit: float) -> bool:
        """Wait until `predicate` holds, while deliveries keep coming (none for `stalled_after` s ends it)."""
        deadline = time.monotonic() + limit
        with self.cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if not self.cond.wait(timeout=min(stalled_after, remaining)):
                    return predicate()  # nothing arrived for `stalled_after` s (or the limit came)
            return True


@pytest.fixture
def webhook_log() -> Iterator[WebhookLog]:
    log = WebhookLog()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(log.receive(json.loads(body)))
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    log.url = f"http://127.0.0.1:{httpd.server_address[1]}/events"
    try:
        yield log
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class Team:
    """A workspace `{prefix}-{tag}` and its annotators `{prefix}-{tag}-{n}` (password `pw-{tag}-secret`)."""

    tag: str
    workspace: Any
    annotators: list[Any]


@pytest.fixture(scope="session")
def make_team(argilla_client: Any) -> Callable[[str, int], Team]:
    import argilla as rg

    def make(prefix: str, annotators: int) -> Team:
        tag = uuid.uuid4().hex[:8]
        workspace = rg.Workspace(name=f"{prefix}-{tag}", client=argilla_client).create()
        users = []
        for n in range(annotators):
            user = rg.User(
                username=f"{prefix}-{tag}-{n}",
                password=f"pw-{tag}-secret",
                role="annotator",
                client=argilla_client,
            ).create()
            user.add_to_workspace(workspace)
            users.append(user)
        return Team(tag, workspace, users)

    return make


def stored_vectors(database: Any, settings_id: str) -> tuple[list[str], Any]:
    """Every record id and vector of the settings, in insertion order, read with json (not the cache's
    parser)."""
    import json
    import sqlite3

    import numpy as np

    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT v.record_id, v.value FROM vectors AS v JOIN records AS r ON r.id = v.record_id "
            "WHERE v.vector_settings_id = ? ORDER BY r.rowid",
            (settings_id,),
        ).fetchall()
    return [row[0] for row in rows], np.array([json.loads(row[1]) for row in rows])


@pytest.fixture(scope="session")
def make_vector_dataset(lb_server: Any, argilla_client: Any) -> Callable[..., dict[str, Any]]:
    """A dataset of `records` records `r0`, `r1`... each with a random `dimensions`-d vector "emb"
    (normal noise, or around `clusters` centres: closer to real embeddings)."""
    import sqlite3
    from types import SimpleNamespace

    import argilla as rg
    import numpy as np

    from labelbook.server import ServerPaths

    def make(prefix: str, records: int, dimensions: int, seed: int, clusters: int = 0) -> dict[str, Any]:
        tag = uuid.uuid4().hex[:8]
        workspace = rg.Workspace(name=f"{prefix}-{tag}", client=argilla_client).create()
        dataset = rg.Dataset(
            name=f"{prefix}-{tag}",
            workspace=workspace,
            settings=rg.Settings(
                fields=[rg.TextField("text")],
                questions=[rg.LabelQuestion("label", labels=["a", "b"])],
                vectors=[rg.VectorField(name="emb", dimensions=dimensions)],
            ),
            client=argilla_client,
        ).create()
        rng = np.random.default_rng(seed)
        values = rng.normal(size=(records, dimensions))
        if clusters:
            centres = rng.normal(size=(clusters, dimensions))
            values = centres[rng.integers(0, clusters, records)] + 0.5 * values
        values = values.round(4)
        dataset.records.log(
            [
                rg.Record(id=f"r{i}", fields={"text": f"item {i}"}, vectors={"emb": values[i].tolist()})
                for i in range(records)
            ]
        )
        database = ServerPaths(lb_server.data_dir).database
        with sqlite3.connect(database) as conn:
            (settings_id,) = conn.execute(
                "SELECT id FROM vectors_settings WHERE dataset_id = ?", (dataset.id.hex,)
            ).fetchone()
            by_external = dict(
                conn.execute("SELECT external_id, id FROM records WHERE dataset_id = ?", (dataset.id.hex,))
            )
        return {
            "data_dir": lb_server.data_dir,
            "database": database,
            "rg_dataset": dataset,
            "dataset": SimpleNamespace(id=dataset.id),
            "settings": SimpleNamespace(id=uuid.UUID(settings_id)),
            "settings_id": settings_id,
            "values": values,
            "record_ids": [by_external[f"r{i}"] for i in range(records)],
            # The vectors as stored now (tests change them), from this or another copy of the database.
            "stored": lambda copy=None: stored_vectors(copy or database, settings_id),
        }

    return make
