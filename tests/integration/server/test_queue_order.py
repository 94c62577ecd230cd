"""An annotator's queue through the REST API: a stable order per user, different per user, paged exactly.

The order is read from an index (the dataset's records by id, from a per-user start) and the total
from the counts tables that triggers keep (docs/search-engine.md, "What a search runs"); these
tests hold both to what the web UI relies on, as annotators answer and records come and go.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import argilla as rg
import httpx
import pytest

from labelbook.server import ServerPaths
from labelbook.server.engine import ensure_schema
from labelbook.server.statements import _user_start

PENDING = {
    "filters": {
        "and": [
            {"type": "terms", "scope": {"entity": "response", "property": "status"}, "values": ["pending"]}
        ]
    }
}
RECORDS = 120


@dataclasses.dataclass
class Queue:
    dataset_id: str
    owner: httpx.Client
    annotators: list[httpx.Client]
    annotator_ids: list[uuid.UUID]
    database: str

    def search(
        self, who: httpx.Client, body: dict[str, Any], limit: int, offset: int = 0
    ) -> tuple[list[str], int]:
        response = who.post(
            f"/api/v1/me/datasets/{self.dataset_id}/records/search",
            json=body,
            params={"limit": limit, "offset": offset},
        )
        assert response.status_code == 200, response.text
        data = response.json()
        return [item["record"]["external_id"] for item in data["items"]], data["total"]

    def paged(self, who: httpx.Client, body: dict[str, Any] = PENDING, size: int = 7) -> list[str]:
        ids: list[str] = []
        offset = 0
        while True:
            page, _ = self.search(who, body, size, offset)
            ids.extend(page)
            if len(page) < size:
                return ids
            offset += size

    def record_ids(self) -> dict[str, str]:
        with sqlite3.connect(self.database) as conn:
            rows = conn.execute(
                "SELECT external_id, id FROM records WHERE dataset_id = ?", (uuid.UUID(self.dataset_id).hex,)
            ).fetchall()
        return {external: str(uuid.UUID(record_id)) for external, record_id in rows}


@pytest.fixture(scope="module")
def queue(lb_server: Any, argilla_client: rg.Argilla) -> Iterator[Queue]:
    suffix = uuid.uuid4().hex[:8]
    workspace = rg.Workspace(name=f"queue-order-{suffix}", client=argilla_client).create()
    owner = httpx.Client(base_url=lb_server.url, headers={"X-Argilla-Api-Key": lb_server.api_key}, timeout=30)
    clients, ids = [], []
    for i in range(4):
        user = rg.User(
            username=f"queue-{suffix}-{i}",
            password="annotator-password",
            role="annotator",
            client=argilla_client,
        ).create()
        user.add_to_workspace(workspace)
        key = owner.get(f"/api/v1/users/{user.id}").json()["api_key"]
        clients.append(httpx.Client(base_url=lb_server.url, headers={"X-Argilla-Api-Key": key}, timeout=30))
        ids.append(user.id)
    settings = rg.Settings(
        fields=[rg.TextField(name="text")],
        questions=[rg.LabelQuestion(name="label", labels=["yes", "no"])],
        metadata=[rg.TermsMetadataProperty(name="half")],
    )
    dataset = rg.Dataset(
        name=f"queue-order-{suffix}", workspace=workspace, settings=settings, client=argilla_client
    ).create()
    # Annotator 0 answered every fourth record; annotator 1 drafted every fifth.
    dataset.records.log(
        [
            rg.Record(
                id=f"q{i:03d}",
                fields={"text": f"item {i}"},
                metadata={"half": "a" if i % 2 else "b"},
                responses=([rg.Response("label", "yes", user_id=ids[0])] if i % 4 == 0 else [])
                + ([rg.Response("label", "no", user_id=ids[1], status="draft")] if i % 5 == 0 else []),
            )
            for i in range(RECORDS)
        ]
    )
    try:
        yield Queue(str(dataset.id), owner, clients, ids, str(ServerPaths(lb_server.data_dir).database))
    finally:
        for client in (owner, *clients):
            client.close()


def test_pages_of_a_queue_neither_repeat_nor_skip_and_the_order_is_stable(queue: Queue) -> None:
    for who, answered in (
        (queue.annotators[0], {i for i in range(RECORDS) if i % 4 == 0}),
        (queue.annotators[2], set()),
    ):
        whole, total = queue.search(who, PENDING, limit=RECORDS)
        assert total == RECORDS - len(answered)
        assert sorted(whole) == [f"q{i:03d}" for i in range(RECORDS) if i not in answered]
        assert whole != sorted(whole)  # shuffled
        assert queue.paged(who) == whole
        assert queue.search(who, PENDING, limit=RECORDS)[0] == whole
        # A page past the end is empty and still knows the total.
        assert queue.search(who, PENDING, limit=10, offset=RECORDS) == ([], total)


def test_each_annotator_starts_somewhere_else(queue: Queue) -> None:
    orders = [queue.search(who, {}, limit=RECORDS)[0] for who in queue.annotators]
    assert all(sorted(order) == [f"q{i:03d}" for i in range(RECORDS)] for order in orders)
    # Each order is the dataset's id order rotated to the user's own start. Two users whose starts
    # fall between the same two ids share an order (1 chance in 25 for 4 users and 120 records),
    # so the test checks the rotation, not that the orders differ.
    ids = queue.record_ids()
    by_id = sorted(ids, key=lambda external: uuid.UUID(ids[external]).hex)
    starts = [_user_start(user_id, uuid.UUID(queue.dataset_id).hex) for user_id in queue.annotator_ids]
    assert len(set(starts)) == len(starts)
    for order, start in zip(orders, starts, strict=True):
        cut = sum(1 for external in by_id if uuid.UUID(ids[external]).hex < start)
        assert order == by_id[cut:] + by_id[:cut]
    assert len({order[0] for order in orders}) > 1  # all four in one gap: 1 chance in ~1.7 million


def test_answering_takes_a_record_out_of_the_queue_and_leaves_the_rest_in_order(queue: Queue) -> None:
    who = queue.annotators[3]
    before, total = queue.search(who, PENDING, limit=RECORDS)
    ids = queue.record_ids()
    for external in before[:3]:
        response = who.post(
            f"/api/v1/records/{ids[external]}/responses",
            json={"values": {"label": {"value": "yes"}}, "status": "submitted"},
        )
        assert response.status_code == 201, response.text
    after, total_after = queue.search(who, PENDING, limit=RECORDS)
    assert after == before[3:]
    assert total_after == total - 3
    # Record status narrows the same order (the answered records completed, so they left "pending").
    record_pending = {
        "filters": {
            "and": [
                *PENDING["filters"]["and"],
                {"type": "terms", "scope": {"entity": "record", "property": "status"}, "values": ["pending"]},
            ]
        }
    }
    narrowed, narrowed_total = queue.search(who, record_pending, limit=RECORDS)
    assert narrowed_total == len(narrowed)
    assert narrowed == [i for i in after if i in set(narrowed)]
    # Another annotator's queue still holds the records annotator 3 answered.
    assert set(before[:3]) <= set(queue.search(queue.annotators[2], PENDING, limit=RECORDS)[0])


def counts(conn: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
    """(the counts tables, the same counted from argilla's tables), zero rows left out."""
    kept = (
        sorted(conn.execute("SELECT dataset_id, status, n FROM lb_record_count WHERE n != 0").fetchall()),
        sorted(
            conn.execute(
                "SELECT dataset_id, user_id, record_status, status, n "
                "FROM lb_user_response_count WHERE n != 0"
            ).fetchall()
        ),
    )
    truth = (
        sorted(conn.execute("SELECT dataset_id, status, count(*) FROM records GROUP BY 1, 2").fetchall()),
        sorted(
            conn.execute(
                "SELECT r.dataset_id, rs.user_id, r.status, rs.status, count(*) FROM responses AS rs "
                "JOIN records AS r ON r.id = rs.record_id GROUP BY 1, 2, 3, 4"
            ).fetchall()
        ),
    )
    return kept, truth


def test_the_counts_follow_answers_status_changes_and_deletions(queue: Queue) -> None:
    ids = queue.record_ids()
    # Deleting records deletes their responses by cascade (annotator 0 answered q000, q004, q008).
    response = queue.owner.delete(
        f"/api/v1/datasets/{queue.dataset_id}/records",
        params={"ids": ",".join(ids[e] for e in ("q000", "q004", "q001", "q005"))},
    )
    assert response.status_code == 204, response.text
    # A response deleted on its own: its record goes back to pending.
    with sqlite3.connect(queue.database) as conn:
        response_id = conn.execute(
            "SELECT id FROM responses WHERE record_id = ? AND user_id = ?",
            (uuid.UUID(ids["q008"]).hex, queue.annotator_ids[0].hex),
        ).fetchone()[0]
    assert queue.annotators[0].delete(f"/api/v1/responses/{uuid.UUID(response_id)}").status_code == 200
    with sqlite3.connect(queue.database) as conn:
        kept, truth = counts(conn)
        by_status = dict(
            conn.execute(
                "SELECT status, count(*) FROM records WHERE dataset_id = ? GROUP BY 1",
                (uuid.UUID(queue.dataset_id).hex,),
            ).fetchall()
        )
    assert kept == truth
    progress = queue.owner.get(f"/api/v1/datasets/{queue.dataset_id}/progress")
    assert progress.status_code == 200, progress.text
    assert (progress.json()["total"], progress.json()["completed"], progress.json()["pending"]) == (
        RECORDS - 4,
        by_status.get("completed", 0),
        by_status.get("pending", 0),
    )
    whole, total = queue.search(queue.annotators[0], PENDING, limit=RECORDS)
    assert total == len(whole) == RECORDS - 4 - len([i for i in range(9, RECORDS) if i % 4 == 0])


def test_ensure_schema_fills_the_counts_of_an_existing_database(
    lb_server: Any, queue: Queue, tmp_path: Any
) -> None:
    source = sqlite3.connect(queue.database)
    copy = tmp_path / "copy.db"
    with sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    with sqlite3.connect(copy) as conn:
        for (trigger,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'lb_count_%'"
        ).fetchall():
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE lb_record_count")
        conn.execute("DROP TABLE lb_user_response_count")
        # The counts of a database before response statuses were counted: replaced.
        conn.execute(
            "CREATE TABLE lb_response_count (dataset_id, user_id, record_status, n, "
            "PRIMARY KEY (dataset_id, user_id, record_status))"
        )
        conn.execute(
            "CREATE TRIGGER lb_count_responses_ai AFTER INSERT ON responses BEGIN "
            "INSERT INTO lb_response_count VALUES (NULL, NULL, NULL, 1); END"
        )
        conn.execute("DROP INDEX lb_ix_records_dataset_order")
    ensure_schema(copy)
    ensure_schema(copy)
    with sqlite3.connect(copy) as conn:
        kept, truth = counts(conn)
        assert kept == truth and truth[0] and truth[1]
        assert not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name IN ('lb_response_count', 'lb_count_responses_ai')"
        ).fetchone()
        assert conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'lb_ix_records_dataset_order'"
        ).fetchone()


