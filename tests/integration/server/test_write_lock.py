"""A write that finds SQLite's write lock taken waits for it instead of failing.

Two bulk writes into one database (two batches of one publish, a publish beside annotators
submitting, the worker beside the API) meet at SQLite's single write lock. A transaction that
has already read when it asks for the lock cannot wait for it: SQLite answers "database is
locked" at once. Inserting a record reads before it writes (the text index's FTS5 table loads its
configuration when another connection has written since), so every write transaction of the
server's connections starts with `BEGIN IMMEDIATE` (labelbook/server/_bootstrap.py) and waits up
to the busy timeout like any other.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import uuid
from typing import Any

import argilla as rg
import httpx

from labelbook.server import ServerPaths

HOLD = 1.5  # seconds the test keeps the write lock: far below the server's 30 s busy timeout
BULK = 20
WARM = 4


def test_a_bulk_of_records_waits_for_a_write_lock_held_elsewhere(
    lb_server: Any, argilla_client: rg.Argilla
) -> None:
    tag = uuid.uuid4().hex[:8]
    workspace = rg.Workspace(name=f"lock-{tag}", client=argilla_client).create()
    dataset = rg.Dataset(
        name=f"lock-{tag}",
        workspace=workspace,
        settings=rg.Settings(
            fields=[rg.TextField("text")], questions=[rg.LabelQuestion("label", labels=["a", "b"])]
        ),
        client=argilla_client,
    ).create()
    database = ServerPaths(lb_server.data_dir).database
    log = lb_server.data_dir / "logs" / "api.log"
    locked_before = log.read_text(errors="replace").count("database is locked")
    owner = httpx.Client(
        base_url=lb_server.url, headers={"X-Argilla-Api-Key": lb_server.api_key}, timeout=60, trust_env=False
    )

    def bulk(first: int) -> httpx.Response:
        items = [
            {"external_id": f"{tag}-{first + n}", "fields": {"text": f"record {first + n}"}}
            for n in range(BULK)
        ]
        return owner.put(f"/api/v1/datasets/{dataset.id}/records/bulk", json={"items": items})

    # The API's pooled connections prepare (and cache) the insert of a bulk of this size.
    for round_ in range(1, WARM + 1):
        assert bulk(round_ * BULK).status_code == 200
    replies: list[httpx.Response] = []

    with contextlib.closing(sqlite3.connect(database, timeout=30, isolation_level=None)) as other:
        # Another connection changes the schema (as the search engine does when a dataset gets a
        # metadata property): the cached insert is prepared again when it next runs, and the text
        # index's FTS5 table reads its configuration then, inside the transaction, before the write.
        other.execute(f"CREATE TABLE lb_lock_probe_{tag} (x)")
        other.execute(f"DROP TABLE lb_lock_probe_{tag}")
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE datasets SET updated_at = updated_at WHERE id = ?", (dataset.id.hex,))
        sender = threading.Thread(target=lambda: replies.append(bulk(0)))
        began = time.monotonic()
        sender.start()
        time.sleep(HOLD)
        answered_while_held = bool(replies)
        other.execute("COMMIT")
        sender.join(timeout=60)
    took = time.monotonic() - began
    owner.close()

    assert replies, "the bulk request did not return within 60 s"
    assert replies[0].status_code == 200, replies[0].text[:500]
    assert not answered_while_held, "the request finished while the lock was held: it never waited"
    assert HOLD <= took < HOLD + 20, f"{took:.1f} s"
    with contextlib.closing(sqlite3.connect(database)) as conn:
        stored = conn.execute(
            "SELECT COUNT(*) FROM records WHERE dataset_id = ?", (dataset.id.hex,)
        ).fetchone()[0]
    assert stored == (WARM + 1) * BULK
    assert log.read_text(errors="replace").count("database is locked") == locked_before