@pytest.mark.parametrize(
    ("who", "scope", "value"),
    [
        (0, "response", "draft"),
        (1, "response", "draft"),
        (1, "response", "submitted"),
        (3, "response", "submitted"),
        (2, "metadata", "a"),
    ],
)
def test_filters_page_through_the_users_order_restricted_to_their_matches(
    queue: Queue, who: int, scope: str, value: str
) -> None:
    annotator = queue.annotators[who]
    dataset_id = uuid.UUID(queue.dataset_id).hex
    with sqlite3.connect(queue.database) as conn:
        if scope == "response":
            search_scope = {"entity": "response", "property": "status"}
            rows = conn.execute(
                "SELECT r.external_id FROM responses AS rs JOIN records AS r ON r.id = rs.record_id "
                "WHERE r.dataset_id = ? AND rs.user_id = ? AND rs.status = ?",
                (dataset_id, queue.annotator_ids[who].hex, value),
            ).fetchall()
        else:
            search_scope = {"entity": "metadata", "metadata_property": "half"}
            rows = conn.execute(
                "SELECT external_id FROM records "
                "WHERE dataset_id = ? AND json_extract(metadata, '$.half') = ?",
                (dataset_id, value),
            ).fetchall()
    expected = {row[0] for row in rows}
    search = {"filters": {"and": [{"type": "terms", "scope": search_scope, "values": [value]}]}}
    order, _ = queue.search(annotator, {}, limit=RECORDS)
    whole, total = queue.search(annotator, search, limit=RECORDS)
    assert whole == [i for i in order if i in expected]
    assert total == len(expected)
    assert queue.paged(annotator, search) == whole
    assert queue.search(annotator, search, limit=10, offset=RECORDS) == ([], total)
